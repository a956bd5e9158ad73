"""The Access Point's checks on a submitted message (RFC 6109 §3.1.1), as a pure function.

Outcomes: refused at SMTP level (the `From` header is not the logged-in mailbox), not accepted
(a `non-accettazione` receipt: Bcc, recipients not matching the headers, size, virus), or accepted.
"""

from __future__ import annotations

import base64
import email
import email.parser
import email.policy
import email.utils
import re
from dataclasses import dataclass

from pecmass_xl.sandbox.headers import decoded, unfold
from pecmass_xl.sandbox.rules import is_pec_address, normalise

# Built from two pieces so this source file itself never carries the EICAR signature.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
SANDBOX_VIRUS_MARKER = b"PECMASS-SANDBOX-VIRUS"

RECEIPT_FORMS = ("completa", "breve", "sintetica")


@dataclass(frozen=True)
class Analysis:
    """What the checks found. Exactly one of `refusal`, `problem` or neither (accepted) applies."""

    refusal: str | None = None  # an SMTP answer; nothing accepted, no receipt
    problem_it: str | None = None  # non-accettazione reason (Italian, also errore-esteso)
    problem_en: str | None = None
    virus: bool = False
    client_msgid: str = ""
    generated_msgid: bool = False
    sender: str = ""
    subject: str = ""
    reply_to: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    to_header: str = ""
    cc_header: str = ""
    tipo_ricevuta: str = "completa"

    @property
    def recipients(self) -> list[tuple[str, str]]:
        seen: set[str] = set()
        out = []
        for address in (*self.to, *self.cc):
            if normalise(address) not in seen:
                seen.add(normalise(address))
                out.append((address, "certificato" if is_pec_address(address) else "esterno"))
        return out


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
_PLAIN_LIST = re.compile(r"\s*[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\s*(?:,\s*[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\s*)*")


def addresses(value: str) -> list[str]:
    """Addresses of an address-list header; bare `a@b, c@d` lists skip the (slow) full RFC 5322 parser."""
    if not value.strip():
        return []
    if _PLAIN_LIST.fullmatch(value):
        return _PLAIN_ADDRESS.findall(value)
    return [address for _, address in email.utils.getaddresses([value]) if address]


def analyse(login: str, rcpt_tos: list[str], raw: bytes, max_size: int, new_msgid) -> Analysis:
    """Check one submitted message. `new_msgid()` supplies a Message-ID if the client sent none."""
    head_end = raw.find(b"\r\n\r\n")
    header_bytes = raw[: head_end + 4] if head_end >= 0 else raw
    message = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(header_bytes)
    senders = [a for v in message.get_all("From", []) for a in addresses(unfold(v))]
    if len(senders) != 1 or normalise(senders[0]) != login:
        return Analysis(refusal=f"550 5.7.1 From header does not match the authenticated mailbox {login}")
    sender = senders[0]

    msgid = unfold(message.get("Message-ID", ""))
    generated = False
    if not msgid:
        msgid, generated = new_msgid(), True
    to_header = " ".join(unfold(v) for v in message.get_all("To", []))
    cc_header = " ".join(unfold(v) for v in message.get_all("Cc", []))
    to = tuple(addresses(to_header))
    cc = tuple(addresses(cc_header))
    reply_to = next(iter(addresses(unfold(message.get("Reply-To", "")))), "")
    form = unfold(message.get("X-TipoRicevuta", "")).lower()
    base = dict(
        client_msgid=msgid,
        generated_msgid=generated,
        sender=sender,
        subject=decoded(message.get("Subject", "")),
        reply_to=reply_to,
        to=to,
        cc=cc,
        to_header=to_header,
        cc_header=cc_header,
        tipo_ricevuta=form if form in RECEIPT_FORMS else "completa",
    )

    header_set = {normalise(a) for a in (*to, *cc)}
    envelope_set = {normalise(a) for a in rcpt_tos}
    bcc = [a for v in message.get_all("Bcc", []) for a in addresses(unfold(v))]
    if not to:
        return Analysis(
            problem_it="destinatario (To) mancante",
            problem_en="missing recipient (To)",
            **base,
        )
    if bcc or envelope_set - header_set:
        return Analysis(
            problem_it="presenza di destinatari in copia nascosta (Bcc/Ccn), non ammessi nella posta certificata",
            problem_en="blind carbon copy (Bcc) recipients, not allowed in certified mail",
            **base,
        )
    if header_set - envelope_set:
        return Analysis(
            problem_it="destinatari dell'intestazione (To/Cc) diversi da quelli della trasmissione SMTP",
            problem_en="header recipients (To/Cc) differ from the SMTP recipients",
            **base,
        )
    if len(raw) * len(envelope_set) > max_size:
        megabytes = max_size / 1_000_000
        return Analysis(
            problem_it=f"dimensione del messaggio superiore al limite consentito ({megabytes:g} MB per il numero di destinatari)",
            problem_en=f"message size over the allowed limit ({megabytes:g} MB times the number of recipients)",
            **base,
        )
    found = scan_attachments(email.message_from_bytes(raw, policy=email.policy.compat32)) if might_carry_virus(raw) else None
    if found:
        return Analysis(problem_it=f"virus informatico {found}", problem_en=f"computer virus {found}", virus=True, **base)
    return Analysis(**base)


def _encoded_forms(signature: bytes) -> list[bytes]:
    """The signature as it appears inside base64 text, for each of the three byte alignments."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + signature)
        forms.append(encoded[-(-4 * shift // 3) : -4])  # drop characters shared with neighbouring bytes
    return forms


_QUICK_PATTERNS = [EICAR, SANDBOX_VIRUS_MARKER, *_encoded_forms(EICAR), *_encoded_forms(SANDBOX_VIRUS_MARKER)]


def might_carry_virus(raw: bytes) -> bool:
    """Cheap pre-check on the raw bytes (plain or base64 forms); only then is the message fully parsed."""
    flat = raw.replace(b"\r\n", b"")
    return any(pattern in raw or pattern in flat for pattern in _QUICK_PATTERNS)


def scan_attachments(message) -> str | None:
    """The sandbox's antivirus: the EICAR test string or the harmless marker in any attachment."""
    for part in message.walk():
        if part.is_multipart():
            continue
        is_attachment = bool(part.get_filename() or part.get_param("name")) or (
            (part.get("Content-Disposition") or "").strip().lower().startswith("attachment")
        )
        if not is_attachment:
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except (ValueError, TypeError):
            payload = b""
        if EICAR in payload:
            return "Eicar-Test-Signature"
        if SANDBOX_VIRUS_MARKER in payload:
            return "PECMASS-SANDBOX-VIRUS (marcatore di prova)"
    return None
