"""Proof of content: the original carried inside a `completa` delivery receipt (`postacert.eml`)
compared with the `.eml` we archived when sending (issue 12).

The provider replaces the Message-ID and adds `Received` and `X-Riferimento-Message-ID`, so only
what the recipient reads is compared: sender, recipients, subject, every text part, and each
attachment's SHA-256 (of its decoded bytes). The verdict is `identico` or `diverso: <what>`.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message

from pecmass_xl.receipts.rawmime import decode_body, find_signed_entity, iter_leaves

IDENTICAL = "identico"
DIFFERENT = "diverso"
_COMPARED_HEADERS = (("From", "mittente"), ("To", "destinatari"), ("Cc", "copia conoscenza"), ("Subject", "oggetto"))


@dataclass(frozen=True)
class ContentProof:
    differences: tuple[str, ...]
    attachments: tuple[tuple[str, str], ...] = field(default=())  # (name, SHA-256) as delivered

    @property
    def identical(self) -> bool:
        return not self.differences

    @property
    def verdict(self) -> str:
        return IDENTICAL if self.identical else f"{DIFFERENT}: " + "; ".join(self.differences)


def carried_original(receipt: bytes) -> bytes | None:
    """The `postacert.eml` of a receipt's own (signed) tree; None for `breve`/`sintetica` receipts."""
    found = find_signed_entity(receipt)
    entity = found[0] if found else receipt
    for leaf in iter_leaves(entity):
        if leaf.content_type == "message/rfc822":
            return decode_body(leaf.body, leaf.headers.get("content-transfer-encoding"))
    return None


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    return re.sub(r"\s+", " ", str(value)).strip() if value is not None else ""


def _text(part: Message) -> str:
    try:
        text = part.get_content()
    except (LookupError, ValueError, AttributeError):
        text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def _parts(msg: Message) -> tuple[list[str], list[tuple[str, str]]]:
    texts: list[str] = []
    attachments: list[tuple[str, str]] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if name or part.get_content_disposition() == "attachment":
            digest = hashlib.sha256(part.get_payload(decode=True) or b"").hexdigest()
            attachments.append((name or "(senza nome)", digest))
        elif part.get_content_maintype() == "text":
            texts.append(_text(part))
    return texts, sorted(attachments)


def compare(carried: bytes, sent: bytes) -> ContentProof:
    """What differs between the delivered original and the sent one (Italian, for the user)."""
    got = email.message_from_bytes(carried, policy=email.policy.default)
    want = email.message_from_bytes(sent, policy=email.policy.default)
    differences = [label for name, label in _COMPARED_HEADERS if _header(got, name) != _header(want, name)]
    got_texts, got_files = _parts(got)
    want_texts, want_files = _parts(want)
    if got_texts != want_texts:
        differences.append("testo")
    got_by_name, want_by_name = dict(got_files), dict(want_files)
    for name, digest in want_files:
        if name not in got_by_name:
            differences.append(f"allegato «{name}» mancante")
        elif got_by_name[name] != digest:
            differences.append(f"allegato «{name}» con SHA-256 diverso")
    differences += [f"allegato «{name}» in più" for name, _ in got_files if name not in want_by_name]
    return ContentProof(tuple(differences), tuple(got_files))
