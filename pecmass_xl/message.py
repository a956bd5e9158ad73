"""The exact MIME message a row becomes (DESIGN §5.2): one recipient, no Cc/Bcc, our Message-ID."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from pecmass_xl.attachments import Attachment, encoded_size

SMTP_POLICY = policy.SMTP.clone(max_line_length=78)
HEADER_OVERHEAD = 1200  # headers and MIME boundaries, a generous estimate


@dataclass
class MessageDraft:
    """What the checks froze for one row: enough to build the same bytes at any later time."""

    to: str
    subject: str
    text: str
    attachments: list[Attachment] = field(default_factory=list)

    def estimated_size(self) -> int:
        text_bytes = len(self.text.encode("utf-8"))
        body = encoded_size(text_bytes) if any(ord(ch) > 127 for ch in self.text) else text_bytes + text_bytes // 70 * 2
        names = sum(len(a.name.encode("utf-8")) * 3 + 200 for a in self.attachments)
        return HEADER_OVERHEAD + len(self.subject.encode("utf-8")) * 2 + body + names + sum(encoded_size(a.size) for a in self.attachments)


def build_message(draft: MessageDraft, sender: str, message_id: str, receipt_type: str, date: dt.datetime | None = None) -> EmailMessage:
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
        data = attachment.path.read_bytes()
        if maintype == "message":
            maintype, subtype = "application", "octet-stream"  # keep .eml bytes untouched
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment.name)
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=SMTP_POLICY)
