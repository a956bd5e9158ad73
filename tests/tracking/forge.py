"""Receipts made by the test, with the sandbox's own builder: genuine ones (signed by the sandbox
provider's key) with chosen words, dates and content, and forgeries (no signature, the wrong key,
a receipt hidden inside a transport envelope, hostile XML, a genuine receipt replayed with a new
top-level Message-ID, a daticert without `<msgid>`, an unsigned anomaly envelope with a forged
delivery-status report)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import re
import time
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pecmass_xl.sandbox import certs, rules
from pecmass_xl.sandbox.provider import moment
from pecmass_xl.sandbox.receipts_builder import (
    ReceiptBuilder,
    Submission,
    delivery_status_notification,
    postacert,
)
from pecmass_xl.sandbox.signing import Signer


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_key(path: Path):
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def provider_builder(sandbox_dir: Path) -> ReceiptBuilder:
    """Signs exactly as the sandbox provider does (its signer certificate and key)."""
    pki = certs.load_or_create(Path(sandbox_dir))
    return ReceiptBuilder(Signer(pki.signer_cert, pki.signer_key), rules.SERVICE_ADDRESS)


def tls_key_builder(sandbox_dir: Path) -> ReceiptBuilder:
    """Signs with the sandbox's TLS server key: same CA, but not the provider's signing certificate."""
    directory = Path(sandbox_dir)
    signer = Signer(_load_cert(directory / certs.SERVER_CERT_FILE), _load_key(directory / certs.SERVER_KEY_FILE))
    return ReceiptBuilder(signer, rules.SERVICE_ADDRESS)


def foreign_ca_builder() -> ReceiptBuilder:
    """A certificate shaped exactly like the provider's (same e-mail, e-mail protection) from another CA."""
    return foreign_ca()[0]


def foreign_ca() -> tuple[ReceiptBuilder, bytes]:
    """(a builder signing as the look-alike provider certificate, that other CA's PEM)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sandbox CA (impostore)")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gestore PEC sandbox")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(rules.SERVICE_ADDRESS)]), critical=False)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return ReceiptBuilder(Signer(leaf, key), rules.SERVICE_ADDRESS), ca.public_bytes(serialization.Encoding.PEM)


def submission(message_id: str, recipient: str, identificativo: str | None = None,
               subject: str = "Comunicazione 1", when: float | None = None) -> Submission:
    """What the provider knew of one of our messages (enough to build its receipts)."""
    return Submission(
        identificativo=identificativo or f"opec-forged.{uuid.uuid4().hex}@pec.sandbox.test",
        client_msgid=message_id, sender=rules.SENDER, subject=subject, reply_to="", to=[recipient], cc=[],
        recipients=[(recipient, "certificato")], tipo_ricevuta="completa", to_header=recipient, cc_header="",
        accepted_at=when or time.time(),
    )


def receipt_id() -> str:
    return f"<forged.{uuid.uuid4().hex}@pec.sandbox.test>"


def delivered(builder: ReceiptBuilder, sub: Submission, when: float | None = None) -> bytes:
    return builder.avvenuta_consegna(sub, receipt_id(), moment(when or time.time()), sub.to[0], "sintetica", None)


def not_delivered(builder: ReceiptBuilder, sub: Submission, words: str, when: float | None = None) -> bytes:
    return builder.errore_consegna(sub, receipt_id(), moment(when or time.time()), sub.to[0], "altro", words, words)


def accepted(builder: ReceiptBuilder, sub: Submission, when: float, external: bool = False) -> bytes:
    """An acceptance signed at `when` (simulated POSIX time); `external`: the recipient is not PEC."""
    if external:
        sub = Submission(**{**sub.__dict__, "recipients": [(sub.to[0], "esterno")]})
    return builder.accettazione(sub, receipt_id(), moment(when))


def timeout_notice(builder: ReceiptBuilder, sub: Submission, when: float, final: bool = False) -> bytes:
    """A `preavviso-errore-consegna` signed at `when`: the 12-hour wording (4.4.7) unless `final` (5.4.1)."""
    return builder.preavviso_errore_consegna(sub, receipt_id(), moment(when), sub.to[0], final)


def replayed(raw: bytes, message_id: str | None = None) -> bytes:
    """The same signed receipt with only its (unsigned) top-level Message-ID changed."""
    new = (message_id or receipt_id()).encode()
    out, count = re.subn(rb"(?im)^Message-ID:[^\r\n]*(\r\n[ \t][^\r\n]*)*", b"Message-ID: " + new, raw, count=1)
    assert count == 1, "the receipt has a Message-ID to replace"
    return out


class _NoMsgidBuilder(ReceiptBuilder):
    def _daticert(self, sub, tipo, at, *, risposte, **extra):
        return dataclasses.replace(super()._daticert(sub, tipo, at, risposte=risposte, **extra), msgid=None)


def without_signed_msgid(sandbox_dir: Path) -> ReceiptBuilder:
    """Signs as the provider, but its daticert has no `<msgid>` (as some providers send)."""
    pki = certs.load_or_create(Path(sandbox_dir))
    return _NoMsgidBuilder(Signer(pki.signer_cert, pki.signer_key), rules.SERVICE_ADDRESS)


def delivered_with_content(builder: ReceiptBuilder, sub: Submission, original: bytes, when: float | None = None) -> bytes:
    """A `completa` delivery receipt carrying `original` (the sent .eml, maybe altered) as postacert.eml."""
    carried = postacert(original, sub.identificativo, sub.client_msgid, "from forged by forged")
    return builder.avvenuta_consegna(sub, receipt_id(), moment(when or time.time()), sub.to[0], "completa", carried)


def forged_bounce(builder: ReceiptBuilder, message_id: str, recipient: str, when: float | None = None,
                  signed: bool = False) -> bytes:
    """An anomaly envelope wrapping a delivery-status report that quotes `message_id` (unsigned unless `signed`)."""
    at = moment(when or time.time())
    bounced = (b"From: " + rules.SENDER.encode() + b"\r\nTo: " + recipient.encode() + b"\r\nMessage-ID: "
               + message_id.encode() + b"\r\nSubject: Comunicazione\r\n\r\n")
    dsn = delivery_status_notification(bounced, rules.SENDER, recipient, at, receipt_id())
    envelope = builder.anomalia(dsn, at, "Messaggio non consegnato", "Message not delivered")
    return envelope if signed else strip_signature(envelope)


def strip_signature(raw: bytes) -> bytes:
    """The same receipt with its signature removed: the signed entity becomes the whole body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    boundary = re.search(rb'boundary="([^"]+)"', head).group(1)
    entity = body.split(b"--" + boundary + b"\r\n", 2)[1].rsplit(b"\r\n", 1)[0]
    head = re.sub(rb"Content-Type: multipart/signed.*?\r\n(?=[^ \t])", b"", head + b"\r\n", flags=re.S)
    return head + entity


