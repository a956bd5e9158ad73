"""The per-mailbox ledger (re-adoption of a row that lost its `ID invio`) and the usage counters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pecmass_xl.core import vocabulary as v
from pecmass_xl.core.rome_time import rome_month
from pecmass_xl.journal.content_hash import content_hash
from pecmass_xl.journal.ids import new_campaign_id
from pecmass_xl.journal.ledger import Ledger
from pecmass_xl.journal.status import EventKind as K
from pecmass_xl.journal.store import Journal
from pecmass_xl.journal.usage import UsageCounter

MAILBOX = "Studio.Rossi@PEC.it"


def row_content(tmp_path, text="Gentile Mario,\r\nin allegato l'avviso.\r\n"):
    pdf = tmp_path / "avviso.pdf"
    pdf.write_bytes(b"%PDF-1.7 avviso per Mario")
    return content_hash("mario@pec.it", "Avviso di pagamento", text, [("avviso.pdf", pdf)])


def hand_over(journal, ledger, row_id, chash):
    """What the sender does: journal attempt and ledger entry (both durable) before SMTP."""
    attempt = journal.begin_attempt(row_id, content_hash=chash, recipient="mario@pec.it", domain="pec.it")
    ledger.record(mailbox=MAILBOX, recipient="Mario@PEC.it", content_hash=chash, campaign_id=journal.campaign_id,
                  row_id=row_id, message_id=attempt.message_id)
    return attempt


def test_lost_row_id_readopts_the_earlier_attempt(tmp_path):
    campaign = new_campaign_id()
    with Journal.for_campaign(campaign, tmp_path / "journals") as journal, Ledger(tmp_path / "ledger.sqlite") as ledger:
        row_id = journal.new_row_id()
        attempt = hand_over(journal, ledger, row_id, row_content(tmp_path))
        journal.add_event(attempt, K.SMTP_INVIATO)
        journal.add_event(attempt, K.ACCETTAZIONE, receipt_message_id="<acc@pec.it>")

        # The workbook was closed unsaved: the row comes back without its ID invio; the list was
        # re-imported from a CSV (LF line ends) and the mailbox typed in another case.
        same_again = row_content(tmp_path, text="Gentile Mario,\nin allegato l'avviso.\n")
        entry = ledger.readoption_candidate(MAILBOX.lower(), same_again, campaign, taken_row_ids=set())
        assert entry is not None and entry.row_id == row_id and entry.message_id == attempt.message_id
        # re-adopted: its status comes back and it is not due for sending
        assert journal.row_view(entry.row_id).status.stato == v.ST_ACCEPTED
        assert journal.rows_to_send([entry.row_id]) == []
        assert journal.rows_to_send([entry.row_id], ["sent"]) == [entry.row_id]  # only a deliberate resend

        # A copy of the row, while the original still holds its ID invio: not the same row.
        assert ledger.readoption_candidate(MAILBOX, same_again, campaign, taken_row_ids={row_id}) is None
        # Changed content: a different message, nothing to re-adopt.
        changed = row_content(tmp_path, text="Gentile Mario, nuovo testo.")
        assert ledger.readoption_candidate(MAILBOX, changed, campaign) is None
        # Another campaign (list re-imported into a new workbook): shown, never re-adopted.
        assert ledger.readoption_candidate(MAILBOX, same_again, new_campaign_id()) is None
        assert [e.campaign_id for e in ledger.find_by_content_hash(MAILBOX, same_again)] == [campaign]
        # Another mailbox never matches.
        assert ledger.find_by_content_hash("altro@pec.it", same_again) == []


def test_resent_row_readopts_its_latest_id(tmp_path):
    campaign = new_campaign_id()
    with Journal.for_campaign(campaign, tmp_path) as journal, Ledger(tmp_path / "ledger.sqlite") as ledger:
        row_id = journal.new_row_id()
        chash = row_content(tmp_path)
        first = hand_over(journal, ledger, row_id, chash)
        journal.add_event(first, K.SMTP_RIFIUTATO, detail="550 no")
        second = hand_over(journal, ledger, row_id, chash)
        journal.add_event(second, K.SMTP_INVIATO)
        entries = ledger.find_by_content_hash(MAILBOX, chash, campaign_id=campaign)
        assert [e.message_id for e in entries] == [second.message_id, first.message_id]
        assert ledger.readoption_candidate(MAILBOX, chash, campaign).row_id == row_id
        assert journal.row_view(row_id).status.stato == v.ST_SENT


def test_crash_between_ledger_and_journal_reads_as_not_sent(tmp_path):
    campaign = new_campaign_id()
    with Journal.for_campaign(campaign, tmp_path) as journal, Ledger(tmp_path / "ledger.sqlite") as ledger:
        row_id = journal.new_row_id()
        chash = row_content(tmp_path)
        ledger.record(mailbox=MAILBOX, recipient="mario@pec.it", content_hash=chash, campaign_id=campaign,
                      row_id=row_id, message_id=f"<pecmass.{campaign}.{row_id}.1@pec.it>")
        entry = ledger.readoption_candidate(MAILBOX, chash, campaign)
        assert entry.row_id == row_id
        assert journal.rows_to_send([entry.row_id]) == [row_id]  # no attempt: it never left


def test_ledger_is_idempotent_and_test_sends_are_never_readopted(tmp_path):
    with Ledger(tmp_path / "sandbox" / "ledger.sqlite") as ledger:
        kwargs = dict(mailbox=MAILBOX, recipient="me@pec.it", content_hash="h", campaign_id="CX", row_id=None,
                      message_id="<pecmass.CX.prova.P1@pec.it>")
        ledger.record(**kwargs)
        ledger.record(**kwargs)
        assert len(ledger.find_by_content_hash(MAILBOX, "h")) == 1
        assert ledger.readoption_candidate(MAILBOX, "h", "CX") is None
        assert ledger.find_by_message_id("<pecmass.CX.prova.P1@pec.it>").row_id is None
        assert [e.message_id for e in ledger.entries_for_campaign("CX")] == ["<pecmass.CX.prova.P1@pec.it>"]
        assert ledger.path == tmp_path / "sandbox" / "ledger.sqlite"


def test_default_ledger_location(tmp_path, monkeypatch):
    monkeypatch.setenv("PECMASS_DATA_DIR", str(tmp_path / "data"))
    with Ledger() as ledger, UsageCounter() as usage:
        assert ledger.path == tmp_path / "data" / "ledger.sqlite" == usage.path


def test_acknowledgements_are_per_mailbox(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert not ledger.is_acknowledged(MAILBOX, "legalmail-contratto")
        ledger.acknowledge(MAILBOX.upper(), "legalmail-contratto")
        ledger.acknowledge(MAILBOX, "legalmail-contratto")
        assert ledger.is_acknowledged(MAILBOX, "legalmail-contratto")
        assert not ledger.is_acknowledged("altro@legalmail.it", "legalmail-contratto")
    with Ledger(tmp_path / "ledger.sqlite") as reopened:
        assert reopened.is_acknowledged(MAILBOX, "legalmail-contratto")


def test_usage_per_month_and_mailbox(tmp_path):
    jan = datetime(2026, 1, 15, 10, tzinfo=UTC)
    # 23:30 UTC on 31 January is already February in Italy
    feb = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    assert rome_month(feb) == "2026-02"
    with UsageCounter(tmp_path / "ledger.sqlite") as usage:
        usage.record_message(MAILBOX, "CA", when=jan)
        usage.record_message(MAILBOX.lower(), "CA", when=jan, count=4)
        usage.record_message(MAILBOX, "CB", when=jan)
        usage.record_message(MAILBOX, "CC", when=jan, test=True)  # a test send only: no mass send
        usage.record_message(MAILBOX, "CA", when=feb)
        usage.record_message("altro@pec.it", "CZ", when=jan, count=2)
        with pytest.raises(ValueError):
            usage.record_message(MAILBOX, "CA", count=0)
        rows = [(u.month, u.mailbox, u.messages, u.test_messages, u.mass_sends) for u in usage.monthly()]
        assert rows == [
            ("2026-01", "altro@pec.it", 2, 0, 1),
            ("2026-01", "studio.rossi@pec.it", 6, 1, 2),
            ("2026-02", "studio.rossi@pec.it", 1, 0, 1),
        ]
        assert usage.for_month(MAILBOX, "2026-02").messages == 1
        assert usage.for_month(MAILBOX, "2025-12").messages == 0
    # the ledger and the counters share one file and one schema
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.find_by_content_hash(MAILBOX, "nothing") == []
