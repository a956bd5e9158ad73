"""Which signatures a campaign trusts: the PEC providers' chain, or the sandbox CA for `Sandbox`.

The sandbox CA is the anchor for the `Sandbox` preset only (DESIGN §7), and it is the CA written by
the sandbox in its `connessione.json`, not `Certificato CA` / `PECMASS_CA_FILE`, which only change
whom the TLS connection trusts. Verifiers are kept per anchor (they memoise chains); an anchor file
that changed (a new sandbox in the same folder) gets a new verifier.
"""

from __future__ import annotations

from pathlib import Path

from pecmass_xl.campaign.settings import Settings, read_sandbox_connection
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.italian import describe_error
from pecmass_xl.receipts.signature import SignatureVerifier

_cache: dict[tuple, SignatureVerifier] = {}


def receipts_anchor(settings: Settings) -> Path | None:
    """The sandbox CA for the `Sandbox` preset; None = the PEC providers' anchor."""
    if not settings.is_sandbox:
        return None
    connection = read_sandbox_connection(settings.sandbox_dir) if settings.sandbox_dir else None
    if connection and connection.get("ca_file"):
        return Path(connection["ca_file"])
    return settings.ca_file


def verifier_for(settings: Settings) -> SignatureVerifier:
    anchor = receipts_anchor(settings)
    if anchor is None:
        key: tuple = ("pec",)
    else:
        try:
            stat = anchor.stat()
            key = ("file", str(anchor), stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = ("file", str(anchor), None, None)
    if key not in _cache:
        try:
            _cache[key] = SignatureVerifier(None) if anchor is None else SignatureVerifier(str(anchor))
        except (OSError, ValueError) as exc:
            raise CannotRun(f"Non riesco a leggere il certificato della sandbox «{anchor}» ({describe_error(exc)}): "
                            "riavviate la sandbox.") from None
    return _cache[key]
