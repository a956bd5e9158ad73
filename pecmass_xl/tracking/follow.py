"""The `Aggiorna ricevute` use case: sync the mailbox, rewrite the sheet from the journal; with
`follow`, keep polling until every row is final (bounded), watching non-PEC rows for bounces."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.campaign.checks import run_checks
from pecmass_xl.campaign.files import campaign_archive, open_journal, open_ledger, open_usage
from pecmass_xl.campaign.results import journal_summary, journal_update
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.journal import Journal
from pecmass_xl.journal.signals import STOP_META, WORKER_META
from pecmass_xl.tracking import evidence, quarantine
from pecmass_xl.tracking.anomalies import anomaly_reason, is_failure
from pecmass_xl.tracking.recover import recover_lost_rows
from pecmass_xl.tracking.sync import SyncResult, is_transient, sync_receipts
from pecmass_xl.tracking.trust import verifier_for
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.gateway import WorkbookGateway
from pecmass_xl.workbook.write import clean_text


@dataclass
class FollowOptions:
    follow: bool = False
    poll_seconds: float = 60.0
    max_seconds: float = 30 * 3600.0
    bounce_window: float = 2 * 3600.0  # keep watching `Accettato (non PEC)` rows this long
    now: Callable[[], dt.datetime] | None = None  # the provider's clock; None: `provider_clock(settings)`


@dataclass
class ReceiptsOutcome:
    campaign_id: str
    counts: dict[str, int]
    sync: SyncResult
    rounds: int = 0
    pending: int = 0
    write_error: str | None = None
    anomalies: list[dict] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return self.sync.error

    def as_json(self) -> dict:
        return {"campaign": self.campaign_id, "counts": self.counts, "pending": self.pending,
                "scanned": self.sync.scanned, "downloaded": self.sync.downloaded, "recorded": self.sync.recorded,
                "duplicates": self.sync.duplicates, "unreadable": self.sync.unreadable,
                "quarantined": self.sync.quarantined, "recovered": self.sync.recovered, "reread_folders": self.sync.reset_folders,
                "rounds": self.rounds, "error": self.error, "write_error": self.write_error,
                "anomalies": self.anomalies}


def provider_clock(settings) -> Callable[[], dt.datetime]:
    """The provider's clock: real time, or the sandbox's simulated time it publishes (`--time-scale`).

    With a time-scaled sandbox a bounce window of two hours passes in two simulated hours, not two
    real ones. Computed here from the published numbers: tracking never imports the sandbox.
    """
    published = getattr(settings, "sandbox_clock", None)
    try:
        scale, real_start, sim_start = (float(published[k]) for k in ("time_scale", "real_start", "simulated_start"))
    except (TypeError, KeyError, ValueError):
        return lambda: dt.datetime.now(dt.UTC)
    return lambda: dt.datetime.fromtimestamp(sim_start + (time.time() - real_start) * scale, dt.UTC)


def provider_time_scale(settings) -> float:
    published = getattr(settings, "sandbox_clock", None) or {}
    try:
        return max(float(published.get("time_scale", 1.0)), 1.0)
    except (TypeError, ValueError):
        return 1.0


CLOCK_SKEW = 300.0  # seconds the provider's clock may run ahead of ours before we stop trusting it


def pending_rows(views, bounce_window: float, now: dt.datetime | None = None,
                 watched: dict[str, float] | None = None) -> int:
    """Rows still waiting for an outcome (handed over, not final), and `Accettato (non PEC)` rows
    still inside the bounce window. `views`: the journal's `row_views()` (or the journal itself).

    The window is measured on the provider's clock from the acceptance. When that clock is ahead of
    ours beyond any plausible skew (a sandbox with a time scale), it is measured instead from when
    this run first saw the row (`watched`: row id → `time.monotonic()`, kept by the caller).
    """
    if isinstance(views, Journal):
        views = views.row_views()
    now = now or dt.datetime.now(dt.UTC)
    pending = 0
    for row_id, view in views.items():
        status = view.status
        if view.attempt is None:
            continue
        if not status.final and status.handed_over:
            pending += 1
        elif status.stato == c.ST_ACCEPTED_EXTERNAL and status.accettata_il is not None:
            elapsed = (now - status.accettata_il).total_seconds()
            if elapsed < -CLOCK_SKEW and watched is not None:
                elapsed = time.monotonic() - watched.setdefault(row_id, time.monotonic())
            if elapsed < bounce_window:
                pending += 1
    return pending


def update_receipts(book: WorkbookGateway, password: str, options: FollowOptions | None = None,
                    should_stop: Callable[[], bool] | None = None,
                    on_round: Callable[[ReceiptsOutcome], None] | None = None,
                    sheet=None) -> ReceiptsOutcome:
    """Sync, then rewrite the sheet from the journal; with `options.follow`, repeat until done.

    A dropped connection ends a single run with `sync.error` set (what was read is kept); while
    following, it is tried again at the next round. A refused login always stops at once.
    The sheet is rewritten after the first round (unless it already shows the journal) and after
    any round that recorded something.
    """
    options = options or FollowOptions()
    report = run_checks(sheet if sheet is not None else book.read())  # `sheet`: just read by the caller
    settings = report.settings
    campaign = report.sheet.campaign_id
    if not campaign:
        raise CannotRun("Questa cartella di lavoro non ha ancora inviato nulla: nessuna ricevuta da cercare.")
    archive_root = campaign_archive(Path(book.path), settings)
    now = options.now or provider_clock(settings)
    started = time.monotonic()
    total = SyncResult()
    with open_journal(campaign) as journal, open_usage(settings) as usage:
        with open_ledger(settings) as ledger:  # a lost journal is rebuilt first (ledger, else mailbox)
            recover_lost_rows(journal, ledger, settings, password, archive_root,
                              {r.id_invio: (r.draft.to if r.draft else None, r.number) for r in report.rows if r.id_invio})

        def stop() -> bool:
            return bool(should_stop and should_stop()) or journal.get_meta(STOP_META) == "1"

        if options.follow:
            journal.set_meta(STOP_META, None)  # a stale request must not end this run at once
            journal.set_meta(WORKER_META, str(os.getpid()))
        rounds = 0
        write_error: str | None = None
        watched: dict[str, float] = {}  # non-PEC rows whose acceptance is in our future (see pending_rows)
        try:
            while True:
                rounds += 1
                try:
                    result = sync_receipts(journal, settings, password, archive_root, stop)
                except CannotRun as exc:
                    if not (options.follow and is_transient(exc)):
                        raise
                    result = SyncResult(error=str(exc))  # the server is unreachable now: try again later
                total.add(result)
                evidence.write_pages(journal, archive_root, verifier_for(settings))  # before the links point at them
                if rounds == 1 or result.recorded or write_error:
                    try:
                        if rounds > 1:
                            report = run_checks(book.read())  # the user may have edited the sheet meanwhile
                        write_error = _write_sheet(book, journal, usage, settings, report, archive_root)
                    except CannotRun as exc:  # unreadable now (being saved, locked): next round
                        write_error = str(exc)
                views = journal.row_views()
                pending = pending_rows(views, options.bounce_window, now(), watched)
                counts = dict(Counter(view.status.stato for view in views.values()))
                outcome = ReceiptsOutcome(campaign, counts, total, rounds, pending, write_error)
                outcome.anomalies = list_anomalies(views, quarantine.rows_waiting(archive_root),
                                                   {r.id_invio: r.number for r in report.sheet.rows if r.id_invio})
                if on_round:
                    on_round(outcome)
                if not options.follow or pending == 0 or stop() or time.monotonic() - started > options.max_seconds:
                    return outcome
                deadline = time.monotonic() + options.poll_seconds
                while time.monotonic() < deadline and not stop():
                    time.sleep(min(0.5, max(deadline - time.monotonic(), 0)))
        finally:
            if options.follow:
                journal.set_meta(STOP_META, None)
                journal.set_meta(WORKER_META, None)


def _write_sheet(book: WorkbookGateway, journal: Journal, usage, settings, report, archive_root: Path) -> str | None:
    """Result columns and Riepilogo from the journal in one write, unless the sheet already shows
    exactly that (a run with nothing new then costs no workbook write); the reason when it failed."""
    try:
        update = journal_update(journal, report, archive_root, workbook_folder=Path(book.path).parent)
        if sheet_is_current(report.sheet, update):
            return None
        summary = journal_summary(journal, usage, settings.mailbox, report, set(update.by_id))
        book.write(update, summary, confirm_lossy=lambda _l: True)
    except CannotRun as exc:
        return str(exc)
    return None


def _same(shown: object, wanted: object) -> bool:
    if shown in (None, ""):
        return wanted in (None, "")
    if isinstance(wanted, dt.datetime):
        # Excel keeps milliseconds: a time read back may differ by the rounding.
        return isinstance(shown, dt.datetime) and abs((shown - wanted.replace(tzinfo=None)).total_seconds()) < 0.001
    if isinstance(wanted, str):
        return str(shown) == clean_text(wanted)
    return shown == wanted


def sheet_is_current(sheet, update) -> bool:
    """Whether every result cell the update would write already holds that value (rows the sheet
    no longer has cannot be written anyway and are ignored). A `Ricevute` link counts as present when
    the cell holds a formula (its target is derived from the ID, so it is the same one)."""
    if update.new_ids:
        return False
    link_column = next((h.column for h in sheet.headers if h.name == c.COL_RECEIPTS), None)

    def current(row, values: dict) -> bool:
        for column, wanted in values.items():
            shown = row.results.get(column)
            if column == c.COL_RECEIPTS:
                has_link = shown not in (None, "") or (row.number, link_column) in sheet.formulas_without_value
                if has_link != (wanted not in (None, "")):
                    return False
            elif not _same(shown, wanted):
                return False
        return True

    by_id = {row.id_invio: row for row in sheet.rows if row.id_invio}
    by_number = {row.number: row for row in sheet.rows}
    for row_id, values in update.by_id.items():
        row = by_id.get(row_id)
        if row is not None and not current(row, values):
            return False
    for number, values in update.by_row.items():
        row = by_number.get(number)
        if row is not None and not current(row, values):
            return False
    return True


def list_anomalies(views, quarantined: dict[str, int] | None = None,
                   row_numbers: dict[str, int] | None = None) -> list[dict]:
    """The rows to look at (see `anomalies`), for the command's output, in sheet order. `views`:
    `row_views()`; `quarantined`: row id → unreadable messages of that row waiting in quarantine;
    `row_numbers`: `ID invio` → the row's Excel number in the sheet as it is now (the user may have
    sorted it since the send), else the number recorded at the send."""
    if isinstance(views, Journal):
        views = views.row_views()
    quarantined = quarantined or {}
    row_numbers = row_numbers or {}
    out = []
    for row_id, view in views.items():
        status = view.status
        reason = anomaly_reason(status.stato, status, quarantined.get(row_id, 0))
        if reason:
            out.append({"id": row_id, "row": row_numbers.get(row_id, view.row_number),
                        "to": view.attempt.recipient if view.attempt is not None else None,
                        "status": status.stato, "detail": status.dettaglio, "signature": status.firma,
                        "reason": reason, "failure": is_failure(status.stato, status) or row_id in quarantined})
    out.sort(key=lambda a: (a["row"] is None, a["row"] or 0))
    return out
