"""Executing a send plan (DESIGN §5): freeze the rows, then hand each message over exactly once.

Order for every row: the attempt (Message-ID, content hash) is committed durably, the ledger
remembers it, the exact `.eml` is archived, and only then SMTP gets it; the answer is committed
after. A crash anywhere leaves either a row that certainly did not leave (sent next time) or an
attempt in doubt that is looked up in the mailbox, never resent blindly.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.campaign.files import campaign_archive, open_journal, open_ledger, open_usage
from pecmass_xl.campaign.mime import PENDING_MESSAGE_ID, build_message, check_draft, message_bytes
from pecmass_xl.campaign.problems import problem
from pecmass_xl.campaign.results import journal_summary, journal_update
from pecmass_xl.core.errors import CannotRun, LoginRefused, MessageNotBuilt
from pecmass_xl.core.italian import duration
from pecmass_xl.core.rome_time import in_rome
from pecmass_xl.journal import Attempt, Pacer, archive, hold_campaign_lock
from pecmass_xl.journal.ledger import OUTCOME_IN_DOUBT, OUTCOME_NOT_SENT, OUTCOME_REFUSED, OUTCOME_SENT
from pecmass_xl.journal.signals import PROGRESS_META, STOP_META, WORKER_META
from pecmass_xl.journal.status import FAILED_STATUSES, EventKind
from pecmass_xl.journal.store import RESEND_SENT
from pecmass_xl.mailclient.smtp_classify import IN_DOUBT, RATE_LIMITED, REFUSED, SENT, SmtpAnswer
from pecmass_xl.mailclient.smtp_session import SmtpSession
from pecmass_xl.sending.connection import CONNECT_BUDGET, ProviderUnreachable, connect_within
from pecmass_xl.sending.plan import SendPlan, draft_hash
from pecmass_xl.sending.sent_copy import SentCopier
from pecmass_xl.tracking.in_doubt import resolve_in_doubt
from pecmass_xl.tracking.recover import recover_lost_rows
from pecmass_xl.workbook import contract as c

log = logging.getLogger("pecmass.send")

ADOPTED = "adopted"
_LEDGER_OUTCOME = {SENT: OUTCOME_SENT, REFUSED: OUTCOME_REFUSED, IN_DOUBT: OUTCOME_IN_DOUBT}
"""The ledger's record of each SMTP outcome; anything else (retries outlasted, a stop) never left."""

STOPPED_DETAIL = "Invio fermato dall'utente prima della consegna al server: la riga sarà inviata al prossimo invio"


@dataclass
class SendOptions:
    in_doubt_wait: float = 300.0
    in_doubt_poll: float = 5.0
    max_retries: int = 5
    backoff_base: float = 2.0
    backoff_max: float = 120.0
    rate_limit_pause: float = 60.0
    max_rate_limit_pauses: int = 30
    write_every: float = 60.0
    connect_budget: float = CONNECT_BUDGET  # seconds the whole run may spend failing to reach the server


class Reporter:
    """Progress callbacks; the CLI draws a bar, the ribbon the status bar. Default: silent."""

    def start(self, total: int) -> None: ...
    def row_done(self, done: int, total: int, row_number: int, status: str) -> None: ...
    def message(self, text: str) -> None: ...


@dataclass
class SendOutcome:
    campaign_id: str
    counts: dict[str, int]
    failed: list[dict]
    sent_now: int = 0
    stopped: bool = False
    login_refused: str | None = None
    write_error: str | None = None
    in_doubt: dict[str, str] = field(default_factory=dict)
    unreachable: str | None = None  # the run gave up: the server could not be reached (Italian, what to check)

    @property
    def has_failures(self) -> bool:
        return bool(self.failed) or self.counts.get(c.ST_INVALID, 0) > 0 or self.counts.get(c.ST_UNCERTAIN, 0) > 0

    def as_json(self) -> dict:
        document = {"campaign": self.campaign_id, "counts": self.counts, "failed": self.failed}
        if self.unreachable:
            document["error"] = self.unreachable
        return document


