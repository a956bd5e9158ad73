"""Entry points of the ribbon buttons, called by the VBA module `PecMassiva` through xlwings.

The VBA side runs `import pecmass_xl.excel.handlers as h; h.<name>()` with the xlwings add-in; each
function here is one button. It finds the workbook that called it, runs the matching action of
`ribbon_actions` and turns every error into an Italian message box (never a traceback). The names
are a stable entry point: every workbook already made calls them; keep this module a thin forwarder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pecmass_xl.core.errors import PecmassError
from pecmass_xl.core.logging_setup import configure_logging
from pecmass_xl.core.paths import log_file
from pecmass_xl.excel import ribbon_actions
from pecmass_xl.excel.excel_ui import TITLE, ExcelUi
from pecmass_xl.excel.live_workbook import ExcelWorkbook

log = logging.getLogger("pecmass.excel")


def _caller() -> Any:
    """The xlwings Book whose button was pressed (replaced in tests)."""
    import xlwings as xw

    return xw.Book.caller()


make_ui: Callable[[ExcelWorkbook], Any] = ExcelUi


def _run(action: Callable[..., Any]) -> Any:
    configure_logging(verbose=False)
    calling = _caller()
    try:
        book = ExcelWorkbook(calling)
    except PecmassError as exc:  # e.g. a OneDrive workbook without a local copy
        calling.app.alert(str(exc), title=TITLE, buttons="ok", mode="critical")
        return None
    ui = make_ui(book)
    try:
        return action(book, ui)
    except PecmassError as exc:
        ui.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - never a traceback in front of the user
        log.error("ribbon action %s failed: %s", action.__name__, type(exc).__name__, exc_info=False)
        ui.error(f"Errore imprevisto ({type(exc).__name__}). Nessun dato è andato perso: gli invii sono "
                 f"nel registro. Il file di registro di pecmass è {log_file()}.")
    return None


def verifica() -> None:
    """Verifica: check recipients, message and settings; mark the rows with problems."""
    _run(ribbon_actions.verifica)


def anteprima() -> None:
    """Anteprima: render the message of the active row into the `Anteprima` sheet."""
    _run(ribbon_actions.anteprima)


def importa_csv() -> None:
    """Importa CSV: import recipients from a CSV file into `Destinatari`."""
    _run(ribbon_actions.importa_csv)


def prova_connessione() -> None:
    """Prova connessione: log in to SMTP and IMAP without sending anything."""
    _run(ribbon_actions.prova_connessione)


def invio_di_prova() -> None:
    """Invio di prova: send the active row's message to the test recipient only."""
    _run(ribbon_actions.invio_di_prova)


def invia() -> None:
    """Invia: confirm, save, start the background worker on the confirmed rows and return at once."""
    _run(ribbon_actions.invia)


def reinvia() -> None:
    """Reinvia: send again the rows that failed or are uncertain (a new attempt each)."""
    _run(ribbon_actions.reinvia)


def interrompi() -> None:
    """Interrompi: ask the running background worker to stop after the current message."""
    _run(ribbon_actions.interrompi)


def aggiorna_ricevute() -> None:
    """Aggiorna ricevute: read receipts in the background and update the result columns."""
    _run(ribbon_actions.aggiorna_ricevute)


def esporta_report() -> None:
    """Esporta report: write the CSV report next to the workbook."""
    _run(ribbon_actions.esporta_report)


def apri_archivio() -> None:
    """Apri archivio: open the archive folder (of the active row when it has one)."""
    _run(ribbon_actions.apri_archivio)


def password() -> None:
    """Password: ask the mailbox password in a masked Python dialog and store it in the keyring."""
    _run(ribbon_actions.password)
