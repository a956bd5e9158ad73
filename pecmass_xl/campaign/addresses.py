"""Recipient address checks: one plain addr-spec per cell, PEC-style (ASCII, dot-atom)."""

from __future__ import annotations

import re

from pecmass_xl.campaign.header_values import ENCODED_WORD, header_value_problem

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = rf"{_ATOM}(?:\.{_ATOM})*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})+"
ADDRESS = re.compile(rf"^{_LOCAL}@{_DOMAIN}$")
_SEPARATORS = re.compile(r"[,;\s]")
RESERVED_TLDS = ("test", "example", "invalid", "localhost")
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")


def is_valid_address(address: str) -> bool:
    if len(address) > 254 or not ADDRESS.match(address) or ENCODED_WORD.search(address):
        return False
    local, _, domain = address.rpartition("@")
    return len(local) <= 64 and not domain.split(".")[-1].isdigit()


def looks_like_several(address: str) -> bool:
    """Two addresses in one cell (`a@x.it; b@y.it`)."""
    return address.count("@") > 1 and bool(_SEPARATORS.search(address))


def is_reserved_domain(address: str) -> bool:
    domain = address.rpartition("@")[2].lower().rstrip(".")
    return domain.split(".")[-1] in RESERVED_TLDS or any(
        domain == d or domain.endswith("." + d) for d in RESERVED_DOMAINS
    )


def normalise(address: str) -> str:
    """Key for duplicate detection and the ledger: trimmed, case-insensitive domain and local part."""
    return address.strip().lower()


def address_problem(address: str, sandbox: bool) -> tuple[str, str] | None:
    """(code, Italian message) for a bad address, else None."""
    if not address.strip():
        return "address_missing", "L'indirizzo è vuoto: compilatelo o eliminate la riga."
    text = address.strip()
    if looks_like_several(text):
        return "address_multiple", f"«{text}» contiene più indirizzi: mettetene uno solo per riga (una PEC per destinatario)."
    unsafe = header_value_problem(text)
    if unsafe:
        return unsafe[0], f"L'indirizzo {unsafe[1]}: correggetelo."
    if text.startswith("<") or "<" in text or '"' in text:
        return "address_invalid", f"«{text}» non è un indirizzo semplice: scrivete solo nome@dominio, senza nomi né parentesi."
    if not is_valid_address(text):
        return "address_invalid", f"«{text}» non è un indirizzo PEC valido (forma attesa: nome@dominio.it)."
    if is_reserved_domain(text) and not sandbox:
        return "address_reserved_domain", f"«{text}» usa un dominio di prova, valido solo con il gestore Sandbox."
    return None
