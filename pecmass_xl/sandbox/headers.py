"""Small helpers for raw message headers: read them as text, write them as CRLF bytes."""

from __future__ import annotations

import email.header
import re
from email.header import Header

_FOLD = re.compile(r"\r?\n(?=[ \t])")


def unfold(value: object) -> str:
    """A header value on one line."""
    return _FOLD.sub("", str(value)).strip()


def decoded(value: object) -> str:
    """A header value as readable text (RFC 2047 words decoded; raw 8-bit bytes read as UTF-8)."""
    if isinstance(value, Header):  # compat32 hands raw 8-bit header bytes over as an "unknown-8bit" Header
        chunks = []
        for chunk, charset in email.header.decode_header(value):
            if isinstance(chunk, bytes):
                try:
                    chunk = chunk.decode("utf-8" if charset in (None, "unknown-8bit") else charset, "replace")
                except LookupError:
                    chunk = chunk.decode("utf-8", "replace")
            chunks.append(chunk)
        return unfold("".join(chunks))
    text = unfold(value)
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeDecodeError):
        return text


def header_line(name: str, value: str) -> bytes:
    """One header field ending in CRLF: ASCII values as given (they may carry their own folding),
    long ones folded, non-ASCII ones RFC 2047-encoded."""
    if value.isascii() and ("\r\n" in value or len(name) + len(value) < 76):
        return f"{name}: {value}\r\n".encode("ascii")
    charset = "us-ascii" if value.isascii() else "utf-8"
    encoded = Header(value, charset, maxlinelen=78, header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


def split_fields(head: bytes) -> list[bytes]:
    """A header block (ending in CRLF) → one item per field, continuation lines kept, each ending in CRLF."""
    fields: list[bytes] = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        else:
            fields.append(line + b"\r\n")
    return fields
