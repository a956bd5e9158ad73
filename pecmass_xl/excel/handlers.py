"""Entry points of the ribbon buttons, called by the VBA module `PecMassiva` through xlwings.

The VBA side runs `import pecmass_xl.excel.handlers as h; h.<name>()` with the xlwings add-in;
each function here is one button. They are placeholders until the use-case layer exists: each
raises `NotImplementedError` with an Italian message, which xlwings shows in a message box.
"""

from __future__ import annotations

_NOT_READY = "Il pulsante «{}» non è ancora disponibile in questa versione di PEC Massiva."


def _not_ready(label: str) -> None:
    raise NotImplementedError(_NOT_READY.format(label))


def verifica() -> None:
    """Verifica: check recipients, message and settings; mark the rows with problems."""
    _not_ready("Verifica")


def anteprima() -> None:
    """Anteprima: render the message of the active row into the `Anteprima` sheet."""
    _not_ready("Anteprima")


def importa_csv() -> None:
    """Importa CSV: import recipients from a CSV file into `Destinatari`."""
    _not_ready("Importa CSV")


def prova_connessione() -> None:
    """Prova connessione: log in to SMTP and IMAP without sending anything."""
    _not_ready("Prova connessione")


def invio_di_prova() -> None:
    """Invio di prova: send the active row's message to the test recipient only."""
    _not_ready("Invio di prova")


def invia() -> None:
    """Invia: confirm, freeze the rows, save, start the background worker and return at once."""
    _not_ready("Invia")


def reinvia() -> None:
    """Reinvia: send again the selected rows that failed or are uncertain (a new attempt)."""
    _not_ready("Reinvia")


def interrompi() -> None:
    """Interrompi: ask the running background worker to stop after the current message."""
    _not_ready("Interrompi")


def aggiorna_ricevute() -> None:
    """Aggiorna ricevute: fetch receipts in the background and update the result columns."""
    _not_ready("Aggiorna ricevute")


def esporta_report() -> None:
    """Esporta report: write the CSV report next to the workbook."""
    _not_ready("Esporta report")


def apri_archivio() -> None:
    """Apri archivio: open the archive folder (of the active row when it has one)."""
    _not_ready("Apri archivio")


def password() -> None:
    """Password: ask the mailbox password in a masked Python dialog and store it in the keyring."""
    _not_ready("Password")
