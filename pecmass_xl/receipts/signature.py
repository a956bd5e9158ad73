"""S/MIME signature of PEC receipts, verified in-process at the signing time.

A receipt is evidence only if its provider signed it. Steps, each failing with a short Italian
reason (DESIGN §5.7):
1. the `multipart/signed` entity is cut out of the RAW bytes (never re-serialised by the `email`
   package, which re-folds headers) and its first part converted to CRLF, as S/MIME requires;
2. the detached CMS SignedData (asn1crypto) must carry the signer's certificate; the content digest
   must equal the signed `messageDigest`, and the signature over the signed attributes (re-tagged as a
   SET, original bytes) must check with the signer's key (cryptography: RSA PKCS#1 v1.5, RSA-PSS,
   ECDSA);
3. the signer must be the provider itself: its certificate's e-mail address (SAN rfc822Name) equals
   the receipt's `From`, its key usage allows digital signature and its extended key usage e-mail
   protection. A receipt signed by any other certificate of the same CA is not verified;
4. the chain goes to a trust anchor at the CMS `signingTime` (pyhanko-certvalidator, no network, name
   constraints enforced). By default the anchor is the Actalis Authentication Root CA and the path
   must pass through "AgID CA1", whose name constraints list the PEC providers' domains. Chain
   results are memoised per set of certificates; the signing time is checked against the path's
   validity window on every receipt, never cached;
5. the PEC headers used to classify (`X-Ricevuta`, `X-Riferimento-Message-ID`) sit outside the signed
   part: they must agree with the signed `daticert.xml`, or the receipt is not verified.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import hashlib
import os
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms, pem, x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import InvalidVersion, load_der_x509_certificate

from pecmass_xl.core.vocabulary import FIRMA_ASSENTE, FIRMA_NON_VERIFICATA, FIRMA_VERIFICATA
from pecmass_xl.receipts.parse import (
    CATEGORY_RECEIPT,
    CATEGORY_TRANSPORT,
    ParsedMessage,
    normalize_message_id,
    parse_message,
    read_daticert,
)
from pecmass_xl.receipts.rawmime import (
    decode_body,
    find_signed_entity,
    parse_headers,
    split_head_body,
    to_crlf,
)

PEC_INTERMEDIATE_CN = "AgID CA1"
ACTALIS_ROOT_CN = "Actalis Authentication Root CA"
ACTALIS_ROOT_SHA256 = "55926084ec963a64b96e2abe01ce0ba86a64fbfebcc7aab5afc155b37fd76066"

CACHE_LIMIT = 4096     # memoised chains (one per provider certificate in practice)
TIME_TOLERANCE = timedelta(seconds=1)

_HASHES = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

# Fallback copy of the public Actalis root (as in Debian's ca-certificates), used only when the
# system store has none (Windows fills its root store on demand); pinned by ACTALIS_ROOT_SHA256.
_ACTALIS_ROOT_PEM = b"""-----BEGIN CERTIFICATE-----
MIIFuzCCA6OgAwIBAgIIVwoRl0LE48wwDQYJKoZIhvcNAQELBQAwazELMAkGA1UE
BhMCSVQxDjAMBgNVBAcMBU1pbGFuMSMwIQYDVQQKDBpBY3RhbGlzIFMucC5BLi8w
MzM1ODUyMDk2NzEnMCUGA1UEAwweQWN0YWxpcyBBdXRoZW50aWNhdGlvbiBSb290
IENBMB4XDTExMDkyMjExMjIwMloXDTMwMDkyMjExMjIwMlowazELMAkGA1UEBhMC
SVQxDjAMBgNVBAcMBU1pbGFuMSMwIQYDVQQKDBpBY3RhbGlzIFMucC5BLi8wMzM1
ODUyMDk2NzEnMCUGA1UEAwweQWN0YWxpcyBBdXRoZW50aWNhdGlvbiBSb290IENB
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAp8bEpSmkLO/lGMWwUKNv
UTufClrJwkg4CsIcoBh/kbWHuUA/3R1oHwiD1S0eiKD4j1aPbZkCkpAW1V8IbInX
4ay8IMKx4INRimlNAJZaby/ARH6jDuSRzVju3PvHHkVH3Se5CAGfpiEd9UEtL0z9
KK3giq0itFZljoZUj5NDKd45RnijMCO6zfB9E1fAXdKDa0hMxKufgFpbOr3JpyI/
gCczWw63igxdBzcIy2zSekciRDXFzMwujt0q7bd9Zg1fYVEiVRvjRuPjPdA1Yprb
rxTIW6HMiRvhMCb8oJsfgadHHwTrozmSBp+Z07/T6k9QnBn+locePGX2oxgkg4YQ
51Q+qDp2JE+BIcXjDwL4k5RHILv+1A7TaLndxHqEguNTVHnd25zS8gebLra8Pu2F
be8lEfKXGkJh90qX6IuxEAf6ZYGyojnP9zz/GPvG8VqLWeICrHuS0E4UT1lF9gxe
KF+w6D9Fz8+vm2/7hNN3WpVvrJSEnu68wEqPSpP4RCHiMUVhUE4Q2OM1fEwZtN4F
v6MGn8i1zeQf1xcGDXqVdFUNaBr8EBtiZJ1t4JWgw5QHVw0U5r0F+7if5t+L4sbn
fpb2U8WANFAoWPASUHEXMLrmeGO89LKtmyuy/uE5jF66CyCU3nuDuP/jVo23Eek7
jPKxwV2dpAtMK9myGPW1n0sCAwEAAaNjMGEwHQYDVR0OBBYEFFLYiDrIn3hm7Ynz
ezhwlMkCAjbQMA8GA1UdEwEB/wQFMAMBAf8wHwYDVR0jBBgwFoAUUtiIOsifeGbt
ifN7OHCUyQICNtAwDgYDVR0PAQH/BAQDAgEGMA0GCSqGSIb3DQEBCwUAA4ICAQAL
e3KHwGCmSUyIWOYdiPcUZEim2FgKDk8TNd81HdTtBjHIgT5q1d07GjLukD0R0i70
jsNjLiNmsGe+b7bAEzlgqqI0JZN1Ut6nna0Oh4lScWoWPBkdg/iaKWW+9D+a2fDz
WochcYBNy+A4mz+7+uAwTc+G02UQGRjRlwKxK3JCaKygvU5a2hi/a5iB0P2avl4V
SM0RFbnAKVy06Ij3Pjaut2L9HmLecHgQHEhb2rykOLpn7VU+Xlff1ANATIGk0k9j
pwlCCRT8AKnCgHNPLsBA2RF7SOp6AsDT6ygBJlh0wcBzIm2Tlf05fbsq4/aC4yyX
X04fkZT6/iyj2HYauE2yOE+b+h1IYHkm4vP9qdCa6HCPSXrW5b0KDtst842/6+Ok
fcvHlXHo2qN8xcL4dJIEG4aspCJTQLas/kx2z/uUMsA1n3Y/buWQbqCmJqK4LL7R
K4X9p2jIugErsWx0Hbhzlefut8cl8ABMALJ+tguLHPPAUJ4lueAI3jZm/zel0btU
ZCzJJ7VLkn5l/9Mt4blOvH+kQSGQQXemOR/qnuOf0GZvBeyqdn6/axag67XH/JJU
LysRJyU3eExRarDzzFhdFPFqSBX/wge2sY0PjlxQRrM9vwGYT7JZVEc+NHt4bVaT
LnPqZih4zR0Uv6CPLy64Lo7yFIrM6bV8+2ydDKXhlg==
-----END CERTIFICATE-----
"""


@dataclass(frozen=True, slots=True)
class SignatureResult:
    """What the signature proves: `status` for the `Firma` column, `reason` in Italian."""

    status: str                       # verificata | non verificata | assente
    reason: str
    signer_email: str | None = None   # SAN rfc822Name of the signer certificate
    signing_time: datetime | None = None  # CMS signingTime, aware UTC
    chain_cached: bool = False        # the chain result came from the memo (for benchmarks)

    @property
    def verified(self) -> bool:
        return self.status == FIRMA_VERIFICATA


class _Failure(Exception):
    """A verification step failed; carries the result to return."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _ChainOk:
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True, slots=True)
class _ChainBad:
    reason: str


