"""The embedded local PEC provider ("sandbox"): real SMTP and IMAP on loopback, PEC receipts by the rules.

    from pecmass_xl.sandbox import Sandbox
    with Sandbox.start(tmp_dir, time_scale=3600) as sb:
        sb.connection      # same content as <dir>/connessione.json
        ...

See `server.Sandbox` for the API, `rules` for what each recipient address does, `faults` for the
injectable misbehaviours.
"""

from pecmass_xl.sandbox.connection import read_connection
from pecmass_xl.sandbox.faults import KINDS as FAULT_KINDS
from pecmass_xl.sandbox.rules import SENDER
from pecmass_xl.sandbox.server import Sandbox

__all__ = ["Sandbox", "read_connection", "FAULT_KINDS", "SENDER"]
