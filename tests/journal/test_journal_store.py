"""The campaign journal on real SQLite files: attempts, events, derived views, queries, sync state."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from pecmass_xl.core import vocabulary as v
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.journal import status as st
from pecmass_xl.journal.ids import new_campaign_id, parse_message_id
from pecmass_xl.journal.status import EventKind as K
from pecmass_xl.journal.store import AttemptPending, Journal, journal_path

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOMAIN = "pec.studio.it"


@pytest.fixture
def journal(tmp_path):
    with Journal.for_campaign(new_campaign_id(), tmp_path) as j:
        yield j


def send(journal, row_id, recipient="dest@pec.it", content="h"):
    return journal.begin_attempt(row_id, content_hash=content, recipient=recipient, domain=DOMAIN)


def test_default_location_is_the_journals_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PECMASS_DATA_DIR", str(tmp_path / "data"))
    campaign = new_campaign_id()
    with Journal.for_campaign(campaign) as j:
        assert j.path == tmp_path / "data" / "journals" / f"{campaign}.sqlite"
        assert j.path == journal_path(campaign)
        assert j.campaign_id == campaign


def test_file_is_wal_and_versioned(journal):
    conn = sqlite3.connect(journal.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2  # v2: adopted attempts (issue 10)
    conn.close()


def test_reopen_keeps_everything_and_checks_the_campaign(tmp_path):
    campaign = new_campaign_id()
    with Journal.for_campaign(campaign, tmp_path) as j:
        row = j.new_row_id()
        attempt = send(j, row)
        j.add_event(attempt, K.SMTP_INVIATO, smtp_code=250, detail="250 ok")
        j.set_campaign_info(mailbox="studio@pec.studio.it", workbook_path="C:/x.xlsm")
    with Journal(tmp_path / f"{campaign}.sqlite") as j:
        assert j.campaign_id == campaign
        assert j.row_view(row).status.stato == v.ST_SENT
        info = j.campaign_info()
        assert (info.mailbox, info.workbook_path, info.sender_domain) == ("studio@pec.studio.it", "C:/x.xlsm", None)
    with pytest.raises(CannotRun):
        Journal(tmp_path / f"{campaign}.sqlite", new_campaign_id())


def test_newer_schema_is_refused(tmp_path):
    campaign = new_campaign_id()
    Journal.for_campaign(campaign, tmp_path).close()
    conn = sqlite3.connect(tmp_path / f"{campaign}.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(CannotRun, match="versione più recente"):
        Journal.for_campaign(campaign, tmp_path)


def test_new_journal_needs_a_campaign_id(tmp_path):
    with pytest.raises(ValueError):
        Journal(tmp_path / "not a campaign.sqlite")


def test_attempt_commit_message_id_and_in_invio(journal):
    row = journal.new_row_id()
    attempt = send(journal, row, content="abc")
    assert attempt.number == 1
    assert attempt.message_id == f"<pecmass.{journal.campaign_id}.{row}.1@{DOMAIN}>"
    parsed = parse_message_id(attempt.message_id)
    assert (parsed.row_id, parsed.attempt) == (row, 1)
    assert journal.attempt_by_message_id(attempt.message_id) == attempt
    assert journal.attempt_by_message_id(attempt.message_id.replace(DOMAIN, DOMAIN.upper())) == attempt
    assert journal.attempt_by_message_id(f" {attempt.message_id[1:-1]} ") == attempt
    assert journal.attempt_by_message_id("<other@x.it>") is None
    view = journal.row_view(row)
    assert view.status.stato == v.ST_SENDING
    assert view.attempt == attempt and view.attempt_count == 1
    assert journal.attempts_in_doubt() == [attempt]
    # the durable commit switched back to NORMAL afterwards
    assert journal._db._conn.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_no_second_attempt_while_the_first_is_unresolved(journal):
    row = journal.new_row_id()
    first = send(journal, row)
    with pytest.raises(AttemptPending):
        send(journal, row)
    journal.add_event(first, K.SMTP_IN_DUBBIO)
    with pytest.raises(AttemptPending):
        send(journal, row)
    journal.add_event(first, K.INCERTO)
    assert send(journal, row).number == 2


def test_latest_attempt_wins_and_both_are_kept(journal):
    row = journal.new_row_id()
    first = send(journal, row)
    journal.add_event(first, K.SMTP_INVIATO)
    journal.add_event(first, K.ACCETTAZIONE, receipt_message_id="<acc1@p>", event_time=T0)
    journal.add_event(first, K.ERRORE_CONSEGNA, receipt_message_id="<err1@p>", esito=v.ESITO_CASELLA_PIENA,
                      detail="5.2.2 casella piena", event_time=T0 + timedelta(minutes=1))
    assert journal.row_view(row).status.stato == v.ST_NOT_DELIVERED
    second = send(journal, row)
    assert second.number == 2 and second.message_id.endswith(f".{row}.2@{DOMAIN}>")
    journal.add_event(second, K.SMTP_INVIATO)
    view = journal.row_view(row)
    assert view.status.stato == v.ST_SENT
    assert view.status.esito == "" and view.status.accettata_il is None
    assert view.attempt_count == 2
    assert [a.number for a in journal.attempts_for_row(row)] == [1, 2]
    # a late receipt for the old attempt does not change the row
    journal.add_event(first, K.AVVENUTA_CONSEGNA, receipt_message_id="<late@p>")
    assert journal.row_view(row).status.stato == v.ST_SENT
    assert journal.attempt_status(first.message_id).stato == v.ST_DELIVERED


def test_out_of_order_and_duplicated_receipts(journal):
    row = journal.new_row_id()
    attempt = send(journal, row)
    journal.add_event(attempt, K.SMTP_INVIATO, event_time=T0)
    delivered = dict(receipt_message_id="<del@aruba>", event_time=T0 + timedelta(seconds=2),
                     esito=v.ESITO_CONSEGNATA, signature=v.FIRMA_VERIFICATA, provider_id="opec1.del",
                     archive_path="R/consegna.eml")
    accepted = dict(receipt_message_id="<acc@aruba>", event_time=T0 + timedelta(seconds=1),
                    signature=v.FIRMA_VERIFICATA, provider_id="opec1.acc")
    assert journal.add_event(attempt.message_id, K.AVVENUTA_CONSEGNA, **delivered) is True
    assert journal.add_event(attempt.message_id, K.AVVENUTA_CONSEGNA, **delivered) is False
    assert journal.add_event(attempt.message_id, K.ACCETTAZIONE, **accepted) is True
    assert journal.add_event(attempt.message_id, K.ACCETTAZIONE, **accepted) is False
    # same receipt seen with different bracket/space formatting, e.g. in a second folder
    assert journal.add_event(attempt.message_id, K.ACCETTAZIONE, receipt_message_id=" acc@aruba ") is False
    assert journal.has_receipt("<acc@aruba>") and not journal.has_receipt("<nope@aruba>")
    columns = journal.row_view(row).result_columns()
    assert columns["Stato invio"] == v.ST_DELIVERED
    assert columns["Esito"] == v.ESITO_CONSEGNATA
    assert columns["Firma"] == v.FIRMA_VERIFICATA
    assert columns["Inviata il"] == T0
    assert columns["Accettata il"] == T0 + timedelta(seconds=1)
    assert columns["Consegnata il"] == T0 + timedelta(seconds=2)
    assert len(journal.events(attempt)) == 4  # in-invio, 250, acceptance, delivery
    assert journal.attempt_by_provider_id("opec1.acc") == attempt


def test_receipts_without_message_id_are_deduplicated_by_content(journal):
    attempt = send(journal, journal.new_row_id())
    fields = dict(event_time=T0, detail="5.4.1 tempo", provider_id="opec9")
    assert journal.add_event(attempt, K.PREAVVISO, **fields) is True
    assert journal.add_event(attempt, K.PREAVVISO, **fields) is False
    assert journal.add_event(attempt, K.PREAVVISO, **{**fields, "event_time": T0 + timedelta(hours=12)}) is True
    assert journal.attempt_status(attempt).stato == v.ST_NOT_DELIVERED


def test_bad_event_arguments(journal):
    attempt = send(journal, journal.new_row_id())
    with pytest.raises(ValueError):
        journal.add_event(attempt, "consegnato")
    with pytest.raises(ValueError):
        journal.add_event(attempt, K.ACCETTAZIONE, signature="ok")
    with pytest.raises(KeyError):
        journal.add_event("<unknown@x.it>", K.ACCETTAZIONE)
    with pytest.raises(ValueError):
        journal.add_event(attempt, K.SMTP_INVIATO, event_time=datetime(2026, 1, 1))  # naive


def test_rows_to_send_and_resend_groups(journal):
    def make(kinds):
        row = journal.new_row_id()
        attempt = send(journal, row)
        for kind in kinds:
            journal.add_event(attempt, kind, receipt_message_id=f"<{row}{kind}@p>" if kind in st.RECEIPT_KINDS else None)
        return row

    never = journal.new_row_id()
    journal.add_row(never, recipient="x@pec.it", row_number=9)
    unknown = "RZZZZZZZZ"
    exhausted = make([K.SMTP_TEMPORANEO, K.SMTP_ESAURITO])
    pending = make([])
    in_doubt = make([K.SMTP_IN_DUBBIO])
    uncertain = make([K.SMTP_IN_DUBBIO, K.INCERTO])
    refused = make([K.SMTP_RIFIUTATO])
    not_accepted = make([K.SMTP_INVIATO, K.NON_ACCETTAZIONE])
    undelivered = make([K.SMTP_INVIATO, K.ACCETTAZIONE, K.ERRORE_CONSEGNA])
    sent = make([K.SMTP_INVIATO])
    delivered = make([K.SMTP_INVIATO, K.ACCETTAZIONE, K.AVVENUTA_CONSEGNA])
    checked = [unknown, never, exhausted, pending, in_doubt, uncertain, refused, not_accepted, undelivered,
               sent, delivered]

    assert journal.rows_to_send(checked) == [unknown, never, exhausted]
    assert journal.rows_to_send(checked, ["failed"]) == [unknown, never, exhausted, refused, not_accepted,
                                                         undelivered]
    assert journal.rows_to_send(checked, ["uncertain"]) == [unknown, never, exhausted, uncertain]
    assert journal.rows_to_send(checked, ["sent"]) == [unknown, never, exhausted, uncertain, not_accepted,
                                                       undelivered, sent, delivered]
    assert journal.rows_to_send([delivered, unknown, delivered]) == [unknown]
    with pytest.raises(ValueError):
        journal.rows_to_send(checked, ["tutto"])
    assert set(journal.attempts_in_doubt()) == {journal.latest_attempt(pending), journal.latest_attempt(in_doubt)}

    counts = journal.status_counts()
    assert counts == {v.ST_TO_SEND: 2, v.ST_SENDING: 2, v.ST_UNCERTAIN: 1, v.ST_REFUSED: 1, v.ST_NOT_ACCEPTED: 1,
                      v.ST_NOT_DELIVERED: 1, v.ST_SENT: 1, v.ST_DELIVERED: 1}
    views = journal.row_views([never, delivered, unknown])
    assert set(views) == {never, delivered}
    assert views[never].status.stato == v.ST_TO_SEND and views[never].attempt is None
    assert views[never].row_number == 9 and views[never].recipient == "x@pec.it"


def test_exhausted_row_gets_a_new_attempt_and_message_id(journal):
    row = journal.new_row_id()
    first = send(journal, row)
    journal.add_event(first, K.SMTP_ESAURITO, retry_count=5, detail="421 try later")
    view = journal.row_view(row)
    assert view.status.stato == v.ST_TO_SEND and "421 try later" in view.status.dettaglio
    second = send(journal, row)
    assert second.number == 2 and second.message_id != first.message_id


def test_row_numbers_are_hints_only(journal):
    a, b = journal.new_row_id(), journal.new_row_id()
    journal.add_rows([(a, "a@pec.it", 2), (b, "b@pec.it", 3)])
    journal.set_row_numbers({a: 3, b: 2})  # the user sorted the sheet
    views = journal.row_views()
    assert (views[a].row_number, views[b].row_number) == (3, 2)
    journal.add_row(a)  # re-registering keeps what is known
    assert journal.row_view(a).recipient == "a@pec.it"
    with pytest.raises(ValueError):
        journal.add_row("12345")
    assert journal.new_row_id(taken=[a]) not in {a, b}


def test_test_attempts_are_numbered_and_never_touch_rows(journal):
    first = journal.begin_test_attempt(content_hash="h", recipient="me@pec.it", domain=DOMAIN, source_row=4)
    second = journal.begin_test_attempt(content_hash="h", recipient="me@pec.it", domain=DOMAIN, source_row=4)
    assert (first.label, second.label) == ("P1", "P2")
    assert second.message_id == f"<pecmass.{journal.campaign_id}.prova.P2@{DOMAIN}>"
    journal.add_event(first, K.SMTP_INVIATO)
    journal.add_event(first.message_id, K.ACCETTAZIONE, receipt_message_id="<t@p>")
    tests = journal.test_attempts()
    assert [(t.attempt.label, t.status.stato, t.attempt.source_row) for t in tests] == [
        ("P1", v.ST_ACCEPTED, 4), ("P2", v.ST_SENDING, 4)]
    assert journal.row_ids() == [] and journal.status_counts() == {}
    assert journal.attempts_in_doubt() == []
    assert journal.attempts_in_doubt(include_tests=True) == [second]
    assert journal.message_ids() == {first.message_id, second.message_id}


def test_batch_groups_writes_and_rolls_back_together(journal):
    attempt = send(journal, journal.new_row_id())
    with pytest.raises(RuntimeError):
        with journal.batch():
            journal.add_event(attempt, K.ACCETTAZIONE, receipt_message_id="<a@p>")
            journal.set_sync_state("INBOX", 7, 120)
            raise RuntimeError("connection lost mid-sync")
    assert journal.sync_state("INBOX") is None
    assert not journal.has_receipt("<a@p>")
    with journal.batch():
        journal.add_event(attempt, K.ACCETTAZIONE, receipt_message_id="<a@p>")
        journal.set_sync_state("INBOX", 7, 120)
    assert journal.has_receipt("<a@p>")
    state = journal.sync_state("INBOX")
    assert (state.folder, state.uidvalidity, state.last_uid) == ("INBOX", 7, 120)


def test_sync_state_per_folder(journal):
    assert journal.sync_state("INBOX") is None and journal.last_sync() is None
    journal.set_sync_state("INBOX", 1, 10)
    journal.set_sync_state("Ricevute", 5, 3)
    journal.set_sync_state("INBOX", 2, 0)  # UIDVALIDITY changed: the caller restarts the folder
    assert [(s.folder, s.uidvalidity, s.last_uid) for s in journal.sync_states()] == [("INBOX", 2, 0),
                                                                                     ("Ricevute", 5, 3)]
    assert journal.last_sync() is not None


def test_meta_and_eml_path(journal):
    assert journal.get_meta("worker_pid") is None
    journal.set_meta("worker_pid", "123")
    journal.set_meta("worker_pid", "456")
    assert journal.get_meta("worker_pid") == "456"
    journal.set_meta("worker_pid", None)
    assert journal.get_meta("worker_pid", "none") == "none"
    attempt = send(journal, journal.new_row_id())
    journal.set_eml_path(attempt, "archivio/R/inviato.eml")
    assert journal.attempt_by_message_id(attempt.message_id).eml_path == "archivio/R/inviato.eml"


def test_attempt_inside_a_batch_needs_a_durable_batch(journal):
    row = journal.new_row_id()
    with pytest.raises(RuntimeError, match="durable"):
        with journal.batch():
            send(journal, row)
    assert journal.latest_attempt(row) is None  # rolled back, nothing half-written
    with journal.batch(durable=True):
        attempt = send(journal, row)
        journal.add_row(row, row_number=5)
    assert journal.latest_attempt(row) == attempt
    assert journal._db._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # back to NORMAL


def test_views_keep_row_and_attempt_recipients_apart(journal):
    row = journal.new_row_id()
    journal.add_row(row, recipient="old@pec.it")
    attempt = send(journal, row, recipient="new@pec.it")
    view = journal.row_views()[row]
    assert view.recipient == "old@pec.it"
    assert view.attempt.recipient == "new@pec.it" == attempt.recipient
    assert journal.new_row_ids(3, taken=[row]) and len(set(journal.new_row_ids(50))) == 50
