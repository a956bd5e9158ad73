"""Identifiers, Message-IDs and the normalised content hash."""

from __future__ import annotations

import email.utils
import io
import re

import pytest

from pecmass_xl.journal import ids
from pecmass_xl.journal.content_hash import content_hash

ATEXT_DOT_ATOM = re.compile(r"^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                            r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*>$")


def test_row_ids_have_the_contract_shape_and_avoid_taken_ones():
    minted = {ids.new_row_id() for _ in range(2000)}
    assert len(minted) == 2000
    assert all(re.fullmatch(r"R[A-Z2-7]{8}", value) for value in minted)
    assert all(ids.is_row_id(value) for value in minted)
    assert not ids.is_row_id("R1234567")  # not base32, too short
    assert not ids.is_row_id("rabcdefgh")
    assert not ids.is_row_id(12345678)


def test_new_row_id_never_returns_a_taken_id(monkeypatch):
    sequence = iter(["AAAAAAAA", "AAAAAAAA", "BBBBBBBB"])
    monkeypatch.setattr(ids, "_random_base32", lambda length: next(sequence))
    assert ids.new_row_id({"RAAAAAAAA"}) == "RBBBBBBBB"


def test_campaign_ids():
    first, second = ids.new_campaign_id(), ids.new_campaign_id()
    assert first != second
    assert re.fullmatch(r"C[A-Z2-7]{12}", first)
    assert ids.is_campaign_id(first)
    assert not ids.is_campaign_id("a.b")
    assert not ids.is_campaign_id("../x")
    assert not ids.is_campaign_id("")


def test_message_ids_are_dot_atoms_and_parse_back():
    campaign = ids.new_campaign_id()
    row = ids.new_row_id()
    mid = ids.build_message_id(campaign, row, 3, "PEC.Studio-Rossi.it")
    assert mid == f"<pecmass.{campaign}.{row}.3@pec.studio-rossi.it>"
    assert ATEXT_DOT_ATOM.match(mid)
    assert email.utils.parseaddr(mid[1:-1])[1] == mid[1:-1]
    parsed = ids.parse_message_id(mid)
    assert (parsed.campaign_id, parsed.row_id, parsed.attempt, parsed.is_test) == (campaign, row, 3, False)
    assert parsed.message_id == mid

    test = ids.build_test_message_id(campaign, 12, "pec.it")
    assert test == f"<pecmass.{campaign}.prova.P12@pec.it>"
    assert ATEXT_DOT_ATOM.match(test)
    parsed = ids.parse_message_id(test)
    assert (parsed.campaign_id, parsed.row_id, parsed.attempt, parsed.is_test) == (campaign, None, 12, True)
    assert parsed.message_id == test


def test_parse_is_lenient_with_what_receipts_do():
    mid = "<pecmass.CABC.RABCDEFGH.2@pec.it>"
    assert ids.parse_message_id("  pecmass.CABC.RABCDEFGH.2@PEC.IT ").message_id == mid
    assert ids.parse_message_id("<PECMASS.CABC.RABCDEFGH.2@pec.it>").row_id == "RABCDEFGH"
    assert ids.parse_message_id("<pecmass.CABC.PROVA.P1@pec.it>").is_test


@pytest.mark.parametrize("value", [
    None, "", "<opec21192.2024@sicurezzapostale.it>", "<pecmass.CABC.rabcdefgh.1@pec.it>",
    "<pecmass.CABC.RABCDEFGH.0@pec.it>", "<pecmass.CABC.RABCDEFGH@pec.it>", "<pecmass.C.A.RABCDEFGH.1@x.it>",
    "<pecmass.CABC.prova.1@pec.it>",
])
def test_parse_rejects_foreign_ids(value):
    assert ids.parse_message_id(value) is None


def test_builders_refuse_unsafe_parts():
    with pytest.raises(ValueError):
        ids.build_message_id("C.X", "RABCDEFGH", 1, "pec.it")
    with pytest.raises(ValueError):
        ids.build_message_id("CX", "R12", 1, "pec.it")
    with pytest.raises(ValueError):
        ids.build_message_id("CX", "RABCDEFGH", 0, "pec.it")
    with pytest.raises(ValueError):
        ids.build_message_id("CX", "RABCDEFGH", 1, "pec .it")
    with pytest.raises(ValueError):
        ids.build_test_message_id("CX", 0, "pec.it")


def test_domains():
    assert ids.domain_of("Mario.Rossi@PEC.Esempio.IT") == "pec.esempio.it"
    assert ids.normalise_domain("pec.città.it") == "pec." + "città".encode("idna").decode() + ".it"
    with pytest.raises(ValueError):
        ids.domain_of("no-at-sign")


def test_content_hash_ignores_what_does_not_change_the_message(tmp_path):
    attachment = tmp_path / "lettera.pdf"
    attachment.write_bytes(b"%PDF-1.4 contenuto")
    base = content_hash("Mario@PEC.it", "Avviso", "Gentile Mario,\r\nsaluti.\r\n",
                        [("lettera.pdf", b"%PDF-1.4 contenuto")])
    assert base == content_hash(" mario@pec.it ", "Avviso", "Gentile Mario,\nsaluti.\n",
                                [("lettera.pdf", attachment)])
    assert base == content_hash("mario@pec.it", "Avviso", "Gentile Mario,\rsaluti.\r",
                                [("lettera.pdf", io.BytesIO(b"%PDF-1.4 contenuto"))])
    # NFC: "à" precomposed vs "a" + combining grave accent
    assert content_hash("a@b.it", "Citt\u00e0", "x") == content_hash("a@b.it", "Citta\u0300", "x")


def test_content_hash_sees_every_real_difference():
    base = content_hash("a@b.it", "Oggetto", "Testo", [("a.pdf", b"1"), ("b.pdf", b"2")])
    variants = [
        content_hash("c@b.it", "Oggetto", "Testo", [("a.pdf", b"1"), ("b.pdf", b"2")]),
        content_hash("a@b.it", "Oggetto!", "Testo", [("a.pdf", b"1"), ("b.pdf", b"2")]),
        content_hash("a@b.it", "Oggetto", "Testo ", [("a.pdf", b"1"), ("b.pdf", b"2")]),
        content_hash("a@b.it", "Oggetto", "Testo", [("b.pdf", b"2"), ("a.pdf", b"1")]),
        content_hash("a@b.it", "Oggetto", "Testo", [("a.pdf", b"1"), ("b.pdf", b"3")]),
        content_hash("a@b.it", "Oggetto", "Testo", [("a.pdf", b"1"), ("c.pdf", b"2")]),
        content_hash("a@b.it", "Oggetto", "Testo", [("a.pdf", b"1")]),
        # field boundaries are unambiguous
        content_hash("a@b.it", "OggettoT", "esto", [("a.pdf", b"1"), ("b.pdf", b"2")]),
        content_hash("a@b.it", "Oggetto", "Testo", [("a.pdf", b"1b.pdf"), ("", b"2")]),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)
    assert re.fullmatch(r"[0-9a-f]{64}", base)
