"""Builders of synthetic PEC messages and a throw-away PKI for the receipts tests.

Synthetic receipts follow the DTD and the spec table (pec-protocol.md §1.2); they are marked as
synthetic by their `pec.test` addresses. The CMS signer gives full control over signingTime and the
signed attributes, which cryptography's PKCS7 builder does not.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from asn1crypto import algos, cms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fixture_files import fixture_path

# Real samples: tests/fixtures/ (licensed, see its README) or ../shared/reference/fixtures (unlicensed).
NAMIRIAL = "linux-mailinglist-archives_osst-users_namirial_posta-certificata.eml"
ARUBA = (
    "SimoneP91_accettazione.eml",
    "SimoneP91_avvenuta-consegna.eml",
    "SimoneP91_errore-consegna.eml",
    "SimoneP91_busta-trasporto.eml",
)


def read_fixture(name: str) -> bytes:
    """A sample's bytes: tests/fixtures/ first, else ../shared (the test skips when neither has it)."""
    return fixture_path(name).read_bytes()

# ---------------------------------------------------------------------------------------------
# Synthetic PEC messages


def daticert_xml(
    tipo: str,
    *,
    errore: str = "nessuno",
    mittente: str = "mittente@pec.test",
    destinatari: tuple[tuple[str, str], ...] = (("destinatario@pec.test", "certificato"),),
    oggetto: str = "Comunicazione",
    gestore: str = "GESTORE DI PROVA S.p.A.",
    giorno: str = "19/09/2026",
    ora: str = "15:41:20",
    zona: str = "+0200",
    identificativo: str = "opec.20260919.1.1@pec.test",
    msgid: str | None = "<pecmass.C1.R0000001.1@pec.test>",
    ricevuta: str | None = None,
    consegna: str | None = None,
    errore_esteso: str | None = None,
) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<postacert tipo="{tipo}" errore="{errore}">',
        "    <intestazione>",
        f"        <mittente>{escape(mittente)}</mittente>",
        *(f'        <destinatari tipo="{t}">{escape(a)}</destinatari>' for a, t in destinatari),
        f"        <risposte>{escape(mittente)}</risposte>",
        f"        <oggetto>{escape(oggetto)}</oggetto>",
        "    </intestazione>",
        "    <dati>",
        f"        <gestore-emittente>{escape(gestore)}</gestore-emittente>",
        f'        <data zona="{zona}">',
        f"            <giorno>{giorno}</giorno>",
        f"            <ora>{ora}</ora>",
        "        </data>",
        f"        <identificativo>{escape(identificativo)}</identificativo>",
    ]
    if msgid is not None:
        lines.append(f"        <msgid>{escape(msgid)}</msgid>")
    if ricevuta:
        lines.append(f'        <ricevuta tipo="{ricevuta}"/>')
    if consegna:
        lines.append(f"        <consegna>{escape(consegna)}</consegna>")
    if errore_esteso is not None:
        lines.append(f"        <errore-esteso>{escape(errore_esteso)}</errore-esteso>")
    lines += ["    </dati>", "</postacert>", ""]
    return "\n".join(lines).encode("utf-8")


def _b64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i: i + 76] for i in range(0, len(encoded), 76))


def signed_content(daticert: bytes, text: str = "Ricevuta di prova.", postacert: bytes | None = None) -> bytes:
    """The multipart/mixed entity a provider signs: text, daticert.xml, optional postacert.eml."""
    parts = [
        b"--MIXB\r\nContent-Type: text/plain; charset=\"iso-8859-1\"\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + text.encode("latin-1") + b"\r\n",
        b"--MIXB\r\nContent-Type: application/xml; name=\"daticert.xml\"\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-Disposition: inline; filename=\"daticert.xml\"\r\n\r\n"
        + _b64_lines(daticert) + b"\r\n",
    ]
    if postacert is not None:
        parts.append(
            b"--MIXB\r\nContent-Type: message/rfc822; name=postacert.eml\r\n"
            b"Content-Disposition: inline; filename=postacert.eml\r\n\r\n" + postacert + b"\r\n"
        )
    return b"Content-Type: multipart/mixed; boundary=\"MIXB\"\r\n\r\n" + b"".join(parts) + b"--MIXB--\r\n"


def top_headers(headers: dict[str, str] | list[tuple[str, str]]) -> bytes:
    items = headers.items() if isinstance(headers, dict) else headers
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in items)


