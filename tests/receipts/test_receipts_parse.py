"""parse_message: real samples to the right category, PEC header rules, bounces, hostile input."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from receipts_builders import (
    NAMIRIAL,
    anomaly_envelope,
    daticert_xml,
    dsn_message,
    receipt_headers,
    signed_content,
    unsigned_message,
)

from pecmass_xl.receipts.parse import CATEGORY_OTHER, CATEGORY_UNREADABLE, normalize_message_id, parse_message

# (file, category, X-Ricevuta, ref_message_id, own Message-ID)
REAL = [
    ("SimoneP91_accettazione.eml", "receipt", "accettazione", "<m_jQaMqbpy0CRWKphL@pec.it>",
     "<jpec13216.20260919154119.05561.4000.1.2@pec.aruba.it>"),
    ("SimoneP91_avvenuta-consegna.eml", "receipt", "avvenuta-consegna", "<m_jQaMqbpy0CRWKphL@pec.it>",
     "<jpec1329.20260919154119.80600.507.1.1@pec.aruba.it>"),
    ("SimoneP91_errore-consegna.eml", "receipt", "errore-consegna", "<m_Xbftyw1I-LSDVCM3@pec.it>",
     "<jpec1329.20260919154120.83762.503.1.1@pec.aruba.it>"),
    ("SimoneP91_busta-trasporto.eml", "transport-envelope", None, "<m_jQaMqbpy0CRWKphL@pec.it>",
     "<jpec13216.20260919154119.05561.4000.1.1@pec.aruba.it>"),
    (NAMIRIAL, "transport-envelope", None, "<2839ed57-e664-4020-bb69-6a8cb92d05a6@email.android.com>",
     "<opec21192.20241205000210.24820.46.1.184@sicurezzapostale.it>"),
    ("biagioT_accettazione.eml", "receipt", "accettazione", "<SN05IE$951DEC16C1CFD3E4FD8FF1B1D24A99AE@fakepec.it>",
     "<opec210312.20241115182038.288127.606.1.771.53@fakepec.it>"),
    ("biagioT_consegna.eml", "receipt", "errore-consegna", "<SN05IE$951DEC16C1CFD3E4FD8FF1B1D24A99AE@pec.it>",
     "<opec210312.20241115182103.186549.961.1.530.42@fakepec.it>"),
    ("danzipie_email_2.eml", "receipt", "avvenuta-consegna", "<CZPXCJRZKQDRVYXFAZYUIAWNACDAAHEVAEXAKN@example.com>",
     "<CZPXCJRZKQDRVYXFAZYUIAWNACDAAHEVAEXAKN@example.com>"),
    ("danzipie_email_3.eml", "transport-envelope", None, "<CZPXCJRZKQDRVYXFAZYUIAWNACDAEXAKN@example.com>",
     "<CZPXCJRZKQDRVYXFAZYUIAWNACDAAHEVAEXAKN@example.com>"),
]


@pytest.mark.parametrize(("name", "category", "receipt_type", "ref", "own_id"), REAL, ids=[r[0] for r in REAL])
def test_real_samples(fixture_bytes, name, category, receipt_type, ref, own_id):
    pm = parse_message(fixture_bytes(name))
    assert pm.category == category
    assert pm.receipt_type == receipt_type
    assert pm.ref_message_id == ref
    assert pm.message_id == own_id
    assert pm.daticert is not None
    assert pm.dsn is None


def test_aruba_acceptance_details(fixture_bytes):
    pm = parse_message(fixture_bytes("SimoneP91_accettazione.eml"))
    assert pm.from_address == "posta-certificata@pec.aruba.it"
    assert pm.subject == "ACCETTAZIONE: Collaudo pecmailer 1"
    assert pm.date == datetime(2026, 9, 19, 13, 41, 19, tzinfo=UTC)
    assert pm.problems == ()
    dc = pm.daticert
    assert dc.identificativo == "jpec13216.20260919154119.05561.4000.1.1@pec.aruba.it"
    assert dc.msgid == "<m_jQaMqbpy0CRWKphL@pec.it>"
    assert dc.gestore == "ARUBA PEC S.p.A."
    assert dc.ricevuta_tipo is None and dc.risposte is None
    assert dc.event_time == datetime(2026, 9, 19, 13, 41, 19, tzinfo=UTC)
    assert dc.zona == "+0200"


def test_aruba_delivery_ignores_the_daticert_inside_postacert(fixture_bytes):
    pm = parse_message(fixture_bytes("SimoneP91_avvenuta-consegna.eml"))
    assert pm.daticert.tipo == "avvenuta-consegna"
    assert pm.daticert.consegna == "mittente@pec.example"
    assert pm.daticert.ricevuta_tipo == "completa"
    assert "più di un daticert.xml" not in pm.problems


def test_header_name_case_is_ignored(fixture_bytes):
    pm = parse_message(fixture_bytes("danzipie_email_3.eml"))
    assert pm.tipo_ricevuta == "completa"  # spelled X-Tiporicevuta there
    raw = fixture_bytes("SimoneP91_errore-consegna.eml").replace(b"X-Ricevuta: errore-consegna",
                                                                    b"x-RICEVUTA: Errore-Consegna")
    pm = parse_message(raw)
    assert (pm.category, pm.receipt_type) == ("receipt", "errore-consegna")


def test_lenient_with_hand_edited_daticert(fixture_bytes):
    pm = parse_message(fixture_bytes("biagioT_consegna.eml"))
    assert pm.daticert.errore == "no-dest"
    # header and daticert disagree on the quoted Message-ID: the header wins, the mismatch is reported
    assert "Message-ID di riferimento diverso da quello di daticert.xml" in pm.problems


def test_namirial_envelope_rewrapped_by_a_mailing_list(fixture_bytes):
    pm = parse_message(fixture_bytes(NAMIRIAL))
    assert pm.from_address == "posta-certificata@sicurezzapostale.it"
    assert len(pm.daticert.destinatari) == 7
    assert {t for _, t in pm.daticert.destinatari} == {"esterno"}


def _synthetic(x_ricevuta="avvenuta-consegna", tipo=None, extra=None, **daticert):
    content = signed_content(daticert_xml(tipo or x_ricevuta, **daticert))
    return unsigned_message(receipt_headers(x_ricevuta, extra=extra), content)


def test_transport_envelope_is_never_a_receipt_even_with_x_ricevuta():
    raw = _synthetic("avvenuta-consegna", extra=[("X-Trasporto", "posta-certificata")])
    pm = parse_message(raw)
    assert pm.category == "transport-envelope"
    assert "busta con intestazione X-Ricevuta: non è una ricevuta" in pm.problems


def test_conflicting_repeated_x_ricevuta_is_not_a_receipt():
    raw = _synthetic("errore-consegna", extra=[("X-Ricevuta", "avvenuta-consegna")])
    pm = parse_message(raw)
    assert pm.category == "other"
    assert pm.receipt_type is None
    assert "intestazione X-Ricevuta ripetuta con valori diversi" in pm.problems


def test_invented_x_ricevuta_value_is_other():
    pm = parse_message(_synthetic("mancata-consegna", tipo="errore-consegna"))
    assert (pm.category, pm.receipt_type) == ("other", "mancata-consegna")
    assert pm.daticert is None


def test_header_and_daticert_type_disagree():
    pm = parse_message(_synthetic("avvenuta-consegna", tipo="errore-consegna"))
    assert pm.category == "receipt"
    assert "tipo di daticert.xml diverso dall'intestazione" in pm.problems


def test_missing_ref_header_falls_back_to_daticert_msgid():
    content = signed_content(daticert_xml("accettazione", msgid="<a.b@pec.test>"))
    raw = unsigned_message(receipt_headers("accettazione", ref=None), content)
    assert parse_message(raw).ref_message_id == "<a.b@pec.test>"


def test_receipt_without_daticert():
    raw = unsigned_message(receipt_headers("accettazione"),
                           b"Content-Type: text/plain\r\n\r\nsolo testo\r\n")
    pm = parse_message(raw)
    assert pm.category == "receipt" and pm.daticert is None
    assert "daticert.xml assente" in pm.problems


def test_receipt_attached_to_another_message_is_not_read():
    """A genuine receipt forwarded as message/rfc822 gives no daticert to the outer message."""
    inner = _synthetic("avvenuta-consegna")
    outer = (
        b"From: someone@example.org\r\nX-Ricevuta: avvenuta-consegna\r\n"
        b"X-Riferimento-Message-ID: <pecmass.C1.R0000001.1@pec.test>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"OUT\"\r\n\r\n--OUT\r\nContent-Type: text/plain\r\n\r\nciao\r\n"
        b"--OUT\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--OUT--\r\n"
    )
    pm = parse_message(outer)
    assert pm.daticert is None
    assert "daticert.xml assente" in pm.problems


def test_normalize_message_id():
    assert normalize_message_id("jpec1.2@pec.aruba.it") == "<jpec1.2@pec.aruba.it>"
    assert normalize_message_id("  <a@b>  ") == "<a@b>"
    assert normalize_message_id("<a@\r\n b>") == "<a@b>"
    assert normalize_message_id("") is None
    assert normalize_message_id(None) is None


# -- anomaly envelopes -----------------------------------------------------------------------


def test_anomaly_envelope_with_dsn():
    pm = parse_message(anomaly_envelope(dsn_message()))
    assert pm.category == "anomaly-envelope"
    assert pm.daticert is None
    assert pm.ref_message_id is None  # nothing at the top level: the bounce carries the ids
    dsn = pm.dsn
    assert dsn.status == "5.1.1"
    assert dsn.action == "failed"
    assert dsn.is_failure
    assert dsn.final_recipient == "nessuno@example.org"
    assert dsn.diagnostic == "550 5.1.1 <nessuno@example.org>: Recipient address rejected: User unknown"
    assert dsn.quoted_message_ids == {"<opec.20260919.1.1@pec.test>", "<pecmass.C1.R0000001.1@pec.test>"}
    assert pm.problems == ()


def test_anomaly_envelope_with_returned_message_as_rfc822():
    pm = parse_message(anomaly_envelope(dsn_message(returned_as="message/rfc822")))
    assert pm.dsn.quoted_message_ids == {"<opec.20260919.1.1@pec.test>", "<pecmass.C1.R0000001.1@pec.test>"}
    assert "<bounce.1@mx.example.org>" not in pm.dsn.quoted_message_ids


def test_anomaly_envelope_delayed_is_not_a_failure():
    pm = parse_message(anomaly_envelope(dsn_message(status="4.4.1", action="delayed")))
    assert pm.dsn.action == "delayed"
    assert not pm.dsn.is_failure


def test_text_only_bounce():
    bounce = (
        b"From: MAILER-DAEMON@old.example.org\r\nSubject: failure notice\r\nContent-Type: text/plain\r\n\r\n"
        b"Hi. This is the qmail-send program. Sorry, I couldn't deliver.\r\n"
        b"<nessuno@example.org>: 550 5.1.1 mailbox unavailable\r\n"
        b"--- Below this line is a copy of the message.\r\n\r\n"
        b"Message-ID: <opec.20260919.1.1@pec.test>\r\n"
        b"X-Riferimento-Message-ID: <pecmass.C1.R0000001.1@pec.test>\r\n"
    )
    pm = parse_message(anomaly_envelope(bounce))
    assert pm.dsn.status == "5.1.1"
    assert pm.dsn.is_failure
    assert pm.dsn.quoted_message_ids == {"<opec.20260919.1.1@pec.test>", "<pecmass.C1.R0000001.1@pec.test>"}


def test_anomaly_envelope_without_bounce():
    spam = b"From: x@example.org\r\nMessage-ID: <x@example.org>\r\nContent-Type: text/plain\r\n\r\nciao\r\n"
    pm = parse_message(anomaly_envelope(spam))
    assert pm.category == "anomaly-envelope"
    assert pm.dsn is None
    assert "busta di anomalia senza rapporto di mancata consegna" in pm.problems


# -- hostile or broken input never raises ----------------------------------------------------


@pytest.mark.parametrize("raw,category", [
    (b"", "other"), (b"\r\n\r\n", "other"), (b"\x00" * 100, "other"), (b"X-Ricevuta: accettazione", "receipt"),
])
def test_garbage_bytes_are_read_not_tripped_on(raw, category):
    pm = parse_message(raw)
    assert pm.category == category
    assert not any("illeggibile (" in p for p in pm.problems)


@pytest.mark.parametrize("raw", ["text", None, 42])
def test_what_the_parser_trips_on_is_unreadable_with_its_reason(raw):
    pm = parse_message(raw)
    assert pm.category == CATEGORY_UNREADABLE
    assert pm.problems == ("messaggio illeggibile (TypeError: raw must be bytes)",)


def test_a_parser_failure_is_logged_and_never_other(monkeypatch, caplog):
    import pecmass_xl.receipts.parse as parse_module

    def broken(raw):
        raise RuntimeError("guasto simulato")

    monkeypatch.setattr(parse_module, "_parse", broken)
    with caplog.at_level("WARNING", logger="pecmass.receipts"):
        pm = parse_message(b"X-Ricevuta: accettazione\r\n\r\n")
    assert pm.category == CATEGORY_UNREADABLE != CATEGORY_OTHER
    assert pm.problems == ("messaggio illeggibile (RuntimeError: guasto simulato)",)
    assert "guasto simulato" in caplog.text


def test_truncated_and_mutated_samples_never_raise(fixture_bytes):
    rng = random.Random(5)
    for name in ("SimoneP91_avvenuta-consegna.eml", NAMIRIAL, "danzipie_email_3.eml"):
        raw = fixture_bytes(name)
        # The parser reads every cut and mutation (a failure would be `unreadable`, i.e. quarantined).
        for cut in range(0, len(raw), max(1, len(raw) // 60)):
            assert parse_message(raw[:cut]).category != CATEGORY_UNREADABLE
        for _ in range(40):
            data = bytearray(raw)
            for _ in range(20):
                data[rng.randrange(len(data))] = rng.randrange(256)
            assert parse_message(bytes(data)).category != CATEGORY_UNREADABLE


def test_deeply_nested_multiparts_are_bounded():
    depth = 200
    raw = b"X-Ricevuta: accettazione\r\n"
    for level in range(depth):
        raw += f"Content-Type: multipart/mixed; boundary=\"B{level}\"\r\n\r\n--B{level}\r\n".encode()
    raw += b"Content-Type: text/plain\r\n\r\nx\r\n"
    pm = parse_message(raw)
    assert pm.category == "receipt"
    assert pm.daticert is None
