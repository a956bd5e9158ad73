"""Detached CMS signatures for the sandbox's receipts (S/MIME v3 `multipart/signed`, SHA-256, RSA).

The signature covers the exact bytes of the signed MIME entity (CRLF line endings), so it is made in
binary mode: what we hash is what a verifier (openssl smime -verify) canonicalises to.
OpenSSL releases the GIL while signing, so a small thread pool signs in parallel.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

MICALG = "sha-256"
PROTOCOL = "application/pkcs7-signature"


class Signer:
    """Signs as the provider: the signer certificate travels inside each signature, as RFC 6109 requires."""

    def __init__(self, cert: x509.Certificate, key: rsa.RSAPrivateKey, extra_certs: tuple[x509.Certificate, ...] = ()) -> None:
        self._cert = cert
        self._key = key
        self._extra = extra_certs

    def sign(self, content: bytes) -> bytes:
        """DER-encoded detached SignedData over `content` (signingTime is the real clock)."""
        builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(self._cert, self._key, hashes.SHA256())
        for cert in self._extra:
            builder = builder.add_certificate(cert)
        return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
