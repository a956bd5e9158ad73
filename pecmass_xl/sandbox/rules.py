"""Which addresses are PEC mailboxes of the sandbox, and what happens to each recipient.

The local part of a recipient chooses its fate, so a workbook can exercise every outcome:
see `recipient_fate` and the README section on the sandbox for the full table.
"""

from __future__ import annotations

from dataclasses import dataclass

SENDER = "mittente@pec.sandbox.test"
PROVIDER_DOMAIN = "pec.sandbox.test"
PEC_DOMAIN_SUFFIX = ".pec.test"
NO_DOMAIN = "nodominio.pec.test"
SERVICE_ADDRESS = "posta-certificata@" + PROVIDER_DOMAIN  # From of every receipt; the signer's SAN

# Simulated delays, in seconds.
DELIVERY_DELAY = 1.0
SLOW_DELIVERY_DELAY = 2 * 3600.0
FIRST_TIMEOUT_NOTICE = 12 * 3600.0
FINAL_TIMEOUT_NOTICE = 24 * 3600.0
BOUNCE_DELAY = 10 * 60.0

# Delivery outcomes.
DELIVER = "deliver"  # envelope into the recipient's INBOX, then avvenuta-consegna
FAIL = "fail"  # errore-consegna
SILENT = "silent"  # nothing, then preavviso-errore-consegna at 12 h and 24 h
EXTERNAL = "external"  # ordinary mail: envelope handed to the "outside world", no receipt
BOUNCE = "bounce"  # ordinary mail that bounces: anomaly envelope wrapping a DSN


@dataclass(frozen=True)
class Fate:
    """What the sandbox does for one recipient of an accepted message."""

    outcome: str
    delay: float = DELIVERY_DELAY
    errore: str = "nessuno"  # daticert `errore` of an errore-consegna
    errore_esteso: str = ""  # daticert `errore-esteso` (verbatim into the text too)
    errore_esteso_en: str = ""  # the English half of the bilingual text


def normalise(address: str) -> str:
    return address.strip().lower()


def split(address: str) -> tuple[str, str]:
    local, _, domain = normalise(address).rpartition("@")
    return local, domain


def is_pec_domain(domain: str) -> bool:
    """PEC domains of the sandbox: its own and every domain ending in `.pec.test`."""
    domain = domain.lower()
    return domain == PROVIDER_DOMAIN or domain.endswith(PEC_DOMAIN_SUFFIX)


def is_pec_address(address: str) -> bool:
    return is_pec_domain(split(address)[1])


def mailbox_exists(address: str) -> bool:
    """A PEC mailbox that can log in: created on first use, except the rule addresses that cannot exist."""
    local, domain = split(address)
    if not local or not is_pec_domain(domain) or domain == NO_DOMAIN:
        return False
    if local.startswith("inesistente") or local.startswith("aruba-inesistente"):
        return False
    return f"{local}@{domain}" != SERVICE_ADDRESS


def recipient_fate(address: str) -> Fate:
    """The rule for one recipient, chosen by its domain and local part (case-insensitive prefixes)."""
    local, domain = split(address)
    if not is_pec_domain(domain):
        if local.startswith("rimbalzo"):
            return Fate(BOUNCE, delay=BOUNCE_DELAY)
        return Fate(EXTERNAL)
    if domain == NO_DOMAIN:
        return Fate(
            FAIL,
            errore="no-dominio",
            errore_esteso="5.1.2 - Gestore PEC sandbox - dominio inesistente",
            errore_esteso_en="5.1.2 - Gestore PEC sandbox - Domain not found",
        )
    if local.startswith("aruba-inesistente"):
        # What Aruba really answers for a mailbox that does not exist (fixture SimoneP91_errore-consegna).
        return Fate(
            FAIL,
            errore="altro",
            errore_esteso="5.1.1 - Gestore PEC sandbox - indirizzo non valido",
            errore_esteso_en="5.1.1 - Gestore PEC sandbox - Invalid Address",
        )
    if local.startswith("inesistente"):
        return Fate(
            FAIL,
            errore="no-dest",
            errore_esteso="5.1.1 - Gestore PEC sandbox - utente inesistente",
            errore_esteso_en="5.1.1 - Gestore PEC sandbox - User unknown",
        )
    if local.startswith("piena"):
        # Synthetic wording: the official AgID code table (Nota 12) was not found.
        return Fate(
            FAIL,
            errore="altro",
            errore_esteso="5.2.2 - casella piena",
            errore_esteso_en="5.2.2 - mailbox full",
        )
    if local.startswith("lenta"):
        return Fate(DELIVER, delay=SLOW_DELIVERY_DELAY)
    if local.startswith("silenzio"):
        return Fate(SILENT, delay=FIRST_TIMEOUT_NOTICE)
    return Fate(DELIVER)
