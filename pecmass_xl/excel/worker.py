"""The background worker started by the Invia, Reinvia and Aggiorna ricevute buttons.

    python -m pecmass_xl.excel.worker send FULLNAME CONFIRMATION.json [--resend failed,uncertain]
    python -m pecmass_xl.excel.worker receipts FULLNAME

It finds the workbook among the running Excel instances (never opening it), sends or reads receipts
with the same use cases as the CLI (`app.send.send_confirmed`, `app.receipts.update`), writes
progress to Excel's status bar and results in bulk. It sends only the rows the user confirmed, unchanged: a row edited after the confirmation is left for the next
send. If the workbook is closed meanwhile, the journal keeps every outcome and the next Aggiorna
ricevute writes them into the sheet.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pecmass_xl.app import receipts
from pecmass_xl.app.send import send_confirmed
from pecmass_xl.core.errors import CannotRun, PecmassError
from pecmass_xl.core.italian import clause, plural
from pecmass_xl.core.logging_setup import configure_logging
from pecmass_xl.excel.live_workbook import (
    ExcelWorkbook,
    is_busy_error,
    locate_open_book,
    release_com_references,
    without_mac_cleanup,
)
from pecmass_xl.journal.locks import SendInProgress
from pecmass_xl.sending.engine import Reporter, SendOptions, SendOutcome
from pecmass_xl.tracking.follow import FollowOptions, ReceiptsOutcome
from pecmass_xl.workbook.sheetdata import SheetData

T = TypeVar("T")

log = logging.getLogger("pecmass.excel.worker")

FIND_TIMEOUT = 30.0  # seconds to wait for the workbook to show up among Excel's open books
COM_ATTEMPTS = 20  # xlwings' own retries of a rejected COM call (its default, 0, retries forever)
CLOSED = ("La cartella di lavoro non è più aperta in Excel: i risultati restano nel registro e "
          "compaiono nel foglio al prossimo «Aggiorna ricevute».")


class DetachedWorkbook(ExcelWorkbook):
    """The open workbook seen from the worker: it may be closed, reopened or Excel quit at any moment.

    It holds no COM reference between operations: each read, write or status update finds the book
    among the running Excel instances, works, and lets every reference go. So an Excel the user quits
    during a long send really ends (a held reference would keep it alive, hidden, and a workbook
    double-clicked later could open inside it)."""

    def __init__(self, fullname: str, apps: Any, **kwargs: Any):
        self.fullname = fullname
        self.path = Path(fullname)
        self.book = None
        self._apps = apps
        self._retry = dict(attempts=kwargs.get("retry_attempts", 40), delay=kwargs.get("retry_delay", 0.5),
                           sleep=kwargs.get("sleep", time.sleep))

    @contextmanager
    def _connected(self) -> Iterator[None]:
        book = self._retrying(lambda: locate_open_book(self.fullname, self._apps))
        if book is None:
            raise CannotRun(CLOSED)
        self.book = book
        del book
        try:
            yield
        finally:
            self.book = None
            release_com_references()

    def _attached(self, operation: Callable[[], T]) -> T:
        """Run `operation` on the book, connected for it only; a failure not due to a busy Excel is
        retried once if the book is still open (it may have been closed and reopened meanwhile)."""
        for attempt in (1, 2):
            try:
                with self._connected():
                    return operation()
            except PecmassError:
                raise
            except Exception as exc:
                log.info("workbook operation failed (%s)", type(exc).__name__)
                still_open = self._retrying(lambda: locate_open_book(self.fullname, self._apps)) is not None
                release_com_references()
                if not still_open:
                    raise CannotRun(CLOSED) from exc
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def read(self) -> SheetData:
        return self._attached(super().read)

    def write(self, *args: Any, **kwargs: Any) -> None:
        return self._attached(lambda: ExcelWorkbook.write(self, *args, **kwargs))

    def set_status(self, text: str | None) -> None:
        try:
            self._attached(lambda: ExcelWorkbook.set_status(self, text))
        except Exception:  # noqa: BLE001 - the status bar is a courtesy: never fail the work for it
            log.debug("status bar not updated")

    def alert(self, text: str) -> None:
        """A message box in Excel (the status bar already says the same if Excel is busy)."""
        try:  # connected for the dialog only, like every other operation (no reference kept between them)
            self._attached(lambda: self.book.app.alert(text, title="PEC Massiva", buttons="ok", mode="critical"))
        except Exception as exc:  # noqa: BLE001 - the status bar already shows the text
            log.info("dialog not shown (%s)", type(exc).__name__)


class StatusBarReporter(Reporter):
    """Send progress in Excel's status bar, no more often than the results are written.

    Every write through Excel's object model clears the user's Undo list, so progress is not shown
    more often than the engine writes the result columns (`SendOptions.write_every`)."""

    def __init__(self, book: DetachedWorkbook, clock=time.monotonic, interval: float | None = None):
        self.book = book
        self.clock = clock
        self.interval = SendOptions().write_every if interval is None else interval
        self.last: float | None = None

    def start(self, total: int) -> None:
        self.last = self.clock()
        self.book.set_status(f"PEC Massiva: invio di {plural(total, 'PEC')}…" if total else None)

    def row_done(self, done: int, total: int, row_number: int, status: str) -> None:
        now = self.clock()
        if done == total or self.last is None or now - self.last >= self.interval:
            self.last = now
            self.book.set_status(f"PEC Massiva: {done} di {total} PEC consegnate al gestore…")

    def message(self, text: str) -> None:
        self.book.set_status(f"PEC Massiva: {text}")


def find_book(fullname: str, apps: Any, timeout: float | None = None, sleep=time.sleep) -> Any | None:
    """Wait for the workbook in the running Excel instances (Excel may still be busy with the button)."""
    deadline = time.monotonic() + (FIND_TIMEOUT if timeout is None else timeout)
    while True:
        try:
            book = locate_open_book(fullname, apps)
            if book is not None:
                return book
        except Exception as exc:
            if not is_busy_error(exc):
                raise
        if time.monotonic() >= deadline:
            return None
        sleep(0.5)


def run_send(book: DetachedWorkbook, confirmation: Path, resend: frozenset[str] = frozenset(),
             options: SendOptions | None = None) -> SendOutcome | None:
    reporter = StatusBarReporter(book, interval=(options or SendOptions()).write_every)
    sent = send_confirmed(book, confirmation, resend, options, reporter)
    outcome = sent.outcome
    if outcome is None:
        book.set_status("PEC Massiva: invio non avviato, ci sono errori generali (usate Verifica).")
        return None
    done = f"PEC Massiva: invio terminato, {plural(outcome.sent_now, 'PEC consegnata')} al gestore"
    if sent.changed:
        changed = sent.changed
        done += f"; {plural(len(changed), 'riga modificata', 'righe modificate')} dopo la conferma non {'inviata' if len(changed) == 1 else 'inviate'}"
    if outcome.stopped:
        done = f"PEC Massiva: invio interrotto dopo {plural(outcome.sent_now, 'PEC')}"
    if outcome.login_refused:
        done = f"PEC Massiva: accesso rifiutato dal gestore — {outcome.login_refused}"
    if outcome.unreachable:
        done = f"PEC Massiva: server non raggiungibile — {clause(outcome.unreachable)}"
    book.set_status(clause(done) + ".")
    return outcome


def run_receipts(book: DetachedWorkbook, options: FollowOptions | None = None) -> ReceiptsOutcome:
    book.set_status("PEC Massiva: lettura delle ricevute…")
    outcome = receipts.update(book, options)  # one mailbox reader per campaign, as for `pecmass receipts`
    unreadable = f", {outcome.sync.unreadable} illeggibili in quarantena" if outcome.sync.unreadable else ""
    book.set_status(f"PEC Massiva: ricevute aggiornate ({plural(outcome.sync.recorded, 'ricevuta nuova')}, "
                    f"{plural(outcome.pending, 'riga')} in attesa{unreadable}).")
    return outcome


def _bound_com_retries() -> None:
    try:
        import xlwings._xlwindows as xlwindows  # Windows only
    except Exception:  # noqa: BLE001 - not on Windows: nothing to tune
        return
    xlwindows.N_COM_ATTEMPTS = COM_ATTEMPTS


def main(argv: list[str] | None = None, apps: Iterable[Any] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    configure_logging(verbose=False)
    if len(args) < 2 or args[0] not in ("send", "receipts"):
        print("uso: python -m pecmass_xl.excel.worker send|receipts CARTELLA [CONFERMA.json] [--resend …]",
              file=sys.stderr)
        return 2
    command, fullname = args[0], args[1]
    if apps is None:
        import xlwings as xw

        _bound_com_retries()
        without_mac_cleanup()
        apps = xw.apps
    found = find_book(fullname, apps)
    if found is None:
        log.warning("workbook not open in Excel: nothing done")
        return 2
    del found
    book = DetachedWorkbook(fullname, apps)
    try:
        if command == "send":
            resend = frozenset()
            if "--resend" in args:
                resend = frozenset(x for x in args[args.index("--resend") + 1].split(",") if x)
            outcome = run_send(book, Path(args[2]), resend)
            return 0 if outcome is not None and not outcome.login_refused else 1
        run_receipts(book)
        return 0
    except PecmassError as exc:
        book.set_status(f"PEC Massiva: {exc}")
        if isinstance(exc, SendInProgress):  # the user clicked Invia: tell them in a dialog, too
            book.alert(str(exc))
        log.warning("worker stopped: %s", type(exc).__name__)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - logged and shown on the status bar
        book.set_status("PEC Massiva: errore imprevisto nel lavoro in background (dettagli nel registro di pecmass).")
        # Type and code lines only: an exception's message may carry an address or message text.
        log.error("worker failed: %s\n%s", type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
