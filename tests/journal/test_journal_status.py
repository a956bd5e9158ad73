"""Status derivation (DESIGN §4): precedence, arrival order, duplicates, timeout notices, dates, Firma."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from pecmass_xl.core import vocabulary as v
from pecmass_xl.journal import status as st
from pecmass_xl.journal.status import Event, derive_status
from pecmass_xl.journal.status import EventKind as K

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


def ev(kind, minutes=0.0, **kw):
    return Event(kind=kind, event_time=T0 + timedelta(minutes=minutes), **kw)


# One representative event per status, strongest first (DESIGN §4 and the documented placements).
PRECEDENCE = [
    (v.ST_DELIVERED, dict(kind=K.AVVENUTA_CONSEGNA, receipt_message_id="<c@p>")),
    (v.ST_NOT_DELIVERED, dict(kind=K.ERRORE_CONSEGNA, receipt_message_id="<e@p>")),
    (v.ST_NOT_ACCEPTED, dict(kind=K.NON_ACCETTAZIONE, receipt_message_id="<n@p>")),
    (v.ST_ACCEPTED_EXTERNAL, dict(kind=K.ACCETTAZIONE_ESTERNO, receipt_message_id="<x@p>")),
    (v.ST_DELAYED, dict(kind=K.PREAVVISO, receipt_message_id="<r@p>")),
    (v.ST_ACCEPTED, dict(kind=K.ACCETTAZIONE, receipt_message_id="<a@p>")),
    (v.ST_SENT, dict(kind=K.SMTP_INVIATO, smtp_code=250)),
    (v.ST_REFUSED, dict(kind=K.SMTP_RIFIUTATO, smtp_code=550, detail="550 5.7.1 no")),
    (v.ST_UNCERTAIN, dict(kind=K.INCERTO)),
    (v.ST_TO_SEND, dict(kind=K.SMTP_ESAURITO, retry_count=3, detail="421 busy")),
    (v.ST_SENDING, dict(kind=K.IN_INVIO)),
]


def test_precedence_table_covers_the_design_order():
    names = [name for name, _ in PRECEDENCE]
    design = [v.ST_DELIVERED, v.ST_NOT_DELIVERED, v.ST_NOT_ACCEPTED, v.ST_ACCEPTED_EXTERNAL, v.ST_DELAYED,
              v.ST_ACCEPTED, v.ST_SENT, v.ST_UNCERTAIN, v.ST_SENDING]
    assert [n for n in names if n in design] == design


@pytest.mark.parametrize(
    "strong,weak",
    [(a, b) for (a, b) in itertools.combinations(range(len(PRECEDENCE)), 2)],
    ids=lambda i: PRECEDENCE[i][0],
)
def test_every_precedence_pair_whatever_the_order(strong, weak):
    strong_name, strong_fields = PRECEDENCE[strong]
    weak_name, weak_fields = PRECEDENCE[weak]
    for strong_first in (True, False):  # event times in both chronological orders
        s = ev(minutes=1 if strong_first else 5, **strong_fields)
        w = ev(minutes=5 if strong_first else 1, **weak_fields)
        for events in ([s, w], [w, s]):  # and both arrival orders
            assert derive_status(events).stato == strong_name, (strong_name, weak_name)


def test_each_single_event_gives_its_status():
    for name, fields in PRECEDENCE:
        assert derive_status([ev(**fields)]).stato == name


def test_full_story_in_any_arrival_order_with_duplicates():
    story = [
        ev(K.IN_INVIO, 0),
        ev(K.SMTP_INVIATO, 0.1, smtp_code=250),
        ev(K.ACCETTAZIONE, 0.2, receipt_message_id="<acc@p>", signature=v.FIRMA_VERIFICATA),
        ev(K.ACCETTAZIONE, 0.2, receipt_message_id="<acc@p>", signature=v.FIRMA_VERIFICATA),
        ev(K.AVVENUTA_CONSEGNA, 0.5, receipt_message_id="<del@p>", esito=v.ESITO_CONSEGNATA,
           signature=v.FIRMA_VERIFICATA),
        ev(K.AVVENUTA_CONSEGNA, 0.5, receipt_message_id="<del@p>", esito=v.ESITO_CONSEGNATA,
           signature=v.FIRMA_VERIFICATA),
    ]
    results = {derive_status(list(p)) for p in itertools.permutations(story)}
    assert len(results) == 1
    result = results.pop()
    assert result.stato == v.ST_DELIVERED
    assert result.esito == v.ESITO_CONSEGNATA
    assert result.firma == v.FIRMA_VERIFICATA
    assert result.inviata_il == T0 + timedelta(minutes=0.1)
    assert result.accettata_il == T0 + timedelta(minutes=0.2)
    assert result.consegnata_il == T0 + timedelta(minutes=0.5)
    assert result.final and result.handed_over


def test_duplicate_timeout_notice_is_not_a_second_notice():
    acc = ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>")
    notice = ev(K.PREAVVISO, 12 * 60, receipt_message_id="<w@p>")
    assert derive_status([acc, notice, notice]).stato == v.ST_DELAYED


def test_second_distinct_timeout_notice_is_final():
    acc = ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>")
    first = ev(K.PREAVVISO, 12 * 60, receipt_message_id="<w1@p>")
    second = ev(K.PREAVVISO, 12 * 60 + 30, receipt_message_id="<w2@p>")
    for events in itertools.permutations([acc, first, second]):
        result = derive_status(list(events))
        assert result.stato == v.ST_NOT_DELIVERED
        assert result.esito == v.ESITO_TEMPO_SCADUTO
        assert result.dettaglio == st.MSG_TEMPO_SCADUTO


def test_notice_22_hours_after_acceptance_is_final_even_alone():
    acc = ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>")
    late = ev(K.PREAVVISO, 24 * 60, receipt_message_id="<w@p>", detail="tempo massimo superato")
    result = derive_status([late, acc])
    assert result.stato == v.ST_NOT_DELIVERED
    assert result.esito == v.ESITO_TEMPO_SCADUTO
    assert result.dettaglio == "tempo massimo superato"
    early = ev(K.PREAVVISO, 21 * 60, receipt_message_id="<w@p>")
    assert derive_status([early, acc]).stato == v.ST_DELAYED


def test_without_a_verified_acceptance_the_local_clock_never_makes_a_notice_final():
    # Issue 12: the hand-over and commit times are our clock (the sandbox's may run scaled): a
    # lone notice without 5.4.1 stays the 12-hour warning whatever they say.
    sent = ev(K.SMTP_INVIATO, 0)
    assert derive_status([sent, ev(K.PREAVVISO, 23 * 60, receipt_message_id="<w@p>")]).stato == v.ST_DELAYED
    result = derive_status([ev(K.PREAVVISO, 30 * 60, receipt_message_id="<w@p>")], committed_at=T0)
    assert result.stato == v.ST_DELAYED
    # A verified notice is measured from a verified acceptance only.
    acc = ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>", signature=v.FIRMA_NON_VERIFICATA)
    notice = ev(K.PREAVVISO, 24 * 60, receipt_message_id="<w@p>", signature=v.FIRMA_VERIFICATA)
    assert derive_status([acc, notice]).stato == v.ST_DELAYED


def test_notice_with_5_4_1_is_final():
    notice = ev(K.PREAVVISO, 12 * 60, receipt_message_id="<w@p>", detail="5.4.1 - Aruba - tempo scaduto")
    assert derive_status([ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>"), notice]).stato == v.ST_NOT_DELIVERED


def test_explicit_final_notice_and_a_late_arriving_warning():
    acc = ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>")
    warning = ev(K.PREAVVISO, 12 * 60, receipt_message_id="<w1@p>")
    final = ev(K.PREAVVISO_FINALE, 24 * 60, receipt_message_id="<w2@p>", esito=v.ESITO_TEMPO_SCADUTO)
    for events in itertools.permutations([acc, warning, final]):
        result = derive_status(list(events))
        assert result.stato == v.ST_NOT_DELIVERED
        assert result.winning_kind == K.PREAVVISO_FINALE
        assert result.esito == v.ESITO_TEMPO_SCADUTO


def test_delivery_after_a_warning_is_delivered():
    events = [ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>"),
              ev(K.PREAVVISO, 12 * 60, receipt_message_id="<w@p>"),
              ev(K.AVVENUTA_CONSEGNA, 13 * 60, receipt_message_id="<d@p>")]
    assert derive_status(events).stato == v.ST_DELIVERED


def test_bounce_after_external_acceptance():
    events = [ev(K.SMTP_INVIATO, 0),
              ev(K.ACCETTAZIONE_ESTERNO, 0.1, receipt_message_id="<a@p>", esito=v.ESITO_NON_PEC),
              ev(K.ANOMALIA, 30, receipt_message_id="<b@p>", esito=v.ESITO_INDIRIZZO_INESISTENTE,
                 detail="550 5.1.1 user unknown", signature=v.FIRMA_ASSENTE)]
    result = derive_status(events)
    assert result.stato == v.ST_NOT_DELIVERED
    assert result.esito == v.ESITO_INDIRIZZO_INESISTENTE
    assert result.dettaglio == "550 5.1.1 user unknown"
    assert result.firma == v.FIRMA_ASSENTE
    assert derive_status(events[:2]).esito == v.ESITO_NON_PEC


def test_incerto_is_upgraded_by_a_later_receipt():
    base = [ev(K.IN_INVIO, 0), ev(K.SMTP_IN_DUBBIO, 0.1, detail=None), ev(K.INCERTO, 5)]
    result = derive_status(base)
    assert result.stato == v.ST_UNCERTAIN
    assert result.esito == v.ESITO_INCERTO
    assert result.dettaglio == st.MSG_INCERTO
    assert result.inviata_il is None
    upgraded = derive_status(base + [ev(K.ACCETTAZIONE, 60, receipt_message_id="<a@p>")])
    assert upgraded.stato == v.ST_ACCEPTED
    assert upgraded.inviata_il == T0 + timedelta(minutes=0.1)  # hand-over time, from the in-doubt event
    assert upgraded.esito == ""


def test_in_doubt_without_answer_is_still_in_invio():
    result = derive_status([ev(K.IN_INVIO, 0), ev(K.SMTP_IN_DUBBIO, 0.1)])
    assert result.stato == v.ST_SENDING
    assert result.dettaglio == st.MSG_IN_DUBBIO


def test_retries_outlasted_go_back_to_da_inviare_with_detail():
    events = [ev(K.IN_INVIO, 0),
              ev(K.SMTP_TEMPORANEO, 1, retry_count=1, detail="421 4.7.0 try later"),
              ev(K.SMTP_TEMPORANEO, 2, retry_count=2, detail="451 4.3.0 local error"),
              ev(K.SMTP_ESAURITO, 3, retry_count=3, detail="451 4.3.0 local error")]
    result = derive_status(events)
    assert result.stato == v.ST_TO_SEND
    assert result.esito == v.ESITO_TEMPORANEO
    assert "3 tentativi" in result.dettaglio and "451 4.3.0 local error" in result.dettaglio
    assert not result.handed_over
    retrying = derive_status(events[:3])
    assert retrying.stato == v.ST_SENDING
    assert "tentativo 2" in retrying.dettaglio and "451 4.3.0" in retrying.dettaglio


def test_refusal_keeps_server_words_verbatim():
    result = derive_status([ev(K.IN_INVIO), ev(K.SMTP_RIFIUTATO, 1, smtp_code=554, detail="554 5.6.0 =cmd|x")])
    assert (result.stato, result.esito, result.dettaglio) == (v.ST_REFUSED, v.ESITO_RIFIUTATO, "554 5.6.0 =cmd|x")
    assert result.final and not result.handed_over


def test_unknown_esito_becomes_altro_and_failures_default_to_altro():
    assert derive_status([ev(K.ERRORE_CONSEGNA, receipt_message_id="<e@p>", esito="Boh")]).esito == v.ESITO_ALTRO
    assert derive_status([ev(K.NON_ACCETTAZIONE, receipt_message_id="<e@p>")]).esito == v.ESITO_ALTRO
    assert derive_status([ev(K.ERRORE_CONSEGNA, receipt_message_id="<e@p>",
                             esito=v.ESITO_CASELLA_PIENA)]).esito == v.ESITO_CASELLA_PIENA


def test_unverified_receipts_are_flagged():
    events = [ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>", signature=v.FIRMA_VERIFICATA),
              ev(K.AVVENUTA_CONSEGNA, 1, receipt_message_id="<d@p>", signature=v.FIRMA_NON_VERIFICATA)]
    result = derive_status(events)
    assert result.stato == v.ST_DELIVERED
    assert result.firma == v.FIRMA_NON_VERIFICATA
    assert [e.receipt_message_id for e in result.unverified_receipts] == ["<d@p>"]


def test_no_events():
    assert derive_status([]).stato == v.ST_TO_SEND
    assert derive_status([], committed_at=T0).stato == v.ST_SENDING


def test_ended_without_hand_over_for_another_reason_keeps_the_senders_words():
    stopped = "Invio fermato dall'utente prima della consegna al server: la riga sarà inviata al prossimo invio"
    result = derive_status([ev(K.IN_INVIO, 0), ev(K.SMTP_ESAURITO, 1, detail=stopped)])
    assert (result.stato, result.esito, result.dettaglio) == (v.ST_TO_SEND, "", stopped)
    bare = derive_status([ev(K.IN_INVIO, 0), ev(K.SMTP_ESAURITO, 1)])
    assert (bare.stato, bare.dettaglio) == (v.ST_TO_SEND, st.MSG_NON_INVIATO)
    zero_retries = derive_status([ev(K.SMTP_ESAURITO, 1, retry_count=0, detail="421 busy")])
    assert zero_retries.esito == v.ESITO_TEMPORANEO and "421 busy" in zero_retries.dettaglio


# --- issue 12: trust order, signed identity, bounces ---------------------------------------------

V, U, A = v.FIRMA_VERIFICATA, v.FIRMA_NON_VERIFICATA, v.FIRMA_ASSENTE


def test_a_verified_failure_is_never_replaced_by_an_unverified_delivery():
    acc = ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>", signature=V)
    failed = ev(K.ERRORE_CONSEGNA, 1, receipt_message_id="<e@p>", signature=V, esito=v.ESITO_INDIRIZZO_INESISTENTE)
    forged = ev(K.AVVENUTA_CONSEGNA, 2, receipt_message_id="<f@p>", signature=U)
    for events in itertools.permutations([acc, failed, forged]):
        result = derive_status(list(events))
        assert (result.stato, result.firma, result.esito) == (v.ST_NOT_DELIVERED, V, v.ESITO_INDIRIZZO_INESISTENTE)
        assert result.overruled == (forged,)


def test_unverified_receipts_compete_only_without_a_verified_final_outcome():
    acc = ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>", signature=V)
    unverified = ev(K.AVVENUTA_CONSEGNA, 2, receipt_message_id="<f@p>", signature=U)
    result = derive_status([acc, unverified])
    assert (result.stato, result.firma, result.overruled) == (v.ST_DELIVERED, U, ())
    external = ev(K.ACCETTAZIONE_ESTERNO, 0, receipt_message_id="<x@p>", signature=V, esito=v.ESITO_NON_PEC)
    assert derive_status([external, unverified]).stato == v.ST_ACCEPTED_EXTERNAL


def test_a_replayed_notice_is_one_notice_and_unverified_notices_are_never_final():
    acc = ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>", signature=V)
    notice = ev(K.PREAVVISO, 12 * 60, receipt_message_id="<w1@p>", signature=V, provider_id="id1", recipient="r@x")
    replay = notice._replace(receipt_message_id="<w2@p>")  # only the unsigned Message-ID changed
    assert derive_status([acc, notice, replay]).stato == v.ST_DELAYED
    unsigned_second = notice._replace(receipt_message_id="<w3@p>", event_time=notice.event_time + timedelta(hours=1),
                                      signature=U)
    assert derive_status([acc, notice, unsigned_second]).stato == v.ST_DELAYED
    signed_second = unsigned_second._replace(signature=V)
    assert derive_status([acc, notice, signed_second]).stato == v.ST_NOT_DELIVERED
    # An unverified 5.4.1 notice is a final outcome only where no verified one exists (rule 1).
    unsigned_541 = notice._replace(receipt_message_id="<w4@p>", signature=U, detail="5.4.1 scaduto")
    result = derive_status([acc, notice, unsigned_541])
    assert (result.stato, result.firma, result.esito) == (v.ST_NOT_DELIVERED, U, v.ESITO_TEMPO_SCADUTO)
    delivered = ev(K.AVVENUTA_CONSEGNA, 13 * 60, receipt_message_id="<d@p>", signature=V)
    result = derive_status([acc, notice, unsigned_541, delivered])
    assert (result.stato, result.firma, result.overruled) == (v.ST_DELIVERED, V, (unsigned_541,))


def test_bounces_end_only_non_pec_rows():
    bounce = ev(K.ANOMALIA, 30, receipt_message_id="<b@p>", esito=v.ESITO_INDIRIZZO_INESISTENTE, signature=A)
    certified = ev(K.ACCETTAZIONE, 0, receipt_message_id="<a@p>", signature=V)
    result = derive_status([certified, bounce])
    assert (result.stato, result.ignored_bounces) == (v.ST_ACCEPTED, (bounce,))
    assert derive_status([ev(K.SMTP_INVIATO, 0), bounce]).stato == v.ST_SENT
    external = ev(K.ACCETTAZIONE_ESTERNO, 0, receipt_message_id="<x@p>", signature=V, esito=v.ESITO_NON_PEC)
    for events in itertools.permutations([external, bounce]):
        result = derive_status(list(events))
        assert (result.stato, result.esito, result.ignored_bounces) == (v.ST_NOT_DELIVERED, v.ESITO_INDIRIZZO_INESISTENTE, ())
