"""`pecmass test`: row N's real message to the test recipient. The row is not frozen; the attempt
is a test attempt `P{n}` of the journal, shown in the output and in Riepilogo, never in the row."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pecmass_xl.campaign.checks import run_checks
from pecmass_xl.campaign.files import campaign_archive, open_journal, open_ledger, open_usage
from pecmass_xl.campaign.mime import PENDING_MESSAGE_ID, build_message, message_bytes
from pecmass_xl.campaign.problems import Problem
from pecmass_xl.campaign.results import journal_summary
from pecmass_xl.core.errors import CannotRun, LoginRefused
from pecmass_xl.core.vocabulary import ST_INVALID, ST_REFUSED, ST_TO_SEND, ST_UNCERTAIN
from pecmass_xl.journal import archive, content_hash, new_campaign_id
from pecmass_xl.journal.status import EventKind
from pecmass_xl.mailclient.smtp_classify import IN_DOUBT, REFUSED, SENT
from pecmass_xl.mailclient.smtp_session import SmtpSession
from pecmass_xl.tracking.in_doubt import resolve_in_doubt
from pecmass_xl.workbook.gateway import WorkbookGateway

FAILED_TEST_STATES = frozenset({ST_INVALID, ST_REFUSED, ST_TO_SEND, ST_UNCERTAIN})


@dataclass
class TrialSendOutcome:
    label: str  # P1, P2…
    to: str
    status: str
    detail: str
    message_id: str
    eml: Path | None
    problems: list[Problem]

    @property
    def failed(self) -> bool:
        """The test PEC did not leave, or may not have: the user has something to fix or check."""
        return self.status in FAILED_TEST_STATES


def send_trial(book: WorkbookGateway, row_number: int, password: str, to: str | None = None, in_doubt_wait: float = 60.0) -> TrialSendOutcome:
    report = run_checks(book.read())
    prepared = report.row(row_number)
    if prepared is None:
        raise CannotRun(f"La riga {row_number} di Destinatari è vuota o non esiste (le righe partono dalla 2).")
    problems = list(report.blocking) + prepared.problems
    if report.blocking or not prepared.ok:
        return TrialSendOutcome("", "", ST_INVALID, "La riga ha errori: correggeteli prima dell'invio di prova.", "", None, problems)
    s = report.settings
    recipient = (to or s.test_recipient or s.mailbox).strip()
    campaign = report.sheet.campaign_id or new_campaign_id()
    draft = replace(prepared.draft, to=recipient)
    digest = content_hash(draft.to, draft.subject, draft.text, [(a.name, a.path) for a in draft.attachments])
    root = campaign_archive(Path(book.path), s)
    msg = build_message(draft, s.mailbox, PENDING_MESSAGE_ID, s.receipt_type)  # before anything is recorded
    with open_journal(campaign) as journal, open_ledger(s) as ledger, open_usage(s) as usage:
        journal.set_campaign_info(mailbox=s.mailbox, sender_domain=s.sender_domain, workbook_path=str(book.path))
        attempt = journal.begin_test_attempt(content_hash=digest, recipient=recipient, domain=s.sender_domain, source_row=row_number)
        ledger.record(mailbox=s.mailbox, recipient=recipient, content_hash=digest, campaign_id=campaign,
                      row_id=None, message_id=attempt.message_id)
        msg.replace_header("Message-ID", attempt.message_id)
        data = message_bytes(msg)
        path, _ = archive.store(root / "prove" / attempt.label, archive.sent_name(attempt.label), data)
        journal.set_eml_path(attempt, str(path))
        with SmtpSession(s, password) as session:
            try:
                answer = session.send(s.mailbox, recipient, data)
            except LoginRefused as exc:
                journal.add_event(attempt, EventKind.SMTP_ESAURITO, detail=f"Accesso rifiutato dal server: {exc}")
                raise
        if answer.kind == SENT:
            journal.add_event(attempt, EventKind.SMTP_INVIATO, smtp_code=answer.code, detail=answer.detail)
            usage.record_message(s.mailbox, campaign, test=True)
        elif answer.kind == REFUSED:
            journal.add_event(attempt, EventKind.SMTP_RIFIUTATO, smtp_code=answer.code, detail=answer.detail)
        elif answer.kind == IN_DOUBT:
            journal.add_event(attempt, EventKind.SMTP_IN_DUBBIO, detail=answer.detail)
            resolve_in_doubt(journal, [attempt], s, password, root, in_doubt_wait)
        else:
            journal.add_event(attempt, EventKind.SMTP_ESAURITO, smtp_code=answer.code, detail=answer.detail)
        status = journal.attempt_status(attempt)
        summary = journal_summary(journal, usage, s.mailbox, report, {r.id_invio for r in report.rows if r.id_invio})
    try:
        book.write(None, summary, campaign_id=campaign if not report.sheet.campaign_id else None,
                   confirm_lossy=lambda _losses: True)
    except CannotRun:
        pass  # the journal has it; the summary is refreshed at the next write
    return TrialSendOutcome(attempt.label, recipient, status.stato, status.dettaglio or answer.detail,
                          attempt.message_id, path, problems)
