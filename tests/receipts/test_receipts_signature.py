"""S/MIME verification: the real Namirial envelope, Aruba and other samples, tampering, a test PKI.

The tampering tests run on a receipt signed by a test PKI always, and on the real Namirial envelope
when ../shared is beside the repository (that sample has no licence that lets us copy it)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from fixture_files import local_fixture
from receipts_builders import (
    ARUBA,
    NAMIRIAL,
    daticert_xml,
    make_p7s,
    read_fixture,
    receipt_headers,
    replace_signature,
    signature_der,
    signed_content,
    signed_part,
    signed_receipt,
    wrap_signed,
)

from pecmass_xl.receipts.parse import parse_message
from pecmass_xl.receipts.signature import ACTALIS_ROOT_SHA256, SignatureVerifier, system_actalis_roots

NAMIRIAL_SIGNED_AT = datetime(2024, 12, 4, 23, 2, 10, tzinfo=UTC)
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def pec_verifier():
    """The default verifier: Actalis root (system store or pinned copy), path through AgID CA1."""
    return SignatureVerifier()


@pytest.fixture(scope="module")
def namirial():
    return read_fixture(NAMIRIAL)


# -- real samples -----------------------------------------------------------------------------


def test_default_anchor_is_the_actalis_root():
    roots = system_actalis_roots()
    assert roots
    assert {hashlib.sha256(r.dump()).hexdigest() for r in roots} == {ACTALIS_ROOT_SHA256}


def test_namirial_verifies_at_its_signing_time(pec_verifier, namirial):
    result = pec_verifier.verify(namirial, "posta-certificata@sicurezzapostale.it")
    assert result.status == "verificata", result.reason
    assert result.verified
    assert result.signer_email == "posta-certificata@sicurezzapostale.it"
    assert result.signing_time == NAMIRIAL_SIGNED_AT


def test_namirial_fails_at_now_also_when_the_chain_is_memoised(namirial):
    verifier = SignatureVerifier()
    first = verifier.verify(namirial, at=NOW)
    assert (first.status, first.reason) == ("non verificata", "certificato scaduto alla data della firma")
    assert verifier.verify(namirial).verified  # memoises the chain
    again = verifier.verify(namirial)
    assert again.verified and again.chain_cached
    late = verifier.verify(namirial, at=NOW)
    assert (late.status, late.reason) == ("non verificata", "certificato scaduto alla data della firma")


@pytest.mark.parametrize("form", ["path", "str", "pem", "der", "list"])
def test_trust_roots_in_every_form(namirial, form):
    path = local_fixture("certs/actalis_authentication_root_ca.pem")
    pem_bytes = path.read_bytes()
    der = x509.load_pem_x509_certificate(pem_bytes).public_bytes(serialization.Encoding.DER)
    roots = {"path": path, "str": str(path), "pem": pem_bytes, "der": der, "list": [der, str(path)]}[form]
    assert SignatureVerifier(roots).verify(namirial).verified


def test_namirial_against_another_root_is_not_verified(pki, namirial):
    result = SignatureVerifier([pki.root.pem]).verify(namirial)
    assert (result.status, result.reason) == ("non verificata", "certificato non emesso da un'autorità fidata")


@pytest.mark.parametrize("name", ARUBA)
def test_aruba_anonymised_samples_fail_on_the_digest(pec_verifier, fixture_bytes, name):
    result = pec_verifier.verify(fixture_bytes(name))
    assert (result.status, result.reason) == ("non verificata", "contenuto modificato dopo la firma")
    assert result.signer_email == "posta-certificata@pec.aruba.it"
    assert result.signing_time.date() == datetime(2026, 9, 19).date()


@pytest.mark.parametrize("name", ["biagioT_accettazione.eml", "biagioT_consegna.eml"])
def test_unsigned_samples(pec_verifier, fixture_bytes, name):
    result = pec_verifier.verify(fixture_bytes(name))
    assert (result.status, result.reason) == ("assente", "nessuna firma S/MIME")


@pytest.mark.parametrize("name", ["danzipie_email_2.eml", "danzipie_email_3.eml"])
def test_truncated_signature_is_unreadable(pec_verifier, fixture_bytes, name):
    result = pec_verifier.verify(fixture_bytes(name))
    assert (result.status, result.reason) == ("assente", "firma illeggibile")


# -- tampering with a signed receipt: one made by a test PKI (always), the real Namirial envelope too --


@dataclass(frozen=True)
class SignedSample:
    """A genuinely signed message, the verifier that trusts it, and byte strings of its own to alter."""

    raw: bytes
    verifier: SignatureVerifier
    tamperings: tuple[tuple[bytes, bytes], ...]  # (old, new) inside the signed content
    ref_header: tuple[bytes, bytes]               # an unsigned X-Riferimento-Message-ID rewritten
    type_header: tuple[bytes, bytes]              # an unsigned header claiming another receipt type
    from_header: tuple[bytes, bytes]              # the unsigned From moved to another domain
    other_sender: str


@pytest.fixture(scope="module", params=["test-pki", "namirial"])
def signed_sample(request, pki):
    if request.param == "test-pki":
        return SignedSample(
            raw=signed_receipt(pki.leaf()),
            verifier=SignatureVerifier([pki.root.pem]),
            tamperings=((b"Ricevuta di prova", b"Ricevuta di provo"),                  # one changed byte
                        (b"\r\n\r\nRicevuta", b"\r\nRicevuta"),                        # one line break removed
                        (b"Ricevuta di prova.", b"Ricevuta di prova.\r\n")),             # one line break added
            ref_header=(b"X-Riferimento-Message-ID: <pecmass.C1", b"X-Riferimento-Message-ID: <pecmass.C2"),
            type_header=(b"X-Ricevuta: avvenuta-consegna", b"X-Ricevuta: errore-consegna"),
            from_header=(b"From: posta-certificata@pec.test", b"From: posta-certificata@evil.test"),
            other_sender="posta-certificata@pec.aruba.it",
        )
    return SignedSample(  # the real one: needs ../shared (no licence lets us copy it)
        raw=read_fixture(NAMIRIAL),
        verifier=SignatureVerifier(),
        tamperings=((b"Norah Colly", b"Norah Colla"), (b"\n\n", b"\n"), (b"</HTML>\n", b"</HTML>\n\n")),
        ref_header=(b"X-Riferimento-Message-ID: <2839ed57", b"X-Riferimento-Message-ID: <9839ed57"),
        type_header=(b"X-Trasporto: posta-certificata", b"X-Ricevuta: avvenuta-consegna"),
        from_header=(b"<posta-certificata@sicurezzapostale.it>", b"<posta-certificata@evil.test>"),
        other_sender="posta-certificata@pec.aruba.it",
    )


def _tamper_content(raw: bytes, old: bytes, new: bytes) -> bytes:
    part = signed_part(raw)
    assert old in part
    return raw.replace(part, part.replace(old, new, 1), 1)


def test_sample_verifies_untouched(signed_sample):
    assert signed_sample.verifier.verify(signed_sample.raw).verified


def test_with_crlf_line_endings_still_verifies(signed_sample):
    crlf = signed_sample.raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert signed_sample.verifier.verify(crlf).verified


@pytest.mark.parametrize("which", [0, 1, 2])
def test_tampered_content_fails(signed_sample, which):
    old, new = signed_sample.tamperings[which]
    result = signed_sample.verifier.verify(_tamper_content(signed_sample.raw, old, new))
    assert (result.status, result.reason) == ("non verificata", "contenuto modificato dopo la firma")


def test_trailing_line_break_of_the_signed_part_matters(signed_sample):
    raw = signed_sample.raw
    part = signed_part(raw)
    result = signed_sample.verifier.verify(raw.replace(part, part + b"\n", 1))
    assert result.reason == "contenuto modificato dopo la firma"


def test_flipped_signature_bit_fails(signed_sample):
    raw = signed_sample.raw
    der = bytearray(signature_der(raw))
    info = cms.ContentInfo.load(bytes(der))
    signature = info["content"]["signer_infos"][0]["signature"].native
    offset = bytes(der).rfind(signature)
    der[offset + 10] ^= 0x01
    result = signed_sample.verifier.verify(replace_signature(raw, bytes(der)))
    assert (result.status, result.reason) == ("non verificata", "firma non valida")


def test_headers_outside_the_signature_must_match_the_signed_daticert(signed_sample):
    raw, verifier = signed_sample.raw, signed_sample.verifier
    old, new = signed_sample.ref_header
    assert old in raw
    result = verifier.verify(raw.replace(old, new, 1))
    assert (result.status, result.reason) == ("non verificata", "intestazioni non coerenti con i dati firmati")

    old, new = signed_sample.type_header
    assert old in raw
    as_receipt = raw.replace(old, new, 1)
    assert parse_message(as_receipt).category == "receipt"
    result = verifier.verify(as_receipt)
    assert (result.status, result.reason) == ("non verificata", "intestazioni non coerenti con i dati firmati")


def test_signer_must_be_the_sender(signed_sample):
    raw, verifier = signed_sample.raw, signed_sample.verifier
    result = verifier.verify(raw, expected_from=signed_sample.other_sender)
    assert (result.status, result.reason) == ("non verificata", "firmatario diverso dal mittente della ricevuta")
    old, new = signed_sample.from_header
    assert old in raw
    assert verifier.verify(raw.replace(old, new, 1)).reason == "firmatario diverso dal mittente della ricevuta"


def test_mutations_never_raise(signed_sample):
    raw, verifier = signed_sample.raw, signed_sample.verifier
    rng = random.Random(7)
    der = signature_der(raw)
    for _ in range(60):
        mutated = bytearray(der)
        for _ in range(rng.randint(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        result = verifier.verify(replace_signature(raw, bytes(mutated)))
        assert result.status in ("non verificata", "assente")
    signature_starts = re.search(rb"Content-Type: application/(x-)?pkcs7-signature", raw).start()
    for cut in range(0, len(raw), len(raw) // 40):
        result = verifier.verify(raw[:cut])
        if cut < signature_starts:  # cut before the signature is complete: never verified
            assert result.status in ("non verificata", "assente")


# -- a test PKI: the sandbox's situation ------------------------------------------------------


@pytest.fixture(scope="module")
def test_verifier(pki):
    return SignatureVerifier([pki.root.pem])


def test_provider_signed_receipt_verifies(test_verifier, provider):
    raw = signed_receipt(provider)
    first = test_verifier.verify(raw)
    assert first.verified, first.reason
    assert first.signer_email == "posta-certificata@pec.test"
    second = test_verifier.verify(raw, parsed=parse_message(raw))
    assert second.verified and second.chain_cached


def test_rsa_signer_and_intermediate(pki):
    intermediate = pki.intermediate("Intermedia di prova")
    signer = pki.leaf(issuer=intermediate, rsa_key=True)
    raw = signed_receipt(signer, "accettazione", extra_certs=(intermediate,))
    assert SignatureVerifier([pki.root.pem]).verify(raw).verified
    # without the intermediate in the CMS no path can be built
    bare = signed_receipt(signer, "accettazione")
    assert SignatureVerifier([pki.root.pem]).verify(bare).reason == "certificato non emesso da un'autorità fidata"


def test_required_intermediate(pki):
    agid_like = pki.intermediate("AgID CA1")
    other = pki.intermediate("Altra CA")
    good = signed_receipt(pki.leaf(issuer=agid_like), extra_certs=(agid_like,))
    bad = signed_receipt(pki.leaf(issuer=other), extra_certs=(other,))
    verifier = SignatureVerifier([pki.root.pem], require_intermediate_cn="AgID CA1")
    assert verifier.verify(good).verified
    assert verifier.verify(bad).reason == "certificato non emesso dall'autorità dei gestori PEC"


def test_default_verifier_rejects_the_test_pki(pec_verifier, provider):
    result = pec_verifier.verify(signed_receipt(provider))
    assert (result.status, result.reason) == ("non verificata", "certificato non emesso da un'autorità fidata")


def test_tls_key_of_the_same_ca_is_not_the_provider(pki, test_verifier):
    tls = pki.leaf(emails=(), dns=("pec.test",), eku=(ExtendedKeyUsageOID.SERVER_AUTH,), cn="pec.test")
    result = test_verifier.verify(signed_receipt(tls))
    assert (result.status, result.reason) == ("non verificata", "firmatario diverso dal mittente della ricevuta")


def test_another_mailbox_of_the_same_ca_is_not_the_provider(pki, test_verifier):
    mailbox = pki.leaf(emails=("mario.rossi@pec.test",))
    result = test_verifier.verify(signed_receipt(mailbox))
    assert (result.status, result.reason) == ("non verificata", "firmatario diverso dal mittente della ricevuta")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"eku": (ExtendedKeyUsageOID.SERVER_AUTH,)},
        {"eku": ()},
        {"digital_signature": False},
    ],
)
def test_certificate_not_meant_for_email_signatures(pki, test_verifier, kwargs):
    signer = pki.leaf(**kwargs)
    result = test_verifier.verify(signed_receipt(signer))
    assert (result.status, result.reason) == ("non verificata", "certificato non destinato alla firma di e-mail")


def test_signing_time_is_checked_on_every_receipt(pki):
    verifier = SignatureVerifier([pki.root.pem])
    signer = pki.leaf(not_before=pki.now - timedelta(days=10), not_after=pki.now + timedelta(days=10))
    assert verifier.verify(signed_receipt(signer, signing_time=pki.now)).verified
    late = verifier.verify(signed_receipt(signer, signing_time=pki.now + timedelta(days=11)))
    assert late.chain_cached is False
    assert (late.status, late.reason) == ("non verificata", "certificato scaduto alla data della firma")
    early = verifier.verify(signed_receipt(signer, signing_time=pki.now - timedelta(days=11)))
    assert (early.status, early.reason) == ("non verificata", "certificato non ancora valido alla data della firma")
    # and with a fresh verifier the first receipt seen is the late one: nothing memoised wrongly
    fresh = SignatureVerifier([pki.root.pem])
    assert fresh.verify(signed_receipt(signer, signing_time=pki.now + timedelta(days=11))).reason == \
        "certificato scaduto alla data della firma"
    assert fresh.verify(signed_receipt(signer, signing_time=pki.now)).verified


def test_forged_message_digest_and_signing_time(provider, test_verifier, pki):
    content = signed_content(daticert_xml("avvenuta-consegna"))
    headers = receipt_headers("avvenuta-consegna")
    forged_digest = wrap_signed(headers, content, make_p7s(content, provider, message_digest=b"\x00" * 32))
    assert test_verifier.verify(forged_digest).reason == "contenuto modificato dopo la firma"
    forged_time = wrap_signed(headers, content, make_p7s(
        content, provider, signing_time=pki.now, claimed_signing_time=pki.now - timedelta(days=1)))
    assert test_verifier.verify(forged_time).reason == "firma non valida"


def test_receipt_stored_with_lf_line_endings_verifies(provider, test_verifier):
    raw = signed_receipt(provider)
    assert test_verifier.verify(raw.replace(b"\r\n", b"\n")).verified


def test_name_constraints_of_the_intermediate_are_enforced(pki):
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.RFC822Name("pec.test")], excluded_subtrees=None
    )
    constrained = pki.intermediate("AgID CA1", name_constraints=constraints)
    verifier = SignatureVerifier([pki.root.pem], require_intermediate_cn="AgID CA1")
    inside = signed_receipt(pki.leaf(issuer=constrained), extra_certs=(constrained,))
    assert verifier.verify(inside).verified
    outside_signer = pki.leaf(issuer=constrained, emails=("posta-certificata@evil.test",))
    outside = signed_receipt(outside_signer, extra_certs=(constrained,),
                             headers=receipt_headers("avvenuta-consegna", sender="posta-certificata@evil.test"))
    assert verifier.verify(outside).reason == "catena di certificati non valida"



def test_ip_address_in_a_constrained_signer_is_not_verified(pki):
    """AgID CA1 excludes every IP address; pyhanko-certvalidator cannot check IP constraints."""
    import ipaddress

    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.RFC822Name("pec.test")],
        excluded_subtrees=[x509.IPAddress(ipaddress.ip_network("0.0.0.0/0"))],
    )
    constrained = pki.intermediate("AgID CA1", name_constraints=constraints)
    verifier = SignatureVerifier([pki.root.pem], require_intermediate_cn="AgID CA1")
    with_ip = pki.leaf(issuer=constrained, ips=("192.0.2.1",))
    result = verifier.verify(signed_receipt(with_ip, extra_certs=(constrained,)))
    assert (result.status, result.reason) == ("non verificata", "certificato con nomi non gestiti")


def test_receipt_forwarded_inside_another_message_is_not_signed(provider, test_verifier):
    inner = signed_receipt(provider)
    outer = (
        b"From: posta-certificata@pec.test\r\nX-Ricevuta: avvenuta-consegna\r\n"
        b"X-Riferimento-Message-ID: <pecmass.C1.R0000001.1@pec.test>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"OUT\"\r\n\r\n--OUT\r\nContent-Type: text/plain\r\n\r\nciao\r\n"
        b"--OUT\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--OUT--\r\n"
    )
    assert test_verifier.verify(outer).status == "assente"


def test_cms_oddities(provider, test_verifier):
    content = signed_content(daticert_xml("avvenuta-consegna", consegna="destinatario@pec.test"))
    headers = receipt_headers("avvenuta-consegna")
    assert test_verifier.verify(wrap_signed(headers, content, b"not a signature")).reason == "firma illeggibile"
    data = cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()
    assert test_verifier.verify(wrap_signed(headers, content, data)).reason == "formato di firma non gestito"
    der = make_p7s(content, provider)
    info = cms.ContentInfo.load(der)
    info["content"]["certificates"] = []
    result = test_verifier.verify(wrap_signed(headers, content, info.dump(force=True)))
    assert (result.status, result.reason) == ("non verificata", "certificato del firmatario assente")


def test_usable_from_async_code_and_threads(pki):
    verifier = SignatureVerifier([pki.root.pem])
    signers = [pki.leaf() for _ in range(3)]
    raws = [signed_receipt(s) for s in signers]

    async def inside_a_loop():
        return verifier.verify(raws[0])

    assert asyncio.run(inside_a_loop()).verified
    results = []

    def work(raw):
        for _ in range(3):
            results.append(verifier.verify(raw).verified)

    threads = [threading.Thread(target=work, args=(raw,)) for raw in raws]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 9


@pytest.mark.parametrize("rsa_key", [False, True])
def test_signatures_made_by_cryptography_pkcs7_builder_verify(pki, rsa_key):
    """What a sandbox built on cryptography would produce, DER in our MIME or cryptography's S/MIME."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import pkcs7
    from receipts_builders import top_headers

    signer = pki.leaf(rsa_key=rsa_key)
    content = signed_content(daticert_xml("avvenuta-consegna", consegna="destinatario@pec.test"))
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(signer.cert, signer.key, hashes.SHA256())
    options = [pkcs7.PKCS7Options.DetachedSignature]
    headers = receipt_headers("avvenuta-consegna")
    ours = wrap_signed(headers, content, builder.sign(serialization.Encoding.DER, options))
    theirs = top_headers(headers) + builder.sign(serialization.Encoding.SMIME, options)
    verifier = SignatureVerifier([pki.root.pem])
    assert verifier.verify(ours).verified
    assert verifier.verify(theirs).verified