def receipt_headers(
    x_ricevuta: str | None,
    *,
    ref: str | None = "<pecmass.C1.R0000001.1@pec.test>",
    sender: str = "posta-certificata@pec.test",
    subject: str = "CONSEGNA: Comunicazione",
    message_id: str = "<opec.receipt.1@pec.test>",
    extra: list[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    headers = [
        ("Date", "Sat, 19 Sep 2026 15:41:20 +0200"),
        ("From", sender),
        ("To", "mittente@pec.test"),
        ("Message-ID", message_id),
        ("Subject", subject),
    ]
    if x_ricevuta is not None:
        headers.append(("X-Ricevuta", x_ricevuta))
    if ref is not None:
        headers.append(("X-Riferimento-Message-ID", ref))
    return headers + list(extra or ())


def unsigned_message(headers, content: bytes) -> bytes:
    """A PEC-shaped message without signature: the content entity is the top-level body."""
    head, _, body = content.partition(b"\r\n\r\n")
    return top_headers(headers) + b"MIME-Version: 1.0\r\n" + head + b"\r\n\r\n" + body


def wrap_signed(headers, content: bytes, p7s: bytes) -> bytes:
    """A multipart/signed message around `content` (exact bytes) with a detached signature."""
    return (
        top_headers(headers)
        + b"MIME-Version: 1.0\r\n"
        + b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\r\n"
        + b"\tboundary=\"SIGB\"\r\n\r\n"
        + b"This is an S/MIME signed message\r\n\r\n--SIGB\r\n"
        + content
        + b"\r\n--SIGB\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        + b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7s\r\n\r\n"
        + _b64_lines(p7s)
        + b"\r\n\r\n--SIGB--\r\n"
    )


# ---------------------------------------------------------------------------------------------
# A throw-away PKI and a CMS signer with full control over signingTime and attributes


@dataclass
class Identity:
    key: object
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gestore di prova"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


class TestPki:
    """Root CA → signer certificates, generated once per session."""

    __test__ = False  # not a test class

    def __init__(self):
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.root = self._ca("Radice di prova")

    def _ca(self, cn: str, issuer: Identity | None = None, name_constraints=None) -> Identity:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(issuer.cert.subject if issuer else _name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=3650))
            .not_valid_after(self.now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if name_constraints is not None:
            builder = builder.add_extension(name_constraints, critical=True)
        signing_key = issuer.key if issuer else key
        return Identity(key, builder.sign(signing_key, hashes.SHA256()))

    def intermediate(self, cn: str, name_constraints=None) -> Identity:
        return self._ca(cn, issuer=self.root, name_constraints=name_constraints)

    def leaf(
        self,
        *,
        emails: tuple[str, ...] = ("posta-certificata@pec.test",),
        dns: tuple[str, ...] = (),
        ips: tuple[str, ...] = (),
        eku: tuple = (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
        digital_signature: bool = True,
        issuer: Identity | None = None,
        rsa_key: bool = False,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        cn: str = "Gestore di prova S.p.A.",
    ) -> Identity:
        issuer = issuer or self.root
        key = rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
        names = [x509.RFC822Name(e) for e in emails] + [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self.now - timedelta(days=30))
            .not_valid_after(not_after or self.now + timedelta(days=365))
            .add_extension(
                x509.KeyUsage(digital_signature, not digital_signature, False, False, False, False, False,
                              False, False),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        return Identity(key, builder.sign(issuer.key, hashes.SHA256()))


def make_p7s(
    content: bytes,
    signer: Identity,
    *,
    signing_time: datetime | None = None,
    extra_certs: tuple[Identity, ...] = (),
    digest: str = "sha256",
    message_digest: bytes | None = None,
    claimed_signing_time: datetime | None = None,
) -> bytes:
    """A detached CMS SignedData over `content` with contentType, signingTime and messageDigest.

    `message_digest` forges the digest; `claimed_signing_time` puts another time in the attributes
    than the one that was signed (a forged signingTime).
    """
    signing_time = signing_time or datetime.now(UTC).replace(microsecond=0)

    def attributes(moment: datetime) -> cms.CMSAttributes:
        return cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": moment})]}),
            cms.CMSAttribute({
                "type": "message_digest",
                "values": [message_digest or hashlib.new(digest, content).digest()],
            }),
        ])

    to_sign = attributes(signing_time).dump()
    attrs = attributes(claimed_signing_time or signing_time)
    hash_cls = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}[digest]
    if isinstance(signer.key, rsa.RSAPrivateKey):
        signature = signer.key.sign(to_sign, padding.PKCS1v15(), hash_cls())
        sig_alg = "rsassa_pkcs1v15"
    else:
        signature = signer.key.sign(to_sign, ec.ECDSA(hash_cls()))
        sig_alg = f"{digest}_ecdsa"
    cert = ax509.Certificate.load(signer.der)
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({
            "issuer_and_serial_number": cms.IssuerAndSerialNumber({
                "issuer": cert.issuer,
                "serial_number": cert.serial_number,
            })
        }),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": digest}),
        "signed_attrs": attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sig_alg}),
        "signature": signature,
    })
    signed_data = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest})],
        "encap_content_info": {"content_type": "data"},
        "certificates": [cert] + [ax509.Certificate.load(c.der) for c in extra_certs],
        "signer_infos": [signer_info],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def signed_receipt(
    signer: Identity,
    x_ricevuta: str = "avvenuta-consegna",
    *,
    headers=None,
    daticert: bytes | None = None,
    signing_time: datetime | None = None,
    extra_certs: tuple[Identity, ...] = (),
) -> bytes:
    """A complete signed receipt: headers, signed multipart/mixed, detached CMS."""
    daticert = daticert or daticert_xml(x_ricevuta, consegna="destinatario@pec.test")
    content = signed_content(daticert)
    p7s = make_p7s(content, signer, signing_time=signing_time, extra_certs=extra_certs)
    return wrap_signed(headers or receipt_headers(x_ricevuta), content, p7s)