def inside_transport_envelope(builder: ReceiptBuilder, inner: bytes, quoted_message_id: str) -> bytes:
    """A genuine, signed transport envelope quoting our Message-ID whose content is a receipt."""
    sub = submission(quoted_message_id, rules.SENDER)
    carried = postacert(inner, sub.identificativo, quoted_message_id, "from forged by forged")
    return builder.busta_trasporto(sub, moment(time.time()), carried)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE postacert [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<postacert tipo="errore-consegna" errore="altro"><dati><msgid>MSGID</msgid>
<errore-esteso>&lol9;</errore-esteso></dati></postacert>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE postacert [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<postacert tipo="errore-consegna" errore="altro"><dati><msgid>MSGID</msgid>
<errore-esteso>&secret;</errore-esteso></dati></postacert>
"""

# Quadratic blow-up: one big entity referenced many times (no nesting).
QUADRATIC = (b'<?xml version="1.0"?>\n<!DOCTYPE postacert [ <!ENTITY a "' + b"A" * 50_000 + b'"> ]>\n'
             b'<postacert tipo="errore-consegna" errore="altro"><dati><msgid>MSGID</msgid><errore-esteso>'
             + b"&a;" * 20_000 + b"</errore-esteso></dati></postacert>\n")


def hostile_receipt(xml: bytes, message_id: str, kind: str = "errore-consegna") -> bytes:
    """An unsigned receipt quoting `message_id` whose daticert.xml is `xml` (MSGID replaced)."""
    xml = xml.replace(b"MSGID", message_id.encode())
    return (
        b"From: " + rules.SERVICE_ADDRESS.encode() + b"\r\n"
        b"To: " + rules.SENDER.encode() + b"\r\n"
        b"Date: " + moment(time.time()).date_header.encode() + b"\r\n"
        b"Message-ID: " + receipt_id().encode() + b"\r\n"
        b"Subject: AVVISO DI MANCATA CONSEGNA: prova\r\n"
        b"X-Ricevuta: " + kind.encode() + b"\r\n"
        b"X-Riferimento-Message-ID: " + message_id.encode() + b"\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRicevuta di prova.\r\n"
        b'--b1\r\nContent-Type: application/xml; name="daticert.xml"\r\nContent-Transfer-Encoding: base64\r\n'
        b'Content-Disposition: inline; filename="daticert.xml"\r\n\r\n'
        + base64.encodebytes(xml).replace(b"\n", b"\r\n") + b"--b1--\r\n"
    )
