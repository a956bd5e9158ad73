"""Delivery-status reports inside anomaly envelopes (`X-Trasporto: errore`).

When a PEC goes to an ordinary (non-PEC) address and that address bounces, the bounce (a DSN from a
non-certified mail server, RFC 3464) reaches the sender's PEC mailbox wrapped by the provider in an
anomaly envelope. It is not a certified notice, but it is the only sign that the message was not
delivered. Here we find the report, its status and diagnostic, and the Message-IDs quoted by the
returned headers: `X-Riferimento-Message-ID` (our own Message-ID) and `Message-ID` (the provider's
`identificativo`, which replaced ours on the way out). Text-only bounces (no
`message/delivery-status` part) are read leniently from their text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

# How deep to look inside nested message/rfc822 and multipart parts: an anomaly envelope holds the
# bounce, which holds the returned message; nothing legitimate is deeper.
MAX_DEPTH = 6
MAX_PARTS = 200
MAX_TEXT_SCAN = 200_000

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_QUOTED_ID = re.compile(
    r"^[ \t>]*(?:x-riferimento-message-id|message-id)[ \t]*:[ \t]*(<[^<>\s]+>)",
    re.IGNORECASE | re.MULTILINE,
)
_TEXT_STATUS = re.compile(r"^[ \t]*status[ \t]*:[ \t]*([245]\.\d{1,3}\.\d{1,3})", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class DsnInfo:
    """What a bounce says about one recipient, and which message it bounced."""

    status: str | None               # enhanced status code, e.g. "5.1.1"
    action: str | None               # failed | delayed | delivered | relayed | expanded (lower-case)
    diagnostic: str | None           # Diagnostic-Code text without its type ("smtp;"), unfolded
    quoted_message_ids: frozenset[str]  # "<...>" ids found in the returned headers
    final_recipient: str | None      # address from Final-Recipient (or Original-Recipient)

    @property
    def is_failure(self) -> bool:
        """A permanent failure: action `failed`, or no action and a 5.x.x status."""
        if self.action:
            return self.action == "failed"
        return bool(self.status and self.status.startswith("5."))


def _unfold(value: str | None) -> str | None:
    if value is None:
        return None
    value = re.sub(r"\r?\n[ \t]+", " ", str(value)).strip()
    return value or None


def _typed_value(value: str | None) -> str | None:
    """`rfc822; a@b.it` → `a@b.it`; `smtp; 550 ...` → `550 ...` (RFC 3464 typed fields)."""
    value = _unfold(value)
    if value is None:
        return None
    kind, sep, rest = value.partition(";")
    if sep and re.fullmatch(r"[A-Za-z0-9-]+", kind.strip()):
        value = rest.strip()
    return value or None


def _status_code(value: str | None) -> str | None:
    match = _STATUS.search(value or "")
    return ".".join(match.groups()) if match else None


def _iter_parts(message: Message, depth: int = 0):
    """Every part under `message`, descending into message/rfc822 too, within fixed bounds."""
    stack = [(message, depth)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, level = stack.pop(0)
        seen += 1
        yield part
        if level >= MAX_DEPTH:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and part.get_content_type() != "message/delivery-status":
            stack.extend((p, level + 1) for p in payload if isinstance(p, Message))


def _header_ids(headers: Message) -> set[str]:
    ids = set()
    for name in ("X-Riferimento-Message-ID", "Message-ID"):
        for value in headers.get_all(name) or ():
            ids.update(re.findall(r"<[^<>\s]+>", str(value)))
    return ids


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload[:MAX_TEXT_SCAN].decode(charset, errors="replace")
    except LookupError:
        return payload[:MAX_TEXT_SCAN].decode("latin-1")


def _recipient_blocks(report: Message) -> list[Message]:
    payload = report.get_payload()
    if isinstance(payload, list):
        blocks = [b for b in payload if isinstance(b, Message)]
        return blocks[1:] if len(blocks) > 1 else blocks
    if isinstance(payload, str):  # some parsers leave it as text: split on blank lines
        parser = HeaderParser()
        return [parser.parsestr(chunk) for chunk in re.split(r"\r?\n\r?\n", payload.strip())[1:] if chunk.strip()]
    return []


def find_dsn(envelope: Message) -> tuple[DsnInfo | None, list[str]]:
    """Look inside an anomaly envelope for a bounce. Never raises; problems are Italian sentences."""
    try:
        return _find_dsn(envelope)
    except Exception:  # noqa: BLE001 - hostile input must never stop a sync
        return None, ["rapporto di mancata consegna illeggibile"]


def _find_dsn(envelope: Message) -> tuple[DsnInfo | None, list[str]]:
    report: Message | None = None
    quoted: set[str] = set()
    texts: list[str] = []
    for part in _iter_parts(envelope):
        if part is envelope:
            continue  # the envelope's own ids are not quoted ones
        ctype = part.get_content_type()
        if ctype == "message/delivery-status" and report is None:
            report = part
        elif ctype == "text/rfc822-headers":
            quoted |= _header_ids(HeaderParser().parsestr(_text_of(part)))
        elif ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                # The bounce itself sits in a message/rfc822 too: its own Message-ID is not quoted,
                # so only take ids of a message/rfc822 nested inside a report.
                if _is_inside_report(envelope, part):
                    quoted |= _header_ids(inner[0])
        elif part.get_content_maintype() == "text":
            texts.append(_text_of(part))

    if report is not None:
        blocks = _recipient_blocks(report)
        chosen = next((b for b in blocks if (b.get("Action") or "").strip().lower() == "failed"), None)
        chosen = chosen or next((b for b in blocks if b.get("Status")), None) or (blocks[0] if blocks else None)
        if chosen is None:
            return None, ["rapporto di mancata consegna vuoto"]
        action = (_unfold(chosen.get("Action")) or "").lower() or None
        recipient = _typed_value(chosen.get("Final-Recipient")) or _typed_value(chosen.get("Original-Recipient"))
        info = DsnInfo(
            status=_status_code(chosen.get("Status")),
            action=action,
            diagnostic=_typed_value(chosen.get("Diagnostic-Code")),
            quoted_message_ids=frozenset(quoted or _ids_in_texts(texts)),
            final_recipient=recipient.strip("<>").lower() if recipient else None,
        )
        problems = [] if info.quoted_message_ids else ["il rapporto di mancata consegna non cita alcun Message-ID"]
        return info, problems

    # Text-only bounce: a status line or code plus the quoted original headers in the text.
    joined = "\n".join(texts)
    ids = _ids_in_texts(texts) | quoted
    status_match = _TEXT_STATUS.search(joined) or _STATUS.search(joined)
    if not ids or status_match is None:
        return None, ["busta di anomalia senza rapporto di mancata consegna"]
    status = _status_code(status_match.group(0))
    return DsnInfo(
        status=status,
        action=None,
        diagnostic=None,
        quoted_message_ids=frozenset(ids),
        final_recipient=None,
    ), ["rapporto di mancata consegna in solo testo"]


def _ids_in_texts(texts: list[str]) -> set[str]:
    ids: set[str] = set()
    for text in texts:
        ids.update(_QUOTED_ID.findall(text))
    return ids


def _is_inside_report(envelope: Message, target: Message) -> bool:
    """True when `target` is a child of a multipart/report (the returned message of a bounce)."""
    for part in _iter_parts(envelope):
        if part.get_content_type() == "multipart/report":
            payload = part.get_payload()
            if isinstance(payload, list) and any(p is target for p in payload):
                return True
    return False