class SendRun:
    def __init__(self, plan: SendPlan, password: str, options: SendOptions | None = None,
                 reporter: Reporter | None = None, should_stop: Callable[[], bool] | None = None):
        self.plan = plan
        self.settings = plan.settings
        self.password = password
        self.options = options or SendOptions()
        self.reporter = reporter or Reporter()
        self._external_stop = should_stop
        self.archive_root = campaign_archive(Path(plan.book.path), self.settings)
        self.in_doubt_now: list[Attempt] = []
        self.sent_copier: SentCopier | None = None
        self.sent_now = 0
        self._last_write = time.monotonic()
        self._stop_checked_at = 0.0
        self._stop_flag = False

    # -- helpers ---------------------------------------------------------------------------
    def should_stop(self) -> bool:
        """A stop asked here or by `pecmass stop` (the journal flag is read at most twice a second)."""
        if self._external_stop and self._external_stop():
            return True
        now = time.monotonic()
        if now - self._stop_checked_at > 0.5:
            self._stop_checked_at = now
            self._stop_flag = self.journal.get_meta(STOP_META) == "1"
        return self._stop_flag

    def write_sheet(self, new_ids: dict[int, str] | None = None, final: bool = False) -> str | None:
        """Rewrite result columns and Riepilogo from the journal; an error text when the file is busy."""
        report = self.plan.report
        try:
            update = journal_update(self.journal, report, self.archive_root, new_ids, self.plan.book.path.parent)
            sheet_ids = {r.id_invio for r in report.rows if r.id_invio} | set((new_ids or {}).values()) | set(update.by_id)
            summary = journal_summary(self.journal, self.usage, self.settings.mailbox, report, sheet_ids)
            self.plan.book.write(update, summary, campaign_id=self.plan.campaign_id if self.plan.campaign_is_new else None,
                                 confirm_lossy=lambda _losses: True)
            self.plan.campaign_is_new = False
            return None
        except CannotRun as exc:
            if new_ids:
                raise
            log.warning("result write skipped: %s", type(exc).__name__)
            return str(exc)
        finally:
            self._last_write = time.monotonic()

    def progress(self, done: int, total: int) -> None:
        self.journal.set_meta(PROGRESS_META, json.dumps({"done": done, "total": total, "time": time.time()}))

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> SendOutcome:
        plan = self.plan
        # A claimed plan already holds the campaign (taken before planning); else take it now.
        lock = None if plan.claim is not None else hold_campaign_lock(plan.campaign_id)
        try:
            with open_journal(plan.campaign_id) as journal, open_ledger(self.settings) as ledger, \
                    open_usage(self.settings) as usage, Pacer() as pacer:
                self.journal, self.ledger, self.usage, self.pacer = journal, ledger, usage, pacer
                return self._run()
        finally:
            plan.release()
            if lock is not None:
                lock.release()

    def _run(self) -> SendOutcome:
        plan, journal, s = self.plan, self.journal, self.settings
        journal.set_campaign_info(mailbox=s.mailbox, sender_domain=s.sender_domain, workbook_path=str(plan.book.path))
        journal.set_meta(STOP_META, None)
        journal.set_meta(WORKER_META, str(os.getpid()))
        login_refused = unreachable = None
        in_doubt_result: dict[str, str] = {}
        try:
            self.recover_lost_journal()
            earlier = journal.attempts_in_doubt(include_tests=True)
            if earlier:
                in_doubt_result.update(resolve_in_doubt(journal, earlier, s, self.password, self.archive_root,
                                                        self.options.in_doubt_wait, self.options.in_doubt_poll,
                                                        self.should_stop, self.reporter.message))
            queue = self.freeze()
            self.send_all(queue)
        except LoginRefused as exc:
            login_refused = str(exc)
        except ProviderUnreachable as exc:
            unreachable = str(exc)
            log.warning("send run gave up: server unreachable")
        finally:
            if self.in_doubt_now and not login_refused:
                in_doubt_result.update(resolve_in_doubt(journal, self.in_doubt_now, s, self.password, self.archive_root,
                                                        self.options.in_doubt_wait, self.options.in_doubt_poll,
                                                        None, self.reporter.message))
            journal.set_meta(WORKER_META, None)
        write_error = self.write_sheet(final=True)
        stopped = journal.get_meta(STOP_META) == "1" or bool(self._external_stop and self._external_stop())
        journal.set_meta(STOP_META, None)
        outcome = self.outcome(login_refused, write_error, stopped, in_doubt_result)
        outcome.unreachable = unreachable
        return outcome

    def recover_lost_journal(self) -> None:
        """Rows with an `ID invio` this journal does not know get their fate back before anything is
        sent (ledger, else mailbox); those that turn out handed over or uncertain leave the queue."""
        plan = self.plan
        rows = {r.id_invio: (r.draft.to if r.draft else None, r.number) for r in plan.report.rows if r.id_invio}
        recovered = recover_lost_rows(self.journal, self.ledger, self.settings, self.password, self.archive_root,
                                      rows, self.reporter.message)
        if recovered:
            due = set(self.journal.rows_to_send([r.id_invio for r in plan.due if r.id_invio], resend=plan.resend))
            plan.due = [r for r in plan.due if not r.id_invio or r.id_invio in due]

    def freeze(self) -> list[tuple[str, object]]:
        """Give every due row its `ID invio` and write the IDs to the workbook before anything leaves."""
        plan, journal = self.plan, self.journal
        taken = {r.id_invio for r in plan.report.rows if r.id_invio}
        new_ids: dict[int, str] = {number: entry.row_id for number, entry in plan.adopted.items()}
        queue: list[tuple[str, object]] = []
        # Rows sent earlier whose attempt ended without a hand-over (e.g. resolved above) are due again.
        with_id = [r for r in plan.report.rows if r.ok and r.id_invio]
        due_ids = set(journal.rows_to_send([r.id_invio for r in with_id]))
        due_numbers = {r.number for r in plan.due}
        for row in with_id:
            if row.id_invio in due_ids and row.number not in due_numbers:
                plan.due.append(row)
        buildable = []
        for row in plan.due:  # a message that cannot be built never freezes its row
            try:
                check_draft(row.draft, self.settings.mailbox)
                buildable.append(row)
            except MessageNotBuilt as exc:
                self.not_built(row, exc)
        plan.due = buildable
        for row in plan.due:
            row_id = row.id_invio
            if not row_id:
                row_id = journal.new_row_id(taken | set(new_ids.values()))
                new_ids[row.number] = row_id
            queue.append((row_id, row))
        # The journal knows a row before the sheet shows its `ID invio`: an `ID invio` the journal
        # does not know then always means a lost journal (see tracking.recover).
        journal.add_rows([(row_id, row.draft.to, row.number) for row_id, row in queue])
        if new_ids:
            self.write_sheet(new_ids=new_ids)  # raises CannotRun if the file cannot be written: nothing sent
        journal.set_row_numbers({r.id_invio: r.number for r in plan.report.rows if r.id_invio})
        return queue

    def send_all(self, queue: list[tuple[str, object]]) -> None:
        total = len(queue)
        self.reporter.start(total)
        if not total:
            return
        session = SmtpSession(self.settings, self.password)
        # Reach the server before the first attempt: if it cannot be reached, no row gets an attempt.
        connect_within(session, self.options.connect_budget, self.should_stop)
        self.sent_copier = SentCopier(self.settings, self.password, self.reporter.message) if self.settings.save_sent_copy else None
        try:
            self._send_queue(session, queue, total)
        finally:
            if self.sent_copier:
                self.sent_copier.close()

    def _send_queue(self, session: SmtpSession, queue: list[tuple[str, object]], total: int) -> None:
        with session:
            for done, (row_id, row) in enumerate(queue, start=1):
                if self.should_stop():
                    self.reporter.message("Invio fermato: le righe rimaste restano «Da inviare».")
                    break
                if done < total and not self.settings.pace_per_minute:
                    # Unpaced only: a provider may count an early MAIL FROM against its rate limit.
                    session.announce_next(self.settings.mailbox, queue[done][1].draft.to)
                status = self.send_one(session, row_id, row)
                self.progress(done, total)
                self.reporter.row_done(done, total, row.number, status)
                if time.monotonic() - self._last_write > self.options.write_every:
                    self.write_sheet()

    def not_built(self, row, error: MessageNotBuilt) -> None:
        """The row turns `Dati non validi` with the reason; nothing was recorded for it, the send goes on."""
        row.problems.append(problem(error.code, str(error), row=row.number))
        log.warning("row %s not sent: its message cannot be built (%s)", row.number, error.code)
        self.reporter.message(f"Riga {row.number}: non inviata, {error}")

    def send_one(self, session: SmtpSession, row_id: str, row) -> str:
        """Guard, commit, archive, hand over. Every write before the hand-over is forced to disk
        (the ledger's intent, the attempt, the `.eml` and its folder, the `.eml` path): after a
        power cut, each is what stops a resend of a PEC that may have left."""
        journal, s = self.journal, self.settings
        draft = row.draft
        try:  # built before its attempt and ledger entry exist: a failure leaves no trace to resolve
            msg = build_message(draft, s.mailbox, PENDING_MESSAGE_ID, s.receipt_type)
        except MessageNotBuilt as exc:
            self.not_built(row, exc)
            return c.ST_INVALID
        digest = draft_hash(row)
        message_id = journal.next_message_id(row_id, s.sender_domain)
        # The hand-over guard: check for an identical PEC and record this intent in one ledger
        # transaction, so two processes (copies of a workbook, two campaigns) cannot both pass.
        earlier = self.ledger.claim_handover(
            mailbox=s.mailbox, recipient=draft.to, content_hash=digest, campaign_id=self.plan.campaign_id,
            row_id=row_id, message_id=message_id, window_days=s.identical_window_days,
            allow_identical=RESEND_SENT in self.plan.resend or row_id in self.plan.resent_ids)
        if earlier is not None:
            return self.adopt(row_id, row, digest, earlier)
        attempt = journal.begin_attempt(row_id, content_hash=digest, recipient=draft.to, domain=s.sender_domain)
        if attempt.message_id != message_id:  # cannot happen under the campaign lock: refuse to guess
            raise RuntimeError("attempt numbering changed under the campaign lock")
        msg.replace_header("Message-ID", attempt.message_id)
        data = message_bytes(msg)
        path, _ = archive.store(self.archive_root / row_id, archive.sent_name(attempt.number), data)
        journal.set_eml_path(attempt, str(path))
        answer = self.hand_over(session, attempt, draft.to, data)
        self.ledger.set_outcome(attempt.message_id, _LEDGER_OUTCOME.get(answer.kind, OUTCOME_NOT_SENT))
        if answer.kind == SENT and self.sent_copier is not None:
            self.sent_copier.copy(data)
        return answer.kind

    def adopt(self, row_id: str, row, digest: str, earlier) -> str:
        """The ledger refused a second identical PEC: the row re-adopts the earlier one."""
        journal = self.journal
        if earlier.campaign_id == self.plan.campaign_id:
            view = journal.row_view(earlier.row_id)
            where = c.NOTE_IDENTICAL_ROW.format(row=view.row_number if view and view.row_number else "?",
                                                 row_id=earlier.row_id)
        else:
            where = c.NOTE_IDENTICAL_CAMPAIGN.format(campaign=earlier.campaign_id, row_id=earlier.row_id)
        note = c.NOTE_IDENTICAL.format(when=f"{in_rome(earlier.recorded_at):%d/%m/%Y %H:%M}", where=where)
        attempt = journal.adopt_attempt(row_id, earlier_message_id=earlier.message_id, content_hash=digest,
                                        recipient=row.draft.to, domain=self.settings.sender_domain,
                                        handed_over=earlier.handed_over, note=note)
        log.info("row re-adopted an identical PEC handed over earlier (no second hand-over)")
        if not attempt.adopts_in_journal and not earlier.handed_over:
            self.in_doubt_now.append(attempt)  # no answer known yet: its receipts decide
        return ADOPTED

    def hand_over(self, session: SmtpSession, attempt: Attempt, recipient: str, data: bytes) -> SmtpAnswer:
        """Send one attempt, retrying temporary failures and rate limits with the same Message-ID."""
        journal, s, o = self.journal, self.settings, self.options
        retries = pauses = 0
        while True:
            if self.pacer.acquire(s.mailbox, s.pace_per_minute, should_stop=self.should_stop) is None or self.should_stop():
                journal.add_event(attempt, EventKind.SMTP_ESAURITO, detail=STOPPED_DETAIL)
                return SmtpAnswer("stopped", None, STOPPED_DETAIL)
            try:
                if session.conn is None:  # lost since the last message: the run's budget, not a retry per row
                    connect_within(session, o.connect_budget, self.should_stop)
                answer = session.send(s.mailbox, recipient, data)
            except ProviderUnreachable as exc:
                journal.add_event(attempt, EventKind.SMTP_ESAURITO, detail=f"Server non raggiungibile: {exc}")
                self.ledger.set_outcome(attempt.message_id, OUTCOME_NOT_SENT)
                raise
            except LoginRefused as exc:
                journal.add_event(attempt, EventKind.SMTP_ESAURITO, detail=f"Accesso rifiutato dal server: {exc}")
                self.ledger.set_outcome(attempt.message_id, OUTCOME_NOT_SENT)
                raise
            if answer.kind == SENT:
                journal.add_event(attempt, EventKind.SMTP_INVIATO, smtp_code=answer.code, detail=answer.detail)
                self.usage.record_message(s.mailbox, self.plan.campaign_id)
                self.sent_now += 1
                return answer
            if answer.kind == REFUSED:
                journal.add_event(attempt, EventKind.SMTP_RIFIUTATO, smtp_code=answer.code, detail=answer.detail)
                return answer
            if answer.kind == IN_DOUBT:
                journal.add_event(attempt, EventKind.SMTP_IN_DUBBIO, detail=answer.detail)
                self.in_doubt_now.append(attempt)
                return answer
            if answer.kind == RATE_LIMITED:
                pauses += 1
                if pauses > o.max_rate_limit_pauses:
                    journal.add_event(attempt, EventKind.SMTP_ESAURITO, smtp_code=answer.code, detail=answer.detail, retry_count=pauses)
                    return answer
                self.reporter.message(f"Il gestore chiede di rallentare ({answer.detail}): pausa di {duration(o.rate_limit_pause)}.")
                self.pacer.pause(s.mailbox, o.rate_limit_pause)
                continue
            retries += 1
            if retries > o.max_retries:
                journal.add_event(attempt, EventKind.SMTP_ESAURITO, smtp_code=answer.code, detail=answer.detail, retry_count=retries - 1)
                return answer
            journal.add_event(attempt, EventKind.SMTP_TEMPORANEO, smtp_code=answer.code, detail=answer.detail, retry_count=retries)
            delay = min(o.backoff_base * (2 ** (retries - 1)), o.backoff_max)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not self.should_stop():
                time.sleep(min(0.5, max(deadline - time.monotonic(), 0)))

    def outcome(self, login_refused, write_error, stopped, in_doubt) -> SendOutcome:
        report, journal = self.plan.report, self.journal
        views = journal.row_views()
        number_of = {r.id_invio: r.number for r in report.rows if r.id_invio}
        number_of.update({entry.row_id: number for number, entry in self.plan.adopted.items()})
        counts: dict[str, int] = {}
        failed: list[dict] = []
        invalid_numbers = {r.number for r in report.rows if not r.ok}
        not_built = {number_of.get(row_id, view.row_number): row_id for row_id, view in views.items()
                     if view.attempt is None and number_of.get(row_id, view.row_number) in invalid_numbers}
        for row_id, view in views.items():
            if view.attempt is None and number_of.get(row_id, view.row_number) in not_built:
                continue  # frozen, then its message could not be built: counted below as Dati non validi
            counts[view.status.stato] = counts.get(view.status.stato, 0) + 1
            if view.status.stato in FAILED_STATUSES or view.status.stato == c.ST_UNCERTAIN:
                failed.append({"row": number_of.get(row_id, view.row_number), "id": row_id,
                               "status": view.status.stato, "detail": view.status.dettaglio})
        for row in report.rows:
            if not row.ok and (not row.id_invio or row.number in not_built):
                if row.number in not_built:
                    failed.append({"row": row.number, "id": not_built[row.number], "status": c.ST_INVALID, "detail": row.error_text})
                counts[c.ST_INVALID] = counts.get(c.ST_INVALID, 0) + 1
        failed.sort(key=lambda f: (f["row"] or 0))
        return SendOutcome(self.plan.campaign_id, counts, failed, self.sent_now, stopped, login_refused, write_error, in_doubt)
