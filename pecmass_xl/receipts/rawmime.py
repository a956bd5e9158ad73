"""A small, byte-exact MIME reader for receipts.

Why not only the `email` package: it is slow for thousands of receipts (it parses line by line) and
it re-serialises what it touches, while the S/MIME signature covers the exact bytes of the signed
part. Here an entity is split into header and body at the first empty line, multiparts are cut at
their delimiter lines with a regular expression, and every part is a slice of the original bytes.
Attached messages (`message/*`) are never entered: a `daticert.xml` or signature inside
`postacert.eml` belongs to another message. Bounds on depth and part count keep hostile input cheap.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value

MAX_DEPTH = 8
MAX_PARTS = 500

_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_BOUNDARY = re.compile(r'(?:^|;)\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;"]+))', re.IGNORECASE)


@dataclass(slots=True)
class Headers:
    """Header fields of one entity: lower-case name → values in order (unfolded, stripped)."""

    fields: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        values = self.fields.get(name.lower())
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        return list(self.fields.get(name.lower(), ()))

    def content_type(self) -> str:
        """`type/subtype`, lower-case; text/plain when absent or malformed (RFC 2045)."""
        value = self.get("content-type")
        if not value:
            return "text/plain"
        ctype = value.split(";", 1)[0].strip().lower()
        return ctype if ctype.count("/") == 1 else "text/plain"

    def holder(self) -> Message:
        """A Message holding Content-Type and Content-Disposition, to read their parameters."""
        holder = Message()
        for name in ("Content-Type", "Content-Disposition"):
            value = self.get(name)
            if value is not None:
                holder[name] = value
        return holder


@dataclass(slots=True)
class Leaf:
    """A non-multipart part: its raw header block, headers, raw body bytes and content type."""

    head: bytes
    headers: Headers
    body: bytes
    content_type: str

    def filename(self) -> str | None:
        holder = self.headers.holder()
        name = holder.get_filename() or holder.get_param("name")
        if isinstance(name, tuple):
            name = collapse_rfc2231_value(name)
        return name if isinstance(name, str) else None

    def decoded(self) -> bytes:
        return decode_body(self.body, self.headers.get("content-transfer-encoding"))


def split_head_body(entity: bytes) -> tuple[bytes, bytes]:
    """Header block and body: the header ends at the first empty line."""
    if entity.startswith(b"\r\n"):
        return b"", entity[2:]
    if entity.startswith(b"\n"):
        return b"", entity[1:]
    crlf = entity.find(b"\n\r\n")
    index = entity.find(b"\n\n", 0, crlf + 2 if crlf >= 0 else len(entity))  # only before the CRLF one
    if crlf >= 0 and index < 0:
        head_end, body_start = crlf, crlf + 3
    elif index >= 0:
        head_end, body_start = index, index + 2
    else:
        return entity, b""
    if head_end > 0 and entity[head_end - 1] == 0x0D:
        head_end -= 1
    return entity[:head_end], entity[body_start:]


def parse_headers(head: bytes) -> Headers:
    """Unfold and split header lines; lines that are not `name: value` are skipped."""
    headers = Headers()
    fields = headers.fields
    for line in _FOLD.sub(b"", head).split(b"\n"):
        name, sep, value = line.partition(b":")
        if not sep or not name or b" " in name or b"\t" in name:
            continue
        key = name.decode("latin-1").lower()
        fields.setdefault(key, []).append(value.strip().decode("utf-8", errors="replace"))
    return headers


def boundary_of(headers: Headers) -> bytes | None:
    """The multipart boundary from Content-Type (quoted or token form)."""
    match = _BOUNDARY.search(headers.get("content-type") or "")
    if match is None:
        return None
    value = match.group(1) if match.group(1) is not None else match.group(2)
    if not value or len(value) > 200:
        return None
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        return None


def _delimiters(body: bytes, boundary: bytes):
    """(start, end, is_close) of each delimiter line; `start` includes the line break before it."""
    marker = b"--" + boundary
    size = len(body)
    position = 0
    while True:
        index = body.find(marker, position)
        if index < 0:
            return
        position = index + 1
        if index > 0 and body[index - 1] != 0x0A:  # not at the start of a line
            continue
        end = index + len(marker)
        is_close = body.startswith(b"--", end)
        if is_close:
            end += 2
        while end < size and body[end] in (0x20, 0x09):  # transport padding
            end += 1
        if end < size and body[end] not in (0x0D, 0x0A):
            continue
        if end < size and body[end] == 0x0D and not body.startswith(b"\r\n", end):
            continue
        start = index
        if index > 0:
            start = index - 2 if index >= 2 and body[index - 2] == 0x0D else index - 1
        yield start, end, is_close


def split_multipart(body: bytes, boundary: bytes, defects: list[str] | None = None) -> list[bytes]:
    """Body parts of a multipart, byte-exact: the line break before a delimiter belongs to it."""
    parts: list[bytes] = []
    begin: int | None = None
    for start, end, is_close in _delimiters(body, boundary):
        if begin is not None:
            parts.append(body[begin:start])
        if is_close:
            return parts
        begin = end
        if body.startswith(b"\r\n", begin):
            begin += 2
        elif body.startswith(b"\n", begin):
            begin += 1
        if len(parts) >= MAX_PARTS:
            break
    if begin is not None:  # no close delimiter: truncated message, keep what is there
        parts.append(body[begin:])
    if defects is not None:
        defects.append("missing close delimiter" if begin is not None else "no delimiter")
    return parts


def iter_leaves(entity: bytes, defects: list[str] | None = None):
    """Leaf parts of an entity's multipart tree, depth first, without entering message/* parts."""
    stack: list[tuple[bytes, int]] = [(entity, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        current, depth = stack.pop()
        seen += 1
        head, body = split_head_body(current)
        headers = parse_headers(head)
        ctype = headers.content_type()
        if ctype.startswith("multipart/"):
            boundary = boundary_of(headers)
            if boundary is None or depth >= MAX_DEPTH:
                if defects is not None:
                    defects.append("unreadable multipart")
                continue
            children = split_multipart(body, boundary, defects)
            stack.extend((child, depth + 1) for child in reversed(children))
        else:
            yield Leaf(head, headers, body, ctype)


def find_signed_entity(entity: bytes, depth: int = 0) -> tuple[bytes, bytes] | None:
    """(signed content, signature part) of the first multipart/signed, as exact slices."""
    head, body = split_head_body(entity)
    headers = parse_headers(head)
    ctype = headers.content_type()
    if ctype == "multipart/signed":
        boundary = boundary_of(headers)
        parts = split_multipart(body, boundary) if boundary else []
        return (parts[0], parts[1]) if len(parts) >= 2 else None
    if ctype.startswith("multipart/") and depth < MAX_DEPTH:
        boundary = boundary_of(headers)
        for part in split_multipart(body, boundary) if boundary else []:
            found = find_signed_entity(part, depth + 1)
            if found is not None:
                return found
    return None


def decode_body(body: bytes, transfer_encoding: str | None) -> bytes:
    """Undo base64 / quoted-printable; other encodings are the bytes themselves."""
    cte = (transfer_encoding or "").strip().lower()
    try:
        if cte == "base64":
            return binascii.a2b_base64(body)
        if cte == "quoted-printable":
            return binascii.a2b_qp(body)
    except (binascii.Error, ValueError):
        return b""
    return body


def to_crlf(data: bytes) -> bytes:
    """Canonical S/MIME line endings: every bare LF becomes CRLF."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
