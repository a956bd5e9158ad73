"""The sandbox's own small PKI: a local CA, the TLS server certificate and the provider's signing certificate.

Real PEC providers sign receipts with a certificate issued by AgID CA1 whose subjectAltName is
`posta-certificata@<provider domain>`; the sandbox imitates that shape with a CA of its own, kept in
the sandbox folder so that clients (and the receipts' signature check) can trust it explicitly.
Nothing here is ever added to a system trust store.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pecmass_xl.sandbox.rules import SERVICE_ADDRESS as PROVIDER_ADDRESS

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
SIGNER_CERT_FILE = "firma-gestore.pem"
SIGNER_KEY_FILE = "firma-gestore-key.pem"

CA_LIFETIME = dt.timedelta(days=3650)
LEAF_LIFETIME = dt.timedelta(days=825)
RENEW_BEFORE = dt.timedelta(days=30)

# Generating an RSA key costs 0.1-0.5 s: a process that starts many sandboxes in fresh folders
# (the test suite) reuses the material generated first instead of paying that every time.
_process_cache: dict[str, bytes] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class SandboxPKI:
    """Paths and loaded objects of the sandbox's certificates."""

    directory: Path
    ca_cert: x509.Certificate
    signer_cert: x509.Certificate
    signer_key: rsa.RSAPrivateKey

    @property
    def ca_file(self) -> Path:
        return self.directory / CA_FILE

    @property
    def server_cert_file(self) -> Path:
        return self.directory / SERVER_CERT_FILE

    @property
    def server_key_file(self) -> Path:
        return self.directory / SERVER_KEY_FILE

    @property
    def signer_cert_file(self) -> Path:
        return self.directory / SIGNER_CERT_FILE

    @property
    def signer_key_file(self) -> Path:
        return self.directory / SIGNER_KEY_FILE

    def server_ssl_context(self) -> ssl.SSLContext:
        """TLS context for the SMTP and IMAP listeners (TLS 1.2 or newer, no client certificates)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.server_cert_file), str(self.server_key_file))
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the sandbox CA only (for tests and the benchmark)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def load_or_create(directory: Path) -> SandboxPKI:
    """Load the certificates kept in `directory`, creating or renewing what is missing or expiring."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_cert, ca_key = _load_pair(directory / CA_FILE, directory / CA_KEY_FILE, now)
    if ca_cert is None or ca_key is None:
        ca_cert, ca_key = _cached_or_new_ca(now)
        _write_pem(directory / CA_KEY_FILE, _key_pem(ca_key), private=True)
        _write_pem(directory / CA_FILE, ca_cert.public_bytes(serialization.Encoding.PEM))
        for name in (SERVER_CERT_FILE, SERVER_KEY_FILE, SIGNER_CERT_FILE, SIGNER_KEY_FILE):
            (directory / name).unlink(missing_ok=True)  # leaves of an old CA are useless now

    server_cert, server_key = _load_pair(directory / SERVER_CERT_FILE, directory / SERVER_KEY_FILE, now, issuer=ca_cert)
    if server_cert is None or server_key is None:
        server_key = _cached_key("server", lambda: ec.generate_private_key(ec.SECP256R1()))
        server_cert = _server_certificate(ca_cert, ca_key, server_key, now)
        _write_pem(directory / SERVER_KEY_FILE, _key_pem(server_key), private=True)
        _write_pem(directory / SERVER_CERT_FILE, server_cert.public_bytes(serialization.Encoding.PEM))

    signer_cert, signer_key = _load_pair(directory / SIGNER_CERT_FILE, directory / SIGNER_KEY_FILE, now, issuer=ca_cert)
    if signer_cert is None or signer_key is None:
        signer_key = _cached_key("signer", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
        signer_cert = _signer_certificate(ca_cert, ca_key, signer_key, now)
        _write_pem(directory / SIGNER_KEY_FILE, _key_pem(signer_key), private=True)
        _write_pem(directory / SIGNER_CERT_FILE, signer_cert.public_bytes(serialization.Encoding.PEM))
    assert isinstance(signer_key, rsa.RSAPrivateKey)
    return SandboxPKI(directory=directory, ca_cert=ca_cert, signer_cert=signer_cert, signer_key=signer_key)


# --- building certificates -------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pecmass sandbox (gestore PEC simulato)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("pecmass sandbox CA (solo per prove locali)")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf_builder(ca_cert: x509.Certificate, ca_key, public_key, common_name: str, now: dt.datetime) -> x509.CertificateBuilder:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(min(now + LEAF_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )


# Both leaves only sign (TLS handshakes, receipts), never encipher or issue.
_DIGITAL_SIGNATURE_ONLY = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def _server_certificate(ca_cert, ca_key, key, now: dt.datetime) -> x509.Certificate:
    """TLS server use only, valid for `localhost` and `127.0.0.1`."""
    return (
        _leaf_builder(ca_cert, ca_key, key.public_key(), "localhost", now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(_DIGITAL_SIGNATURE_ONLY, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _signer_certificate(ca_cert, ca_key, key, now: dt.datetime) -> x509.Certificate:
    """Shaped like a PEC provider's signer: e-mail protection, digitalSignature, SAN = the service address.

    Like the real ones (RFC 6109 §5.5) it carries no BasicConstraints.
    """
    return (
        _leaf_builder(ca_cert, ca_key, key.public_key(), "Gestore PEC sandbox", now)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(PROVIDER_ADDRESS)]), critical=False)
        .add_extension(_DIGITAL_SIGNATURE_ONLY, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


# --- files and cache -------------------------------------------------------------------------


def _cached_or_new_ca(now: dt.datetime):
    with _cache_lock:
        if "ca_cert" in _process_cache:
            cert = x509.load_pem_x509_certificate(_process_cache["ca_cert"])
            key = serialization.load_pem_private_key(_process_cache["ca_key"], password=None)
            if cert.not_valid_after_utc - RENEW_BEFORE > now:
                return cert, key
        cert, key = _new_ca(now)
        _process_cache.clear()
        _process_cache["ca_cert"] = cert.public_bytes(serialization.Encoding.PEM)
        _process_cache["ca_key"] = _key_pem(key)
        return cert, key


def _cached_key(label: str, generate):
    with _cache_lock:
        pem = _process_cache.get(label)
        if pem is not None:
            return serialization.load_pem_private_key(pem, password=None)
        key = generate()
        _process_cache[label] = _key_pem(key)
        return key


def _load_pair(cert_path: Path, key_path: Path, now: dt.datetime, issuer: x509.Certificate | None = None):
    """The certificate and key at these paths, or (None, None) if missing, unreadable or expiring."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None, None
    if cert.not_valid_after_utc - RENEW_BEFORE <= now or cert.not_valid_before_utc > now:
        return None, None
    if issuer is not None and cert.issuer != issuer.subject:
        return None, None
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return None, None
    return cert, key


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _write_pem(path: Path, data: bytes, private: bool = False) -> None:
    """Atomic write; private keys readable by the owner only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
