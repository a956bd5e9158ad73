"""classify: every receipt type and error cause to its event and Esito (DESIGN §4)."""

from __future__ import annotations

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

from pecmass_xl.receipts.outcome import classify, clean_text, esito_from_text
from pecmass_xl.receipts.parse import parse_message

EVENT_UTC = datetime(2026, 9, 19, 13, 41, 20, tzinfo=UTC)  # 15:41:20 +0200 in the builders


def receipt(x_ricevuta, *, extra=None, **daticert):
    daticert.setdefault("consegna", "destinatario@pec.test")
    content = signed_content(daticert_xml(x_ricevuta, **daticert))
    return parse_message(unsigned_message(receipt_headers(x_ricevuta, extra=extra), content))


# -- real samples -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "event", "esito", "detail", "recipient"),
    [
        ("SimoneP91_accettazione.eml", "accettazione", None, None, "mittente@pec.example"),
        ("SimoneP91_avvenuta-consegna.eml", "avvenuta-consegna", "Consegnata", None, "mittente@pec.example"),
        ("SimoneP91_errore-consegna.eml", "errore-consegna", "Indirizzo inesistente",
         "5.1.1 - ARUBA PEC S.p.A. - indirizzo non valido", "collaudo-inesistente-7k2q9@pec.it"),
        ("biagioT_accettazione.eml", "accettazione", None, None, "rec@fakepec.it"),
        ("biagioT_consegna.eml", "errore-consegna", "Indirizzo inesistente",
         "5.1.1 - FAKE Pec S.p.A. - indirizzo non valido", "rec@fakepec.it"),
        ("danzipie_email_2.eml", "avvenuta-consegna", "Consegnata", None, "example.example.com"),
    ],
)
def test_real_receipts(fixture_bytes, name, event, esito, detail, recipient):
    outcome = classify(parse_message(fixture_bytes(name)))
    assert (outcome.event, outcome.esito, outcome.detail, outcome.recipient) == (event, esito, detail, recipient)


def test_real_event_time_uses_zona(fixture_bytes):
    outcome = classify(parse_message(fixture_bytes("SimoneP91_avvenuta-consegna.eml")))
    assert outcome.event_time == datetime(2026, 9, 19, 13, 41, 20, tzinfo=UTC)


@pytest.mark.parametrize("name", ["SimoneP91_busta-trasporto.eml", NAMIRIAL, "danzipie_email_3.eml"])
def test_transport_envelopes_record_nothing(fixture_bytes, name):
    assert classify(parse_message(fixture_bytes(name))) is None


# -- every type and cause (synthetic) ---------------------------------------------------------


def test_acceptance():
    outcome = classify(receipt("accettazione", consegna=None))
    assert (outcome.event, outcome.esito, outcome.recipient) == ("accettazione", None, "destinatario@pec.test")
    assert outcome.event_time == EVENT_UTC
    assert not outcome.final


def test_acceptance_of_an_ordinary_address():
    pm = receipt("accettazione", consegna=None, destinatari=(("ufficio@example.org", "esterno"),))
    outcome = classify(pm)
    assert (outcome.event, outcome.esito) == ("accettazione-esterno", "Destinatario non PEC")
    assert outcome.final


def test_acceptance_with_mixed_recipients_is_a_plain_acceptance():
    pm = receipt("accettazione", consegna=None,
                 destinatari=(("a@example.org", "esterno"), ("b@pec.test", "certificato")))
    outcome = classify(pm)
    assert outcome.event == "accettazione"
    assert outcome.recipient is None


@pytest.mark.parametrize(
    ("errore", "errore_esteso", "esito"),
    [
        ("no-dest", "5.1.1 - Gestore - utente inesistente", "Indirizzo inesistente"),
        ("altro", "5.1.1 - ARUBA PEC S.p.A. - indirizzo non valido", "Indirizzo inesistente"),
        ("no-dominio", "5.1.2 - Gestore - dominio inesistente", "Dominio inesistente"),
        ("altro", "5.2.2 - Gestore - casella piena", "Casella piena"),
        ("altro", "Casella di posta piena", "Casella piena"),
        ("virus", "Rilevato virus", "Virus"),
        ("altro", "5.7.1 - rifiutato per politica locale", "Altro"),
        ("altro", None, "Altro"),
    ],
)
def test_delivery_failure_causes(errore, errore_esteso, esito):
    outcome = classify(receipt("errore-consegna", errore=errore, errore_esteso=errore_esteso))
    assert (outcome.event, outcome.esito) == ("errore-consegna", esito)
    assert outcome.detail == errore_esteso
    assert outcome.recipient == "destinatario@pec.test"
    assert outcome.final


