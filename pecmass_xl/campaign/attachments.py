"""Attachment files: where they are, whether providers accept them, how big they get once encoded."""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path

from pecmass_xl.core.italian import describe_error

FORBIDDEN_EXTENSIONS = frozenset(
    "exe bat cmd com scr js jse vbs vbe ps1 psm1 msi msp jar lnk hta pif cpl reg wsf wsh scf inf dll".split()
)
EXTRA_TYPES = {
    ".p7m": "application/pkcs7-mime",
    ".p7s": "application/pkcs7-signature",
    ".xml": "application/xml",
    ".eml": "message/rfc822",
}


@dataclass(frozen=True)
class Attachment:
    path: Path
    name: str
    size: int

    @property
    def mime_type(self) -> str:
        suffix = self.path.suffix.lower()
        if suffix in EXTRA_TYPES:
            return EXTRA_TYPES[suffix]
        guessed, _ = mimetypes.guess_type(self.name)
        return guessed or "application/octet-stream"


def split_paths(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def encoded_size(raw_size: int) -> int:
    """Size of a base64 body with 76-character lines and CRLF (what the provider counts)."""
    chars = 4 * ((raw_size + 2) // 3)
    return chars + 2 * ((chars + 75) // 76)


def inspect(reference: str, folder: Path) -> tuple[Attachment | None, str | None, str | None]:
    """(attachment, problem code, Italian message) for a path as written in the sheet."""
    if any(ord(ch) < 32 for ch in reference):
        return None, "header_value_control", "Il percorso dell'allegato contiene a capo o caratteri di controllo."
    path = Path(reference)
    if not path.is_absolute():
        path = folder / path
    name = path.name
    if path.suffix.lower().lstrip(".") in FORBIDDEN_EXTENSIONS:
        return None, "attachment_forbidden_type", f"«{name}»: i file .{path.suffix.lower().lstrip('.')} sono rifiutati dai gestori PEC. Usate pdf, p7m, xml o documenti Office."
    if not path.exists():
        return None, "attachment_missing", f"L'allegato «{reference}» non esiste (cercato in {path.parent})."
    if not path.is_file():
        return None, "attachment_not_file", f"«{reference}» non è un file."
    if not os.access(path, os.R_OK):
        return None, "attachment_unreadable", f"L'allegato «{reference}» non si può leggere (permessi)."
    try:
        with path.open("rb") as handle:
            handle.read(1)
        size = path.stat().st_size
    except OSError as exc:
        return None, "attachment_unreadable", f"L'allegato «{reference}» non si può leggere ({describe_error(exc)})."
    return Attachment(path, name, size), None, None
