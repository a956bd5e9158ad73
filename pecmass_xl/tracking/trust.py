"""Which signatures a campaign trusts: the PEC providers' chain, or the sandbox CA for `Sandbox`."""

from __future__ import annotations

from pecmass_xl.receipts.signature import SignatureVerifier
from pecmass_xl.settings import Settings

_cache: dict[str, SignatureVerifier] = {}


def verifier_for(settings: Settings) -> SignatureVerifier:
    key = str(settings.ca_file) if settings.is_sandbox and settings.ca_file else "pec"
    if key not in _cache:
        _cache[key] = SignatureVerifier(str(settings.ca_file)) if key != "pec" else SignatureVerifier(None)
    return _cache[key]
