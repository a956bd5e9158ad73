"""The exact MIME message a row becomes (DESIGN §5.2): one recipient, no Cc/Bcc, our Message-ID."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from pecmass_xl.campaign.attachments import (
    Attachment,
    AttachmentError,
    changed_since_check,
    encoded_size,
    read_attachment,
)
from pecmass_xl.campaign.header_values import require_header_value

SMTP_POLICY = policy.SMTP.clone(max_line_length=78)
# Built with this Message-ID, replaced by the attempt's own once the message is known to build: a
# message is built before its attempt is recorded (never sent with it).
PENDING_MESSAGE_ID = "<pecmass.pending@pecmass.invalid>"
HEADER_OVERHEAD = 1200  # headers and MIME boundaries, a generous estimate


# Bytes quoted-printable keeps as they are; every other byte becomes `=XX` (three characters).
_QP_LITERAL = bytes(b for b in range(33, 127) if b != ord("=")) + b" \t\r\n"


def quoted_printable_size(data: bytes) -> int:
    """Upper bound of `data` as a quoted-printable body with CRLF line ends and soft breaks."""
    escaped = len(data.translate(None, _QP_LITERAL))
    chars = len(data) + 2 * escaped
    chars += 2 * (data.count(b" \n") + data.count(b"\t\n") + 1)  # whitespace before a line end: =20
    chars += data.count(b"\n")  # LF -> CRLF
    return chars + 3 * (chars // 73 + 1)  # a soft break `=` CRLF at most every 73 characters


@dataclass
class MessageDraft:
    """What the checks froze for one row: enough to build the same bytes at any later time."""

    to: str
    subject: str
    text: str
    attachments: list[Attachment] = field(default_factory=list)

    def estimated_size(self) -> int:
        """An upper bound of the encoded size: the check must never pass what the provider refuses."""
        body = quoted_printable_size(self.text.encode("utf-8"))
        names = sum(len(a.name.encode("utf-8")) * 3 + 200 for a in self.attachments)
        return HEADER_OVERHEAD + len(self.subject.encode("utf-8")) * 2 + body + names + sum(encoded_size(a.size) for a in self.attachments)


def check_draft_headers(draft: MessageDraft, sender: str) -> None:
    """Refuse (`UnsafeHeaderValue`) a value no header may hold, on any Python patch level."""
    require_header_value("Il mittente", sender)
    require_header_value("L'indirizzo del destinatario", draft.to)
    require_header_value("L'oggetto", draft.subject)
    for attachment in draft.attachments:
        require_header_value(f"Il nome dell'allegato «{attachment.name}»", attachment.name)


def check_draft(draft: MessageDraft, sender: str) -> None:
    """Everything `build_message` would refuse, without reading the attachments (cheap, for freezing)."""
    check_draft_headers(draft, sender)
    for attachment in draft.attachments:
        reason = changed_since_check(attachment)
        if reason:
            raise AttachmentError(reason)


def build_message(draft: MessageDraft, sender: str, message_id: str, receipt_type: str, date: dt.datetime | None = None) -> EmailMessage:
    """The message of one row; raises `MessageNotBuilt` (Italian) when it cannot be built."""
    check_draft_headers(draft, sender)
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["To"] = draft.to
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(date or dt.datetime.now().astimezone())
    msg["Message-ID"] = message_id
    msg["X-TipoRicevuta"] = receipt_type
    msg.set_content(draft.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    for attachment in draft.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        data = read_attachment(attachment)
        if maintype == "message":
            maintype, subtype = "application", "octet-stream"  # keep .eml bytes untouched
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment.name)
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=SMTP_POLICY)
