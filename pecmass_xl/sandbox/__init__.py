"""The embedded local PEC provider ("sandbox"): real SMTP and IMAP on loopback, PEC receipts by the rules.

    from pecmass_xl.sandbox import Sandbox
    with Sandbox.start(tmp_dir, time_scale=3600) as sb:
        sb.connection      # same content as <dir>/connessione.json
        ...

See `server.Sandbox` for the API, `rules` for what each recipient address does, `faults` for the
injectable misbehaviours.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pecmass_xl.sandbox.connection import read_connection
    from pecmass_xl.sandbox.faults import KINDS as FAULT_KINDS
    from pecmass_xl.sandbox.rules import SENDER
    from pecmass_xl.sandbox.server import Sandbox

__all__ = ["Sandbox", "read_connection", "FAULT_KINDS", "SENDER"]

_LAZY = {"Sandbox": ("server", "Sandbox"), "read_connection": ("connection", "read_connection"),
         "FAULT_KINDS": ("faults", "KINDS"), "SENDER": ("rules", "SENDER")}


def __getattr__(name: str):
    """Names are imported on first use: the servers pull in aiosmtpd and pymap, which a `pecmass`
    command that only needs one of the small modules here (e.g. `--help`) should not pay for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