def test_virus_flag_on_delivery_failure():
    pm = receipt("errore-consegna", errore="altro", extra=[("X-VerificaSicurezza", "errore")])
    assert classify(pm).esito == "Virus"


@pytest.mark.parametrize(
    ("errore", "errore_esteso", "extra", "esito"),
    [
        ("virus", "virus rilevato nel messaggio", None, "Virus"),
        ("altro", None, [("X-VerificaSicurezza", "errore")], "Virus"),
        ("altro", "Il messaggio supera la dimensione massima consentita", None, "Messaggio troppo grande"),
        ("altro", "5.3.4 message size exceeds fixed limit", None, "Messaggio troppo grande"),
        ("altro", "Destinatari in copia nascosta (Bcc) non ammessi", None, "Formato non accettato"),
        ("altro", "Mittente non corrispondente all'utente autenticato", None, "Altro"),
    ],
)
def test_non_acceptance_causes(errore, errore_esteso, extra, esito):
    outcome = classify(receipt("non-accettazione", errore=errore, errore_esteso=errore_esteso, consegna=None,
                               extra=extra))
    assert (outcome.event, outcome.esito, outcome.recipient) == ("non-accettazione", esito, None)
    assert outcome.final


def test_delivered():
    outcome = classify(receipt("avvenuta-consegna", ricevuta="completa"))
    assert (outcome.event, outcome.esito, outcome.recipient) == ("avvenuta-consegna", "Consegnata",
                                                                  "destinatario@pec.test")


# -- the two timeout notices ------------------------------------------------------------------

def test_a_timeout_notice_is_a_delay_unless_its_signed_words_say_5_4_1():
    # The other rules (a second distinct verified notice, 22 h after the verified acceptance) need
    # the attempt's history and the signature verdicts: journal.status decides them (issue 12).
    pm = receipt("preavviso-errore-consegna", errore="altro", errore_esteso="Mancata consegna entro 12 ore")
    outcome = classify(pm)
    assert (outcome.event, outcome.esito) == ("preavviso", None)
    assert outcome.detail == "Mancata consegna entro 12 ore"
    assert not outcome.final


def test_timeout_notice_with_5_4_1_is_final():
    pm = receipt("preavviso-errore-consegna", errore="altro", errore_esteso="5.4.1 - Gestore - tempo scaduto")
    outcome = classify(pm)
    assert (outcome.event, outcome.esito) == ("preavviso-finale", "Tempo scaduto")
    assert outcome.final


# -- provider-to-provider notices and other mail -----------------------------------------------


@pytest.mark.parametrize("kind", ["presa-in-carico", "rilevazione-virus"])
def test_provider_notices_record_nothing(kind):
    assert classify(receipt(kind)) is None


def test_other_mail_records_nothing():
    pm = parse_message(b"From: a@b.it\r\nSubject: ciao\r\n\r\nciao\r\n")
    assert classify(pm) is None


# -- bounces of ordinary addresses ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "diagnostic", "esito"),
    [
        ("5.1.1", "smtp; 550 5.1.1 User unknown", "Indirizzo inesistente"),
        ("5.1.2", "smtp; 550 5.1.2 Host not found", "Dominio inesistente"),
        ("5.4.4", "X-Postfix; Host or domain name not found", "Dominio inesistente"),
        ("5.2.2", "smtp; 552 5.2.2 Mailbox full", "Casella piena"),
        ("5.0.0", "smtp; 550 mailbox is full", "Casella piena"),
        ("5.7.1", "smtp; 554 5.7.1 Message rejected as spam", "Altro"),
    ],
)
def test_bounce_of_an_ordinary_address(status, diagnostic, esito):
    pm = parse_message(anomaly_envelope(dsn_message(status=status, diagnostic=diagnostic)))
    outcome = classify(pm)
    assert (outcome.event, outcome.esito) == ("anomalia", esito)
    assert outcome.detail == diagnostic.split(";", 1)[1].strip()
    assert outcome.recipient == "nessuno@example.org"
    assert outcome.event_time == datetime(2026, 9, 19, 13, 42, 1, tzinfo=UTC)
    assert outcome.final


def test_delayed_bounce_records_nothing():
    pm = parse_message(anomaly_envelope(dsn_message(status="4.4.1", action="delayed")))
    assert classify(pm) is None


# -- helpers ----------------------------------------------------------------------------------


def test_detail_is_verbatim_without_control_characters():
    pm = receipt("errore-consegna", errore="altro", errore_esteso="=cmd|' /C calc'!A0\nriga\tdue")
    assert classify(pm).detail == "=cmd|' /C calc'!A0 riga due"
    assert clean_text("a\r\nb\x00c\x9b") == "a bc"
    assert clean_text(" \x01 ") is None


def test_information_is_not_a_format_error():
    assert esito_from_text("more information at http://example.org") == "Altro"
