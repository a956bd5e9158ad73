"""Attachment files: where they are, whether providers accept them, how big they get once encoded."""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pecmass_xl.campaign.header_values import header_value_problem, strip_invisible
from pecmass_xl.core.errors import MessageNotBuilt
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
        suffix = Path(self.name).suffix.lower()  # the name sent, not the target of a link
        if suffix in EXTRA_TYPES:
            return EXTRA_TYPES[suffix]
        guessed, _ = mimetypes.guess_type(self.name)
        return guessed or "application/octet-stream"


def format_size(size: int) -> str:
    """`12,4 MB`, `3,1 KB`, `512 byte`: sizes as the user reads them."""
    if size < 1024:
        return f"{size} byte"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB".replace(".", ",")
    return f"{size / 1024 / 1024:.1f} MB".replace(".", ",")


def split_paths(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def encoded_size(raw_size: int) -> int:
    """Size of a base64 body with 76-character lines and CRLF (what the provider counts)."""
    chars = 4 * ((raw_size + 2) // 3)
    return chars + 2 * ((chars + 75) // 76)


SYSTEM_FOLDERS = tuple(Path(p) for p in ("/proc", "/sys", "/dev"))
FOLDERS_HINT = "Cartelle allegati"  # the Impostazioni label that allows more folders (contract.SET_ATTACHMENT_FOLDERS)


class AttachmentError(MessageNotBuilt):
    """An attachment that can no longer be read as it was checked (the message is Italian)."""

    code = "attachment_unreadable"


def _inside(path: Path, folders: Iterable[Path]) -> bool:
    return any(path == folder or path.is_relative_to(folder) for folder in folders)


def _resolved(folder: Path) -> Path:
    try:
        return folder.resolve()
    except OSError:
        return folder.absolute()


def inspect(reference: str, folder: Path, allowed: Iterable[Path] = ()) -> tuple[Attachment | None, str | None, str | None]:
    """(attachment, problem code, Italian message) for a path as written in the sheet.

    Symlinks are resolved before any decision; only regular files inside the workbook's folder
    (or a folder listed under «Cartelle allegati») pass, never anything under /proc, /sys or /dev.
    """
    found = header_value_problem(reference)
    if found is not None:
        code, reason = found
        return None, code, f"Il percorso dell'allegato {reason}."
    written = Path(reference)
    path = written if written.is_absolute() else folder / written
    name, _removed = strip_invisible(path.name)
    if path.suffix.lower().lstrip(".") in FORBIDDEN_EXTENSIONS:
        return None, "attachment_forbidden_type", f"«{name}»: i file .{path.suffix.lower().lstrip('.')} sono rifiutati dai gestori PEC. Usate pdf, p7m, xml o documenti Office."
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        return None, "attachment_missing", f"L'allegato «{reference}» non esiste (cercato in {path.parent})."
    except (OSError, RuntimeError) as exc:  # a symlink loop, a folder without permission
        return None, "attachment_unreadable", f"L'allegato «{reference}» non si può raggiungere ({describe_error(exc)})."
    if _inside(real, SYSTEM_FOLDERS):
        return None, "attachment_not_file", f"«{reference}» porta a {real}, un file di sistema e non un documento: non si allega."
    try:
        info = real.stat()
    except OSError as exc:
        return None, "attachment_unreadable", f"L'allegato «{reference}» non si può leggere ({describe_error(exc)})."
    if not stat.S_ISREG(info.st_mode):
        kind = "una cartella" if stat.S_ISDIR(info.st_mode) else "un file speciale (dispositivo, pipe o socket)"
        return None, "attachment_not_file", f"«{reference}» non è un file: è {kind}."
    places = [_resolved(folder)] + [_resolved(p) for p in allowed]
    if not _inside(real, places):
        shown = f"«{reference}»" + (f" (collegamento a {real})" if real != path.absolute() else "")
        return None, "attachment_outside", (
            f"L'allegato {shown} è fuori dalla cartella della cartella di lavoro ({places[0]}): spostatelo lì o in una "
            f"sua sottocartella, oppure aggiungete «{real.parent}» all'impostazione «{FOLDERS_HINT}»."
        )
    if not os.access(real, os.R_OK):
        return None, "attachment_unreadable", f"L'allegato «{reference}» non si può leggere (permessi)."
    try:
        with real.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        return None, "attachment_unreadable", f"L'allegato «{reference}» non si può leggere ({describe_error(exc)})."
    return Attachment(real, name, info.st_size), None, None


def changed_since_check(attachment: Attachment) -> str | None:
    """Why the checked file can no longer be sent as it was (no longer a regular file, new size)."""
    try:
        info = attachment.path.stat()
    except OSError as exc:
        return f"L'allegato «{attachment.name}» non si può più leggere ({describe_error(exc)})."
    if not stat.S_ISREG(info.st_mode):
        return f"«{attachment.name}» non è più un file normale."
    if info.st_size != attachment.size:
        return f"L'allegato «{attachment.name}» è cambiato dopo il controllo ({attachment.size} byte allora, {info.st_size} ora): ricontrollate e inviate di nuovo."
    return None


def read_attachment(attachment: Attachment) -> bytes:
    """The bytes sent: read from the checked file, refused if it is no longer the file checked.

    The size that counts is the bytes actually read (a file may claim 0 bytes and hold more).
    """
    try:
        with attachment.path.open("rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise AttachmentError(f"«{attachment.name}» non è più un file normale.")
            data = handle.read(attachment.size + 1)
    except OSError as exc:
        raise AttachmentError(f"L'allegato «{attachment.name}» non si può leggere ({describe_error(exc)}).") from exc
    if len(data) != attachment.size:
        raise AttachmentError(
            f"L'allegato «{attachment.name}» è cambiato dopo il controllo ({attachment.size} byte allora, "
            f"{'più di ' if len(data) > attachment.size else ''}{len(data)} ora): ricontrollate e inviate di nuovo."
        )
    return data