# ---------------------------------------------------------------------------------------------
# Bounces of ordinary addresses: a DSN wrapped by the sender's provider in an anomaly envelope


def _fold(value: str, width: int = 60) -> str:
    """Fold a long header value at a space, as mail servers do."""
    cut = value.rfind(" ", 0, width)
    return value if len(value) <= width or cut <= 0 else value[:cut] + "\r\n   " + value[cut:]


def dsn_message(
    *,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <nessuno@example.org>: Recipient address rejected: User unknown",
    recipient: str = "nessuno@example.org",
    returned_message_id: str = "<opec.20260919.1.1@pec.test>",
    returned_ref: str | None = "<pecmass.C1.R0000001.1@pec.test>",
    returned_as: str = "text/rfc822-headers",
) -> bytes:
    """A Postfix-style bounce (RFC 3464) quoting the headers of our transport envelope."""
    returned = [
        f"Message-ID: {returned_message_id}",
        "From: \"Per conto di: mittente@pec.test\" <posta-certificata@pec.test>",
        "Subject: POSTA CERTIFICATA: Comunicazione",
        "X-Trasporto: posta-certificata",
    ]
    if returned_ref:
        returned.append(f"X-Riferimento-Message-ID: {returned_ref}")
    returned_block = "\r\n".join(returned) + "\r\n"
    if returned_as == "message/rfc822":
        returned_block += "\r\nCorpo del messaggio.\r\n"
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        "To: mittente@pec.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce.1@mx.example.org>\r\n"
        "Date: Sat, 19 Sep 2026 15:42:00 +0200\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"REPB\"\r\n\r\n"
        "--REPB\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        "--REPB\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n"
        "Arrival-Date: Sat, 19 Sep 2026 15:41:59 +0200 (CEST)\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: {_fold(diagnostic)}\r\n\r\n"
        f"--REPB\r\nContent-Type: {returned_as}\r\n\r\n{returned_block}"
        "--REPB--\r\n"
    ).encode()


def anomaly_envelope(inner: bytes, *, date: str = "Sat, 19 Sep 2026 15:42:01 +0200") -> bytes:
    """The provider's anomaly envelope: a text part and the received message, no daticert."""
    return (
        f"Date: {date}\r\n"
        "From: \"Per conto di: MAILER-DAEMON@mx.example.org\" <posta-certificata@pec.test>\r\n"
        "To: mittente@pec.test\r\n"
        "Subject: ANOMALIA MESSAGGIO: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <opec.anomalia.1@pec.test>\r\n"
        "X-Trasporto: errore\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"ANOB\"\r\n\r\n"
        "--ANOB\r\nContent-Type: text/plain; charset=\"iso-8859-1\"\r\n\r\n"
        "Anomalia nel messaggio: il messaggio originale e' incluso in allegato.\r\n"
        "--ANOB\r\nContent-Type: message/rfc822\r\n\r\n"
    ).encode() + inner + b"\r\n--ANOB--\r\n"


# ---------------------------------------------------------------------------------------------
# Tampering helpers


def signature_der(raw: bytes) -> bytes:
    """The DER of the detached signature of a signed message."""
    from pecmass_xl.receipts.rawmime import decode_body, find_signed_entity, parse_headers, split_head_body

    _, part = find_signed_entity(raw)
    head, body = split_head_body(part)
    return decode_body(body, parse_headers(head).get("content-transfer-encoding") or "base64")


def replace_signature(raw: bytes, der: bytes) -> bytes:
    """The same message with another detached signature (base64, CRLF lines)."""
    from pecmass_xl.receipts.rawmime import find_signed_entity, split_head_body

    _, part = find_signed_entity(raw)
    _, body = split_head_body(part)
    newline = b"\r\n" if b"\r\n" in body else b"\n"
    return raw.replace(body.rstrip(b"\r\n"), _b64_lines(der).replace(b"\r\n", newline), 1)


def signed_part(raw: bytes) -> bytes:
    from pecmass_xl.receipts.rawmime import find_signed_entity

    return find_signed_entity(raw)[0]
