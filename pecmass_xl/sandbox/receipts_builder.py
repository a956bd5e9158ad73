"""Builds the provider's messages byte by byte: receipts, transport envelopes, anomaly envelopes.

Layout (RFC 6109 §4.3, as Aruba does it in 2026):

    multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256
    ├── multipart/mixed                          (the signed entity)
    │   ├── multipart/alternative (text/plain + text/html, iso-8859-1, quoted-printable)
    │   ├── application/xml; name="daticert.xml" (base64)
    │   └── message/rfc822; name=postacert.eml   (envelopes and completa/breve receipts only)
    └── application/pkcs7-signature; name=smime.p7s

Everything is assembled as bytes with CRLF line endings (no re-serialisation by the `email`
package), so the signature covers exactly what is stored and what a verifier reads.
Functions here are pure: they run in worker threads.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
import hashlib
import random
import time
from dataclasses import dataclass
from email.generator import BytesGenerator
from io import BytesIO

from pecmass_xl.sandbox import receipt_texts
from pecmass_xl.sandbox.daticert_writer import Daticert
from pecmass_xl.sandbox.headers import decoded, header_line, split_fields, unfold
from pecmass_xl.sandbox.receipt_texts import Text, When
from pecmass_xl.sandbox.signing import MICALG, PROTOCOL, Signer

GESTORE = "Gestore PEC sandbox (pecmass, simulato)"
SMTP_HOSTNAME = "smtps.pec.sandbox.test"
MX_HOSTNAME = "mx.pec.sandbox.test"

SUBJECT_PREFIX = {
    "accettazione": "ACCETTAZIONE: ",
    "non-accettazione": "AVVISO DI NON ACCETTAZIONE: ",
    "non-accettazione-virus": "AVVISO DI NON ACCETTAZIONE PER VIRUS: ",
    "posta-certificata": "POSTA CERTIFICATA: ",
    "avvenuta-consegna": "CONSEGNA: ",
    "errore-consegna": "AVVISO DI MANCATA CONSEGNA: ",
    "preavviso-errore-consegna": "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ",
    "anomalia": "ANOMALIA MESSAGGIO: ",
}


@dataclass(frozen=True)
class Submission:
    """What the Access Point learnt from an accepted (or refused) message; JSON-serialisable."""

    identificativo: str  # the provider's id: Message-ID of the envelope and of postacert.eml
    client_msgid: str  # "<...>" as the client sent it
    sender: str
    subject: str  # decoded
    reply_to: str  # the original Reply-To address, "" if none
    to: list[str]
    cc: list[str]
    recipients: list[tuple[str, str]]  # (address, "certificato" | "esterno"), To then Cc
    tipo_ricevuta: str  # completa | breve | sintetica
    to_header: str  # original To/Cc header values (unfolded), copied onto the envelope
    cc_header: str
    accepted_at: float  # simulated POSIX time of the acceptance

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> Submission:
        data = dict(data)
        data["recipients"] = [tuple(pair) for pair in data["recipients"]]
        return cls(**data)


@dataclass(frozen=True)
class Moment:
    """One instant of simulated time in the forms receipts need."""

    date_header: str  # RFC 2822 with the Italian zone, e.g. "Sat, 19 Sep 2026 15:41:19 +0200 (CEST)"
    giorno: str
    ora: str
    zona: str

    @property
    def when(self) -> When:
        return When(self.giorno, self.ora, self.zona)


class ReceiptBuilder:
    """Makes every message the provider emits, signed with its key."""

    def __init__(self, signer: Signer, provider_address: str, gestore: str = GESTORE) -> None:
        self.signer = signer
        self.provider_address = provider_address
        self.gestore = gestore

    # --- Access Point ------------------------------------------------------------------------

    def accettazione(self, sub: Submission, message_id: str, at: Moment) -> bytes:
        text = receipt_texts.accettazione(at.when, sub.subject, sub.sender, sub.recipients, sub.identificativo)
        cert = self._daticert(sub, "accettazione", at, risposte=sub.reply_to)
        headers = self._receipt_headers(sub, message_id, at, "accettazione")
        headers += [("X-Ricevuta", "accettazione"), ("X-Riferimento-Message-ID", sub.client_msgid)]
        headers.append(("X-REM-Subject", "REM SubmissionAcceptance: " + sub.subject))
        return self._signed(headers, text, cert.to_bytes())

    def non_accettazione(self, sub: Submission, message_id: str, at: Moment, reason_it: str, reason_en: str, virus: bool) -> bytes:
        text = receipt_texts.non_accettazione(
            at.when, sub.subject, sub.sender, sub.recipients, sub.identificativo, reason_it, reason_en, virus
        )
        cert = self._daticert(
            sub, "non-accettazione", at, risposte=sub.reply_to, errore="virus" if virus else "altro", errore_esteso=reason_it
        )
        kind = "non-accettazione-virus" if virus else "non-accettazione"
        headers = self._receipt_headers(sub, message_id, at, kind)
        headers += [("X-Ricevuta", "non-accettazione")]
        if virus:
            headers.append(("X-VerificaSicurezza", "errore"))
        headers.append(("X-Riferimento-Message-ID", sub.client_msgid))
        return self._signed(headers, text, cert.to_bytes())

    def busta_trasporto(self, sub: Submission, at: Moment, postacert: bytes) -> bytes:
        text = receipt_texts.busta_trasporto(at.when, sub.subject, sub.sender, sub.recipients, sub.identificativo)
        cert = self._daticert(sub, "posta-certificata", at, risposte=sub.reply_to or sub.sender, ricevuta=sub.tipo_ricevuta)
        headers = [
            ("Date", at.date_header),
            ("From", f'"Per conto di: {sub.sender}" <{self.provider_address}>'),
            ("Reply-To", sub.reply_to or sub.sender),
            ("To", sub.to_header),
        ]
        if sub.cc_header:
            headers.append(("Cc", sub.cc_header))
        headers += [
            ("Message-ID", f"<{sub.identificativo}>"),
            ("Subject", SUBJECT_PREFIX["posta-certificata"] + sub.subject),
            ("MIME-Version", "1.0"),
            None,  # Content-Type goes here
            ("X-Trasporto", "posta-certificata"),
            ("X-TipoRicevuta", sub.tipo_ricevuta),
            ("X-Riferimento-Message-ID", sub.client_msgid),
        ]
        return self._signed(headers, text, cert.to_bytes(), postacert)

    # --- Delivery Point and timeouts ---------------------------------------------------------

    def avvenuta_consegna(
        self, sub: Submission, message_id: str, at: Moment, recipient: str, form: str, postacert: bytes | None
    ) -> bytes:
        """`form` is the receipt this recipient gets (completa, breve or sintetica)."""
        text = receipt_texts.avvenuta_consegna(at.when, sub.subject, sub.sender, recipient, sub.identificativo, form)
        cert = self._daticert(
            sub, "avvenuta-consegna", at, risposte=sub.reply_to or sub.sender, ricevuta=form, consegna=recipient
        )
        headers = self._receipt_headers(sub, message_id, at, "avvenuta-consegna")
        headers += [("X-Ricevuta", "avvenuta-consegna"), ("X-Riferimento-Message-ID", sub.client_msgid)]
        headers.append(("X-REM-Subject", "REM ContentConsignment: " + sub.subject))
        attached = None
        if form == "completa":
            attached = postacert
        elif form == "breve" and postacert is not None:
            attached = brief_copy(postacert)
        return self._signed(headers, text, cert.to_bytes(), attached)

    def errore_consegna(
        self, sub: Submission, message_id: str, at: Moment, recipient: str, errore: str, esteso_it: str, esteso_en: str
    ) -> bytes:
        text = receipt_texts.errore_consegna(at.when, sub.subject, sub.sender, recipient, sub.identificativo, esteso_it, esteso_en)
        cert = self._daticert(
            sub,
            "errore-consegna",
            at,
            risposte=sub.reply_to or sub.sender,
            errore=errore,
            consegna=recipient,
            errore_esteso=esteso_it,
        )
        headers = self._receipt_headers(sub, message_id, at, "errore-consegna")
        headers += [("X-Ricevuta", "errore-consegna"), ("X-Riferimento-Message-ID", sub.client_msgid)]
        return self._signed(headers, text, cert.to_bytes())

    def preavviso_errore_consegna(self, sub: Submission, message_id: str, at: Moment, recipient: str, final: bool) -> bytes:
        """The 12-hour warning, or (final=True) the 24-hour notice that ends the transaction."""
        text = receipt_texts.preavviso_errore_consegna(at.when, sub.subject, sub.sender, recipient, sub.identificativo, final)
        esteso = (
            "5.4.1 - Gestore PEC sandbox - tempo massimo di consegna superato (24 ore)"
            if final
            else "4.4.7 - Gestore PEC sandbox - messaggio non ancora consegnato (12 ore)"
        )
        cert = self._daticert(
            sub,
            "preavviso-errore-consegna",
            at,
            risposte=sub.reply_to or sub.sender,
            errore="altro",
            consegna=recipient,
            errore_esteso=esteso,
        )
        headers = self._receipt_headers(sub, message_id, at, "preavviso-errore-consegna")
        headers += [("X-Ricevuta", "preavviso-errore-consegna"), ("X-Riferimento-Message-ID", sub.client_msgid)]
        return self._signed(headers, text, cert.to_bytes())

    # --- Incoming Point: ordinary mail into a PEC mailbox -------------------------------------

    def anomalia(self, received: bytes, at: Moment, error_it: str, error_en: str) -> bytes:
        """Wrap a non-certified message (here: a bounce) in an anomaly envelope (RFC 6109 §3.2.2).

        Received, To, Cc, Return-Path and Message-ID are inherited from the wrapped message;
        there is no daticert: the only other part is the message itself.
        """
        inner = email.message_from_bytes(received[: received.find(b"\r\n\r\n") + 4], policy=email.policy.compat32)
        sender = email.utils.parseaddr(unfold(inner.get("From", "")))[1]
        recipients = [addr for _, addr in email.utils.getaddresses([unfold(v) for v in inner.get_all("To", [])])]
        subject = decoded(inner.get("Subject", ""))
        text = receipt_texts.anomalia(at.when, subject, sender, recipients, error_it, error_en)
        headers: list = []
        for name in ("Return-Path", "Received"):
            for value in inner.get_all(name, []):
                headers.append((name, unfold(value)))
        headers += [
            ("Date", at.date_header),
            ("From", f'"Per conto di: {sender}" <{self.provider_address}>'),
            ("Reply-To", unfold(inner.get("Reply-To", "")) or sender),
            ("To", unfold(inner.get("To", ""))),
        ]
        if inner.get("Cc"):
            headers.append(("Cc", unfold(inner["Cc"])))
        headers += [
            ("Message-ID", unfold(inner.get("Message-ID", ""))),
            ("Subject", SUBJECT_PREFIX["anomalia"] + subject),
            ("MIME-Version", "1.0"),
            None,
            ("X-Trasporto", "errore"),
        ]
        return self._signed(headers, text, None, received)

    # --- assembly ----------------------------------------------------------------------------

    def _daticert(self, sub: Submission, tipo: str, at: Moment, *, risposte: str, **extra) -> Daticert:
        return Daticert(
            tipo=tipo,
            mittente=sub.sender,
            destinatari=[tuple(pair) for pair in sub.recipients],
            risposte=risposte,
            oggetto=sub.subject,
            gestore=self.gestore,
            zona=at.zona,
            giorno=at.giorno,
            ora=at.ora,
            identificativo=sub.identificativo,
            msgid=sub.client_msgid,
            **extra,
        )

    def _receipt_headers(self, sub: Submission, message_id: str, at: Moment, kind: str) -> list:
        return [
            ("Date", at.date_header),
            ("From", self.provider_address),
            ("To", sub.sender),
            ("Message-ID", message_id),
            ("Subject", SUBJECT_PREFIX[kind] + sub.subject),
            ("MIME-Version", "1.0"),
            None,
        ]

    def _signed(self, headers: list, text: Text, daticert: bytes | None, attached: bytes | None = None) -> bytes:
        """Assemble, sign and return the whole message; `None` in `headers` marks where Content-Type goes."""
        mixed_boundary, signed_boundary = _boundary(), _boundary()
        parts = [_alternative(text)]
        if daticert is not None:
            parts.append(
                b'Content-Type: application/xml; name="daticert.xml"\r\n'
                b"Content-Transfer-Encoding: base64\r\n"
                b'Content-Disposition: inline; filename="daticert.xml"\r\n\r\n' + _base64(daticert)
            )
        if attached is not None:
            encoding = b"7bit" if attached.isascii() else b"8bit"
            parts.append(
                b"Content-Type: message/rfc822; name=postacert.eml\r\n"
                b"Content-Transfer-Encoding: " + encoding + b"\r\n"
                b"Content-Disposition: inline; filename=postacert.eml\r\n\r\n" + attached
            )
        signed_entity = b'Content-Type: multipart/mixed; \r\n\tboundary="' + mixed_boundary + b'"\r\n\r\n' + _multipart(mixed_boundary, parts)
        signature = self.signer.sign(signed_entity)
        content_type = (
            "Content-Type",
            f'multipart/signed; protocol="{PROTOCOL}"; micalg={MICALG}; \r\n\tboundary="{signed_boundary.decode()}"',
        )
        head = b"".join(
            header_line(*(content_type if item is None else item)) for item in headers if item is None or item[1] != ""
        )
        signature_part = (
            b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=smime.p7s\r\n"
            b"Content-Description: S/MIME Cryptographic Signature\r\n\r\n" + _base64(signature)
        )
        return (
            head
            + b"\r\nThis is a S/MIME signed message\r\n--"
            + signed_boundary
            + b"\r\n"
            + signed_entity
            + b"\r\n--"
            + signed_boundary
            + b"\r\n"
            + signature_part
            + b"\r\n--"
            + signed_boundary
            + b"--\r\n"
        )


# --- the original message as the provider forwards it ---------------------------------------


def postacert(raw: bytes, identificativo: str, client_msgid: str, received: str) -> bytes:
    """The submitted message as it travels: a Received line on top, Message-ID replaced by the
    provider's id, `X-Riferimento-Message-ID` with the client's id appended to the header."""
    head_len = raw.find(b"\r\n\r\n")
    head, body = (raw[: head_len + 2], raw[head_len + 2 :]) if head_len >= 0 else (raw + b"\r\n", b"\r\n")
    fields = split_fields(head)
    replaced = False
    out = [header_line("Received", received)]
    for field in fields:
        if field.split(b":", 1)[0].strip().lower() == b"message-id":
            if not replaced:
                out.append(b"Message-ID: <" + identificativo.encode() + b">\r\n")
                replaced = True
            continue
        out.append(field)
    if not replaced:
        out.append(b"Message-ID: <" + identificativo.encode() + b">\r\n")
    out.append(b"X-Riferimento-Message-ID: " + client_msgid.encode() + b"\r\n")
    return b"".join(out) + body


def received_line(recipients: list[str], at: Moment, queue_id: str) -> str:
    target = f"\r\n\tfor <{recipients[0]}>" if len(recipients) == 1 else ""
    return (
        f"from [127.0.0.1] (localhost [127.0.0.1])\r\n\tby {SMTP_HOSTNAME} (pecmass sandbox) with ESMTPSA id {queue_id}"
        f"{target}; {at.date_header}"
    )


def brief_copy(message: bytes) -> bytes:
    """The copy inside a *breve* receipt: every part with a file name becomes `<name>.hash`, a text/plain
    part holding the SHA-1 (40 hex digits) of the part's body as transmitted (RFC 6109 §3.3.2.2)."""
    msg = email.message_from_bytes(message, policy=email.policy.compat32)
    for part in msg.walk():
        if part is msg:
            continue
        filename = part.get_filename() or part.get_param("name")
        if not filename or part.get_content_type() == "application/pkcs7-signature":
            continue
        if isinstance(filename, tuple):
            filename = email.utils.collapse_rfc2231_value(filename)
        payload = part.get_payload()
        body = payload if isinstance(payload, str) else part.as_string()
        digest = hashlib.sha1(body.encode("utf-8", "surrogateescape").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")).hexdigest()
        for name in ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-Description"):
            del part[name]
        part.set_payload(digest)
        part["Content-Type"] = f'text/plain; name="{filename}.hash"'
        part["Content-Disposition"] = f'attachment; filename="{filename}.hash"'
    out = BytesIO()
    BytesGenerator(out, policy=email.policy.compat32.clone(linesep="\r\n"), mangle_from_=False).flatten(msg)
    return out.getvalue()


# --- an ordinary server's bounce --------------------------------------------------------------


def delivery_status_notification(bounced_headers: bytes, sender: str, recipient: str, at: Moment, message_id: str) -> bytes:
    """A Postfix-style DSN (RFC 3464) from the recipient's ordinary mail server, returning the headers
    of the transport envelope it could not deliver (the provider's id as their Message-ID)."""
    domain = recipient.rpartition("@")[2] or "invalid"
    mta = f"mx.{domain}"
    boundary = _boundary().decode()
    diagnostic = f"550 5.1.1 <{recipient}>: Recipient address rejected: User unknown in local recipient table"
    headers = [
        ("Return-Path", "<>"),
        ("Received", f"by {mta} (Postfix)\r\n\tid {_random.randrange(16**10):010X}; {at.date_header}"),
        ("Date", at.date_header),
        ("From", f"MAILER-DAEMON@{mta} (Mail Delivery System)"),
        ("Subject", "Undelivered Mail Returned to Sender"),
        ("To", sender),
        ("Auto-Submitted", "auto-replied"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"'),
        ("Message-ID", message_id),
    ]
    notice = (
        f"This is the mail system at host {mta}.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients. It's attached below.\r\n\r\n"
        "                   The mail system\r\n\r\n"
        f"<{recipient}>: host {mta}[192.0.2.25] said: {diagnostic} (in reply to RCPT TO command)\r\n"
    )
    status = (
        f"Reporting-MTA: dns; {mta}\r\n"
        f"Arrival-Date: {at.date_header}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        f"Remote-MTA: dns; {mta}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
    )
    parts = [
        b"Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + notice.encode(),
        b"Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n" + status.encode(),
        b"Content-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n" + bounced_headers,
    ]
    head = b"".join(header_line(name, value) for name, value in headers)
    return head + b"\r\nThis is a MIME-encapsulated message.\r\n\r\n" + _multipart(boundary.encode(), parts)


# --- MIME helpers ----------------------------------------------------------------------------


def _alternative(text: Text) -> bytes:
    boundary = _boundary()
    plain, charset_plain = _qp(text.plain())
    html, charset_html = _qp(text.html())
    parts = [
        b'Content-Type: text/plain; charset="' + charset_plain + b'"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\nContent-Disposition: inline\r\n\r\n" + plain,
        b'Content-Type: text/html; charset="' + charset_html + b'"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\nContent-Disposition: inline\r\n\r\n" + html,
    ]
    return b'Content-Type: multipart/alternative; \r\n\tboundary="' + boundary + b'"\r\n\r\n' + _multipart(boundary, parts)


def _multipart(boundary: bytes, parts: list[bytes]) -> bytes:
    delimiter = b"--" + boundary
    return delimiter + b"\r\n" + (b"\r\n" + delimiter + b"\r\n").join(parts) + b"\r\n" + delimiter + b"--\r\n"


def _qp(text: str) -> tuple[bytes, bytes]:
    """Quoted-printable in ISO-8859-1 (RFC 6109 §4.3.1); UTF-8 only if the text needs it (e.g. a € in a subject)."""
    try:
        data, charset = text.encode("iso-8859-1"), b"iso-8859-1"
    except UnicodeEncodeError:
        data, charset = text.encode("utf-8"), b"utf-8"
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), charset


def _base64(data: bytes) -> bytes:
    """Base64 in 76-character lines joined by CRLF (one C call instead of base64.encodebytes' loop)."""
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


_counter = [0]
_random = random.Random()  # boundaries need uniqueness, not secrecy (and os.urandom is a system call)


def _boundary() -> bytes:
    """JavaMail-style boundary, unique per part."""
    _counter[0] += 1
    return f"----=_Part_{_counter[0]}_{_random.randrange(10**10)}.{int(time.time() * 1000)}".encode()