@dataclass(frozen=True, slots=True)
class _SignerFacts:
    public_key: object
    emails: tuple[str, ...]
    key_usage: frozenset[str]
    ext_key_usage: frozenset[str] | None


def _decode_signature_part(part: bytes) -> bytes:
    head, body = split_head_body(part)
    cte = parse_headers(head).get("Content-Transfer-Encoding")
    return decode_body(body, cte or "base64")


# ---------------------------------------------------------------------------------------------
# Trust anchors


def _certs_from_bytes(data: bytes) -> list[x509.Certificate]:
    if pem.detect(data):
        return [x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"]
    return [x509.Certificate.load(data)]


def load_trust_roots(source: object) -> list[x509.Certificate]:
    """Certificates from PEM/DER bytes, a file path, or a list mixing both."""
    if isinstance(source, (str, os.PathLike)):
        return _certs_from_bytes(Path(source).read_bytes())
    if isinstance(source, (bytes, bytearray)):
        return _certs_from_bytes(bytes(source))
    if isinstance(source, x509.Certificate):
        return [source]
    roots: list[x509.Certificate] = []
    for item in source:  # type: ignore[attr-defined]
        roots.extend(load_trust_roots(item))
    return roots


def _system_bundle_files() -> list[Path]:
    paths = ssl.get_default_verify_paths()
    names = [
        os.environ.get("SSL_CERT_FILE"),
        paths.cafile,
        paths.openssl_cafile,
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
        "/etc/ssl/ca-bundle.pem",
    ]
    files: list[Path] = []
    for name in names:
        if name and Path(name).is_file() and Path(name) not in files:
            files.append(Path(name))
    for directory in (os.environ.get("SSL_CERT_DIR"), paths.capath, paths.openssl_capath):
        if directory and Path(directory).is_dir():
            files.extend(sorted(Path(directory).glob("Actalis*")))
    return files


def _is_actalis_root(cert: x509.Certificate) -> bool:
    try:
        return cert.self_signed == "maybe" and cert.subject.native.get("common_name") == ACTALIS_ROOT_CN
    except (ValueError, TypeError, KeyError):
        return False


def system_actalis_roots() -> list[x509.Certificate]:
    """The Actalis Authentication Root CA from the system store, else the pinned built-in copy."""
    needle = ACTALIS_ROOT_CN.encode()
    found: dict[bytes, x509.Certificate] = {}
    ders: list[bytes] = []
    for path in _system_bundle_files():
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if not pem.detect(data):
            continue
        try:
            ders.extend(der for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE")
        except ValueError:
            continue
    if hasattr(ssl, "enum_certificates"):  # Windows
        for store in ("ROOT", "CA"):
            try:
                ders.extend(der for der, encoding, _ in ssl.enum_certificates(store) if encoding == "x509_asn")
            except (OSError, PermissionError):
                continue
    for der in ders:
        if needle not in der:
            continue
        try:
            cert = x509.Certificate.load(der)
            if _is_actalis_root(cert):
                found[hashlib.sha256(der).digest()] = cert
        except (ValueError, TypeError):
            continue
    if not found:
        builtin = _certs_from_bytes(_ACTALIS_ROOT_PEM)[0]
        if hashlib.sha256(builtin.dump()).hexdigest() == ACTALIS_ROOT_SHA256:
            found[b"builtin"] = builtin
    return list(found.values())


# ---------------------------------------------------------------------------------------------
# The verifier


_DEFAULT = object()


def _run(coro):
    """Run a coroutine to completion from synchronous code, also when a loop already runs here.

    Only chain validations that miss the memo get here, so a fresh event loop per call is cheap
    enough and leaves nothing open behind.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class SignatureVerifier:
    """Verify receipts' S/MIME signatures against fixed trust anchors; reusable and thread-safe.

    `trust_roots`: None for the PEC providers' anchor (Actalis root, path through AgID CA1), or
    PEM/DER certificate bytes, a file path, or a list of them (e.g. the sandbox CA), in which case
    any path to one of those roots is accepted. `require_intermediate_cn`: the common name of a CA
    the path must pass through (default "AgID CA1" with the default anchor, none otherwise).
    Unreadable trust roots raise OSError / ValueError here, never later in `verify`.
    """

    def __init__(self, trust_roots: object | None = None, *, require_intermediate_cn: object = _DEFAULT):
        if trust_roots is None:
            self._roots = system_actalis_roots()
        else:
            self._roots = load_trust_roots(trust_roots)
        if require_intermediate_cn is _DEFAULT:
            require_intermediate_cn = PEC_INTERMEDIATE_CN if trust_roots is None else None
        self._required_intermediate: str | None = require_intermediate_cn  # type: ignore[assignment]
        self._chains: dict[tuple, _ChainOk | _ChainBad] = {}
        self._signers: dict[bytes, _SignerFacts] = {}
        self._lock = threading.Lock()

    @property
    def has_trust_roots(self) -> bool:
        return bool(self._roots)

    def verify(
        self,
        raw: bytes,
        expected_from: str | None = None,
        parsed: ParsedMessage | None = None,
        at: datetime | None = None,
    ) -> SignatureResult:
        """Verify the signature of a raw message. Never raises.

        `expected_from`: the address the signer must have (default: the message's own From).
        `parsed`: the message's ParsedMessage if already at hand (saves parsing it again).
        `at`: check the chain at this moment instead of the CMS signing time (tests, audits).
        """
        try:
            return self._verify(bytes(raw), expected_from, parsed, at)
        except _Failure as failure:
            return SignatureResult(failure.status, failure.reason)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, NotImplementedError):
            return SignatureResult(FIRMA_NON_VERIFICATA, "firma non leggibile")

    # -- steps ------------------------------------------------------------------------------------

    def _verify(self, raw: bytes, expected_from: str | None, parsed: ParsedMessage | None,
                at: datetime | None) -> SignatureResult:
        try:
            found = find_signed_entity(raw)
        except (ValueError, TypeError, RecursionError):
            found = None
        if found is None:
            raise _Failure(FIRMA_ASSENTE, "nessuna firma S/MIME")
        signed_raw, signature_part = found
        content = to_crlf(signed_raw)

        signed_data, certs = self._read_cms(_decode_signature_part(signature_part))
        first_failure: SignatureResult | None = None
        for signer_info in signed_data["signer_infos"]:
            known: dict[str, object] = {}
            try:
                return self._verify_signer(signer_info, certs, content, raw, expected_from, parsed, at, known)
            except _Failure as failure:
                first_failure = first_failure or SignatureResult(
                    failure.status, failure.reason, known.get("email"), known.get("time")  # type: ignore[arg-type]
                )
            except (ValueError, TypeError, KeyError, IndexError, OverflowError, NotImplementedError):
                first_failure = first_failure or SignatureResult(
                    FIRMA_NON_VERIFICATA, "firma non leggibile", known.get("email"), known.get("time")  # type: ignore[arg-type]
                )
        return first_failure or SignatureResult(FIRMA_ASSENTE, "firma senza firmatari")

    @staticmethod
    def _read_cms(der: bytes) -> tuple[cms.SignedData, list[x509.Certificate]]:
        if not der:
            raise _Failure(FIRMA_ASSENTE, "firma illeggibile")
        try:
            info = cms.ContentInfo.load(der)
            if info["content_type"].native != "signed_data":
                raise _Failure(FIRMA_NON_VERIFICATA, "formato di firma non gestito")
            signed_data = info["content"]
            if signed_data["encap_content_info"]["content"].native is not None:
                raise _Failure(FIRMA_NON_VERIFICATA, "firma opaca non gestita")
            certs = [c.chosen for c in (signed_data["certificates"] or ()) if c.name == "certificate"]
            for cert in certs:
                cert.dump()
            if len(signed_data["signer_infos"]) == 0:
                raise _Failure(FIRMA_ASSENTE, "firma senza firmatari")
        except _Failure:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, NotImplementedError):
            raise _Failure(FIRMA_ASSENTE, "firma illeggibile") from None
        return signed_data, certs

    def _verify_signer(self, signer_info, certs, content, raw, expected_from, parsed, at, known) -> SignatureResult:
        """Check one SignerInfo; fills `known` (signer e-mail, signing time) for the failure report."""
        cert = _find_signer_cert(signer_info, certs)
        if cert is None:
            raise _Failure(FIRMA_NON_VERIFICATA, "certificato del firmatario assente")
        facts = self._signer_facts(cert)
        known["email"] = facts.emails[0] if facts.emails else None
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        if digest_name not in _HASHES:
            raise _Failure(FIRMA_NON_VERIFICATA, "algoritmo di firma non gestito")

        signed_attrs = signer_info["signed_attrs"]
        signing_time: datetime | None = None
        if signed_attrs.native:
            attrs = {a["type"].native: a["values"] for a in signed_attrs}
            times = attrs.get("signing_time")
            if times is not None and len(times) == 1:
                signing_time = times[0].native.astimezone(UTC)
                known["time"] = signing_time
            content_type = attrs.get("content_type")
            digests = attrs.get("message_digest")
            if content_type is None or content_type[0].native != "data" or digests is None or len(digests) != 1:
                raise _Failure(FIRMA_NON_VERIFICATA, "attributi firmati non validi")
            if digests[0].native != _digest(digest_name, content):
                raise _Failure(FIRMA_NON_VERIFICATA, "contenuto modificato dopo la firma")
            encoded = signed_attrs.dump()
            to_verify = b"\x31" + encoded[1:]  # DER of SET OF Attribute, original bytes (RFC 5652 §5.4)
        else:
            to_verify = content
        _check_signature(facts.public_key, signer_info, digest_name, to_verify)

        expected = (expected_from or _top_from(raw) or "").strip().lower()
        if not expected or expected not in facts.emails:
            raise _Failure(FIRMA_NON_VERIFICATA, "firmatario diverso dal mittente della ricevuta")
        known["email"] = expected
        if "digital_signature" not in facts.key_usage or facts.ext_key_usage is None \
                or "email_protection" not in facts.ext_key_usage:
            raise _Failure(FIRMA_NON_VERIFICATA, "certificato non destinato alla firma di e-mail")

        moment = at or signing_time or datetime.now(UTC)
        cached = self._check_chain(cert, certs, moment)
        self._check_binding(content, raw, parsed)
        reason = "firma valida alla data della firma" if signing_time else "firma valida (data della firma assente)"
        return SignatureResult(FIRMA_VERIFICATA, reason, expected, signing_time, cached)

    def _signer_facts(self, cert: x509.Certificate) -> _SignerFacts:
        key = hashlib.sha256(cert.dump()).digest()
        facts = self._signers.get(key)
        if facts is not None:
            return facts
        try:
            public_key = load_der_x509_certificate(cert.dump()).public_key()
        except (ValueError, UnsupportedAlgorithm, InvalidVersion):  # InvalidVersion: a mangled version field
            raise _Failure(FIRMA_NON_VERIFICATA, "certificato del firmatario illeggibile") from None
        san = cert.subject_alt_name_value
        emails = tuple(
            str(name.native).strip().lower() for name in (san or ()) if name.name == "rfc822_name"
        )
        ku = cert.key_usage_value
        eku = cert.extended_key_usage_value
        facts = _SignerFacts(
            public_key=public_key,
            emails=emails,
            key_usage=frozenset(ku.native) if ku is not None else frozenset(),
            ext_key_usage=frozenset(eku.native) if eku is not None else None,
        )
        with self._lock:
            if len(self._signers) >= CACHE_LIMIT:
                self._signers.clear()
            self._signers[key] = facts
        return facts

    def _check_chain(self, cert: x509.Certificate, certs: list[x509.Certificate], moment: datetime) -> bool:
        """Raise unless the chain is valid at `moment`; True when the memo answered."""
        if not self._roots:
            raise _Failure(FIRMA_NON_VERIFICATA, "certificato radice di fiducia non disponibile")
        key = (
            hashlib.sha256(cert.dump()).digest(),
            frozenset(hashlib.sha256(c.dump()).digest() for c in certs),
        )
        memo = self._chains.get(key)
        cached = memo is not None
        if memo is None:
            memo = self._validate_chain(cert, certs, moment)  # raises on time-dependent failures
            with self._lock:
                if len(self._chains) >= CACHE_LIMIT:
                    self._chains.clear()
                self._chains[key] = memo
        if isinstance(memo, _ChainBad):
            raise _Failure(FIRMA_NON_VERIFICATA, memo.reason)
        # The time check is never memoised: every receipt's signing time must sit in the window of
        # the memoised path. Outside it, validate again at that moment: another path (a renewed
        # intermediate carried in the same CMS) may be valid then, else the precise error is raised.
        if memo.not_before - TIME_TOLERANCE <= moment <= memo.not_after + TIME_TOLERANCE:
            return cached
        if cached:
            other = self._validate_chain(cert, certs, moment)
            if isinstance(other, _ChainBad):
                raise _Failure(FIRMA_NON_VERIFICATA, other.reason)
            if other.not_before - TIME_TOLERANCE <= moment <= other.not_after + TIME_TOLERANCE:
                return False
        if moment < memo.not_before:
            raise _Failure(FIRMA_NON_VERIFICATA, "certificato non ancora valido alla data della firma")
        raise _Failure(FIRMA_NON_VERIFICATA, "certificato scaduto alla data della firma")

    def _validate_chain(self, cert, certs, moment) -> _ChainOk | _ChainBad | None:
        from pyhanko_certvalidator import CertificateValidator, ValidationContext
        from pyhanko_certvalidator import errors as cv_errors

        context = ValidationContext(
            trust_roots=self._roots,
            other_certs=[c for c in certs if c is not cert],
            moment=moment,
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
        validator = CertificateValidator(cert, validation_context=context)
        try:
            path = _run(validator.async_validate_path())
        except cv_errors.ExpiredError:
            raise _Failure(FIRMA_NON_VERIFICATA, "certificato scaduto alla data della firma") from None
        except cv_errors.NotYetValidError:
            raise _Failure(FIRMA_NON_VERIFICATA, "certificato non ancora valido alla data della firma") from None
        except (cv_errors.RevokedError, cv_errors.InsufficientRevinfoError, cv_errors.InsufficientPOEError):
            raise _Failure(FIRMA_NON_VERIFICATA, "catena di certificati non valida alla data della firma") from None
        except cv_errors.PathBuildingError:
            return _ChainBad("certificato non emesso da un'autorità fidata")
        except cv_errors.PathValidationError:
            return _ChainBad("catena di certificati non valida")
        except NotImplementedError:
            return _ChainBad("certificato con nomi non gestiti")
        except (ValueError, TypeError, KeyError):
            return _ChainBad("catena di certificati illeggibile")

        chain = list(path.iter_certs(include_root=True))  # root first, the signer last
        if self._required_intermediate is not None:
            if not any(_common_name(c) == self._required_intermediate for c in chain[:-1]):
                return _ChainBad("certificato non emesso dall'autorità dei gestori PEC")
        return _ChainOk(
            not_before=max(c.not_valid_before for c in chain),
            not_after=min(c.not_valid_after for c in chain),
        )

    @staticmethod
    def _check_binding(content: bytes, raw: bytes, parsed: ParsedMessage | None) -> None:
        """The classifying headers, outside the signature, must match the signed daticert."""
        pm = parsed if parsed is not None else parse_message(raw)
        if pm.category not in (CATEGORY_RECEIPT, CATEGORY_TRANSPORT):
            return
        signed_daticert, _ = read_daticert(content)
        if signed_daticert is None:
            raise _Failure(FIRMA_NON_VERIFICATA, "dati di certificazione non firmati")
        expected_tipo = pm.receipt_type if pm.category == CATEGORY_RECEIPT else "posta-certificata"
        signed_msgid = normalize_message_id(signed_daticert.msgid)
        if (
            signed_daticert != pm.daticert
            or signed_daticert.tipo != expected_tipo
            or (signed_msgid is not None and pm.ref_message_id != signed_msgid)
        ):
            raise _Failure(FIRMA_NON_VERIFICATA, "intestazioni non coerenti con i dati firmati")


# ---------------------------------------------------------------------------------------------
# Helpers


def _digest(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


def _common_name(cert: x509.Certificate) -> str | None:
    try:
        return cert.subject.native.get("common_name")
    except (ValueError, TypeError, AttributeError):
        return None


def _find_signer_cert(signer_info, certs: list[x509.Certificate]) -> x509.Certificate | None:
    sid = signer_info["sid"]
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        for cert in certs:
            # Byte comparison first: asn1crypto's Name equality (string preparation) costs ms.
            if cert.serial_number == serial and (cert.issuer.dump() == issuer.dump() or cert.issuer == issuer):
                return cert
    elif sid.name == "subject_key_identifier":
        identifier = sid.chosen.native
        for cert in certs:
            if cert.key_identifier == identifier:
                return cert
    return None


def _check_signature(public_key, signer_info, digest_name: str, data: bytes) -> None:
    algorithm = signer_info["signature_algorithm"]
    signature = signer_info["signature"].native
    try:
        kind = algorithm.signature_algo
    except ValueError:
        raise _Failure(FIRMA_NON_VERIFICATA, "algoritmo di firma non gestito") from None
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and kind == "rsassa_pkcs1v15":
            public_key.verify(signature, data, padding.PKCS1v15(), _HASHES[digest_name]())
        elif isinstance(public_key, rsa.RSAPublicKey) and kind == "rsassa_pss":
            params = algorithm["parameters"]
            pss_hash = params["hash_algorithm"]["algorithm"].native
            mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
            if pss_hash not in _HASHES or mgf_hash not in _HASHES:
                raise _Failure(FIRMA_NON_VERIFICATA, "algoritmo di firma non gestito")
            public_key.verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(_HASHES[mgf_hash]()), salt_length=params["salt_length"].native),
                _HASHES[pss_hash](),
            )
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
            public_key.verify(signature, data, ec.ECDSA(_HASHES[digest_name]()))
        else:
            raise _Failure(FIRMA_NON_VERIFICATA, "algoritmo di firma non gestito")
    except InvalidSignature:
        raise _Failure(FIRMA_NON_VERIFICATA, "firma non valida") from None


def _top_from(raw: bytes) -> str | None:
    head, _ = split_head_body(raw)
    value = parse_headers(head).get("From")
    if not value:
        return None
    _, address = email.utils.parseaddr(str(value))
    return address or None
