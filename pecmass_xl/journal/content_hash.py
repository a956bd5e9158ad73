"""Hash of a message's normalised content: how the ledger recognises a row that lost its `ID invio`.

Only what the recipient would see as "the same PEC" goes in: the recipient address (lower-cased),
the subject, the text (line ends normalised) and the attachments (names and bytes, in order). What
changes between two renderings of the same message stays out: Message-ID, Date, MIME boundaries,
transfer encodings. Text is NFC-normalised because Excel, CSV files and the keyboard may produce
different Unicode forms of the same accented letters.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import BinaryIO

HASH_VERSION = b"pecmass-content-v1"
_CHUNK = 1 << 20

AttachmentData = bytes | bytearray | memoryview | str | PathLike | BinaryIO
"""An attachment's content: bytes, a path to read, or an open binary file (read to its end)."""


def _normalise_text(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", value)


def _normalise_recipient(recipient: str) -> str:
    return unicodedata.normalize("NFC", recipient.strip().lower())


def _feed_field(digest: hashlib._Hash, tag: bytes, data: bytes) -> None:
    # Tag and length prefix keep field boundaries unambiguous ("ab"+"c" never equals "a"+"bc").
    digest.update(tag + b":" + str(len(data)).encode("ascii") + b":")
    digest.update(data)


def _feed_stream(digest: hashlib._Hash, tag: bytes, stream: BinaryIO, size: int) -> None:
    digest.update(tag + b":" + str(size).encode("ascii") + b":")
    remaining = size
    while remaining > 0:
        chunk = stream.read(min(_CHUNK, remaining))
        if not chunk:
            raise OSError("attachment changed while it was being hashed")
        digest.update(chunk)
        remaining -= len(chunk)


def _feed_attachment(digest: hashlib._Hash, data: AttachmentData) -> None:
    if isinstance(data, (bytes, bytearray, memoryview)):
        _feed_field(digest, b"data", bytes(data))
    elif isinstance(data, (str, PathLike)):
        path = Path(data)
        with path.open("rb") as stream:
            size = path.stat().st_size
            _feed_stream(digest, b"data", stream, size)
    else:
        _feed_field(digest, b"data", data.read())


def content_hash(
    recipient: str,
    subject: str,
    text: str,
    attachments: Iterable[tuple[str, AttachmentData]] = (),
) -> str:
    """Hex SHA-256 of the normalised content; `attachments` is (file name, content) in message order."""
    digest = hashlib.sha256()
    digest.update(HASH_VERSION + b"\n")
    _feed_field(digest, b"to", _normalise_recipient(recipient).encode("utf-8"))
    _feed_field(digest, b"subject", _normalise_text(subject).encode("utf-8"))
    _feed_field(digest, b"text", _normalise_text(text).encode("utf-8"))
    for name, data in attachments:
        _feed_field(digest, b"name", unicodedata.normalize("NFC", name).encode("utf-8"))
        _feed_attachment(digest, data)
    return digest.hexdigest()
