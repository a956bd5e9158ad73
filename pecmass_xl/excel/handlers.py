"""Entry points of the ribbon buttons, called by the VBA module `PecMassiva` through xlwings.

The VBA side runs `import pecmass_xl.excel.handlers as h; h.<name>()` with the xlwings add-in; each
function here is one button. It finds the workbook that called it, runs the matching action of
`ribbon_actions` and turns every error into an Italian message box (never a traceback). The names
are a stable entry point: every workbook already made calls them; keep this module a thin forwarder.

Excel waits, frozen, while this module is imported, so it imports almost nothing: each button
imports what it needs when it runs (`benchmarks/bench_import.py` measures it).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pecmass_xl.core.errors import PecmassError

if TYPE_CHECKING:
    from pecmass_xl.excel.live_workbook import ExcelWorkbook

log = logging.getLogger("pecmass.excel")


def _caller() -> Any:
    """The xlwings Book whose button was pressed (replaced in tests)."""
    import xlwings as xw

    from pecmass_xl.excel.live_workbook import without_mac_cleanup

    without_mac_cleanup()  # our messages stay in the status bar after Python exits (the Mac)
    return xw.Book.caller()


def _excel_ui(book: ExcelWorkbook) -> Any:
    from pecmass_xl.excel.excel_ui import ExcelUi

    return ExcelUi(book)


make_ui: Callable[[ExcelWorkbook], Any] | None = None  # replaced in tests; None: Excel's own Ui


def _run(action_name: str) -> Any:
    """Run `ribbon_actions.<action_name>` on the calling workbook; every error an Italian message."""
    from pecmass_xl.core.logging_setup import configure_logging
    from pecmass_xl.excel.excel_ui import TITLE
    from pecmass_xl.excel.live_workbook import ExcelWorkbook

    configure_logging(verbose=False)
    calling = _caller()
    try:
        book = ExcelWorkbook(calling)
    except PecmassError as exc:  # e.g. a OneDrive workbook without a local copy
        calling.app.alert(str(exc), title=TITLE, buttons="ok", mode="critical")
        return None
    ui = (make_ui or _excel_ui)(book)
    try:
        from pecmass_xl.excel import ribbon_actions

        return getattr(ribbon_actions, action_name)(book, ui)
    except PecmassError as exc:
        ui.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - never a traceback in front of the user
        from pecmass_xl.core.paths import log_file

        log.error("ribbon action %s failed: %s", action_name, type(exc).__name__, exc_info=False)
        ui.error("Errore imprevisto: l'operazione non è stata completata. Nessun dato è andato perso: gli "
                 f"invii sono nel registro. I dettagli tecnici sono nel file di registro di pecmass: {log_file()}.")
    finally:
        _give_back_status_bar(book, ui)
    return None


def _give_back_status_bar(book: ExcelWorkbook, ui: Any) -> None:
    """On the Mac, RunPython left "Running..." in the status bar for xlwings' exit hook to clear; that
    hook is removed (it would also wipe our own messages), so a button that showed nothing clears it."""
    if sys.platform == "darwin" and not getattr(ui, "status_shown", True):
        try:
            book.set_status(None)
        except Exception:  # noqa: BLE001 - a courtesy: the button's work is done
            log.debug("status bar not cleared")


def verifica() -> None:
    """Verifica: check recipients, message and settings; mark the rows with problems."""
    _run("verifica")


def anteprima() -> None:
    """Anteprima: render the message of the active row into the `Anteprima` sheet."""
    _run("anteprima")


def importa_csv() -> None:
    """Importa CSV: import recipients from a CSV file into `Destinatari`."""
    _run("importa_csv")


def prova_connessione() -> None:
    """Prova connessione: log in to SMTP and IMAP without sending anything."""
    _run("prova_connessione")


def invio_di_prova() -> None:
    """Invio di prova: send the active row's message to the test recipient only."""
    _run("invio_di_prova")


def invia() -> None:
    """Invia: confirm, save, start the background worker on the confirmed rows and return at once."""
    _run("invia")


def reinvia() -> None:
    """Reinvia: send again the rows that failed or are uncertain (a new attempt each)."""
    _run("reinvia")


def interrompi() -> None:
    """Interrompi: ask the running background worker to stop after the current message."""
    _run("interrompi")


def aggiorna_ricevute() -> None:
    """Aggiorna ricevute: read receipts in the background and update the result columns."""
    _run("aggiorna_ricevute")


def esporta_report() -> None:
    """Esporta report: write the CSV report next to the workbook."""
    _run("esporta_report")


def apri_archivio() -> None:
    """Apri archivio: open the archive folder (of the active row when it has one)."""
    _run("apri_archivio")


def password() -> None:
    """Password: ask the mailbox password in a masked Python dialog and store it in the keyring."""
    _run("password")
