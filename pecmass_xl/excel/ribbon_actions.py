"""What each ribbon button does, on the workbook open in Excel: the use cases of `pecmass_xl.app`.

Every action takes the open workbook (`ExcelWorkbook`) and a `Ui` (message boxes, dialogs, status
bar), parses what Excel gives (the selected row, a chosen file) and words the result; the use case
does the rest, exactly as for the CLI. Long work (sending, reading receipts) runs in a detached
worker process (`pecmass_xl.excel.worker`): on Windows Excel waits for the RunPython process to end,
so the button must return at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.italian import format_number, plural
from pecmass_xl.workbook import contract as c

if TYPE_CHECKING:  # annotations only: each button imports the use case it needs when it runs
    from pecmass_xl.app.background import SendJob, Spawn
    from pecmass_xl.app.ui import Ui
    from pecmass_xl.campaign.checks import CheckReport
    from pecmass_xl.campaign.settings import Settings
    from pecmass_xl.excel.live_workbook import ExcelWorkbook
    from pecmass_xl.sending.plan import SendPlan


WORKER_MODULE = "pecmass_xl.excel.worker"
TEST_SEND_IN_DOUBT_WAIT = 20.0  # seconds Excel may wait for a test send whose outcome is unclear


# ---------------------------------------------------------------------------------------- helpers
def settings_of(book: ExcelWorkbook) -> Settings:
    from pecmass_xl.app.preconditions import valid_settings

    return valid_settings(book)


def list_row(book: ExcelWorkbook, required: bool = True) -> int | None:
    """The row of the active cell in `Destinatari`; with `required`, an error when there is none."""
    where = book.selected_row()
    if where and where[0] == c.SHEET_LIST and where[1] >= 2:
        return where[1]
    if required:
        raise CannotRun(f"Selezionate prima una cella nella riga del destinatario, nel foglio «{c.SHEET_LIST}».")
    return None


def _size(size: int) -> str:
    return f"{format_number(size / 1024 / 1024)} MB" if size >= 1024 * 1024 else f"{max(size // 1024, 1)} KB"


# ---------------------------------------------------------------------------------------- buttons
def verifica(book: ExcelWorkbook, ui: Ui) -> CheckReport:
    """Check every row; `Stato invio`/`Dettaglio` mark the rows with problems."""
    from pecmass_xl.app import check as check_case
    from pecmass_xl.app.preconditions import listing

    report = check_case.check(book, write=True)
    ready = sum(1 for r in report.rows if r.ok)
    invalid = len(report.rows) - ready
    lines = [f"Verifica completata: {plural(ready, 'riga pronta')}, {invalid} con errori"
             + (" (segnate in Stato invio e Dettaglio)." if invalid else ".")]
    if report.blocking:
        lines += ["", "Errori generali, da correggere prima di inviare:", listing(report.blocking)]
    warnings = [p for p in report.problems if p.severity != "error"]
    if warnings:
        lines += ["", f"Avvisi ({len(warnings)}):", listing(warnings)]
    (ui.error if report.blocking else ui.info)("\n".join(lines))
    return report


def anteprima(book: ExcelWorkbook, ui: Ui) -> None:
    """The message of the selected row, in the `Anteprima` sheet."""
    from pecmass_xl.app import preview as preview_case

    row = list_row(book)
    preview, problems = preview_case.preview(book, row)
    rows: list[list[object]] = [[f"Anteprima della riga {row}"]]
    if preview is None:
        rows += [["La riga non si può inviare così:"], *[[f"• {p}"] for p in problems]]
        book.show_sheet(c.SHEET_PREVIEW, rows)
        ui.error(f"La riga {row} ha errori: vedete il foglio {c.SHEET_PREVIEW}.")
        return
    settings = settings_of(book)
    attachments = "; ".join(f"{a['name']} ({_size(a['size'])})" for a in preview.attachments) or "nessuno"
    rows += [
        ["Da", settings.mailbox],
        ["A", preview.to],
        ["Oggetto", preview.subject],
        ["Testo", preview.text],
        ["Allegati", attachments],
        ["Dimensione", _size(preview.size)],
    ]
    warnings = [p for p in problems if p.severity != "error"]
    if warnings:
        rows += [[], ["Avvisi"], *[[f"• {p}"] for p in warnings]]
    book.show_sheet(c.SHEET_PREVIEW, rows)


def importa_csv(book: ExcelWorkbook, ui: Ui, csv_path: Path | None = None) -> bool:
    """Replace the list in `Destinatari` with a CSV file's rows (after a confirmation if not empty)."""
    from pecmass_xl.app.import_list import import_csv

    csv_path = csv_path or ui.choose_csv()
    if csv_path is None:
        return False

    def may_replace(existing: int, new: int) -> bool:
        return ui.confirm(f"Il foglio {c.SHEET_LIST} contiene {plural(existing, 'riga')}: sostituirle con "
                          f"{'la riga' if new == 1 else 'le ' + plural(new, 'riga')} del CSV?\n"
                          "Il registro degli invii già fatti resta: nessuna PEC partirà due volte.")

    result = import_csv(book, Path(csv_path), may_replace)
    if result is None:
        return False
    lines = [f"{'Importata' if result.rows == 1 else 'Importate'} {plural(result.rows, 'riga')} e "
             f"{plural(len(result.headers), 'colonna')} da {Path(csv_path).name}."]
    warnings = list(result.warnings)
    if result.missing_address_column:
        warnings.append(f"Il CSV non ha la colonna «{result.missing_address_column}»: indicate in Impostazioni "
                        "(Colonna indirizzo) quale colonna contiene la PEC.")
    lines += [f"Avviso: {w}" for w in warnings]
    ui.info("\n".join(lines))
    return True


def prova_connessione(book: ExcelWorkbook, ui: Ui) -> None:
    from pecmass_xl.app import mailbox

    report = mailbox.check_connection(book)
    lines = [f"Invio (SMTP): {'OK' if report.smtp_ok else 'ERRORE'} — {report.smtp_detail}"]
    if not report.login_refused or report.imap_detail:
        lines.append(f"Ricezione (IMAP): {'OK' if report.imap_ok else 'ERRORE'} — {report.imap_detail}")
    lines += [f"   cartella {folder}: {text}" for folder, text in report.folders.items()]
    (ui.info if report.smtp_ok and report.imap_ok else ui.error)("\n".join(lines))


def invio_di_prova(book: ExcelWorkbook, ui: Ui) -> None:
    from pecmass_xl.app.preconditions import listing
    from pecmass_xl.app.trial import trial_send

    row = list_row(book)
    result = trial_send(book, ui, row, in_doubt_wait=TEST_SEND_IN_DOUBT_WAIT)
    if result is None:
        return
    if not result.label:
        ui.error(f"{result.detail}\n{listing(result.problems)}")
        return
    text = f"Invio di prova {result.label} a {result.to}: {result.status}. {result.detail}".strip()
    (ui.error if result.failed else ui.info)(text)


def invia(book: ExcelWorkbook, ui: Ui, spawn: Spawn | None = None,
          resend: frozenset[str] = frozenset()) -> SendPlan | None:
    """Confirm, save, and hand the confirmed rows to a background worker; returns at once."""
    from pecmass_xl.app import send as send_case
    from pecmass_xl.app.preconditions import listing
    from pecmass_xl.sending.connection import ProviderUnreachable


    def start_worker(job: SendJob) -> int:
        return (spawn or spawn_excel_worker)(["send", book.fullname, str(job.confirmation), *job.resend_arguments()])

    try:
        start = send_case.send(book, ui, resend, start_worker=start_worker, save=book.save)
    except ProviderUnreachable as exc:  # checked in the foreground, before the worker: a dialog, not a status line
        ui.error(f"Nessuna PEC inviata: il gestore non è raggiungibile.\n{exc}")
        return None
    plan = start.plan
    if start.stage == send_case.BLOCKED:
        ui.error("Nessuna PEC inviata: correggete prima questi errori.\n" + listing(plan.blocking))
    elif start.stage == send_case.NOTHING_DUE:
        text = "Nessuna riga da inviare: tutte le righe valide sono già state consegnate al gestore."
        if plan.adopted:
            text += "\n" + plural(len(plan.adopted), "riga riconosciuta come già inviata riprende il suo", "righe riconosciute come già inviate riprendono il loro") + " ID invio al prossimo invio."
        ui.info(text)
    elif start.stage == send_case.BUSY:
        ui.error("Invio non avviato: è già in corso un invio di questa campagna (o un aggiornamento delle "
                 "ricevute): attendete la fine oppure usate Interrompi.")
    elif start.stage == send_case.STARTED:
        ui.status(f"PEC Massiva: invio di {plural(len(plan.due), 'PEC')} avviato…")
        return plan
    return None


def reinvia(book: ExcelWorkbook, ui: Ui, spawn: Spawn | None = None) -> SendPlan | None:
    """Send again the rows whose delivery failed or is uncertain (a new attempt each)."""
    from pecmass_xl.app import send as send_case

    return invia(book, ui, spawn, resend=send_case.RESEND_FAILED_AND_UNCERTAIN)


def interrompi(book: ExcelWorkbook, ui: Ui) -> bool:
    from pecmass_xl.app import control

    if not control.stop(book.read().campaign_id):
        ui.info("Nessun invio o aggiornamento delle ricevute in corso per questa cartella di lavoro.")
        return False
    ui.info("Richiesta di arresto inviata: il lavoro si ferma dopo il messaggio in corso.")
    return True


def aggiorna_ricevute(book: ExcelWorkbook, ui: Ui, spawn: Spawn | None = None) -> bool:
    """Read the receipts in a background worker; the result columns update when it is done."""
    from pecmass_xl.app import receipts as receipts_case

    start = receipts_case.start_in_background(book, lambda: (spawn or spawn_excel_worker)(["receipts", book.fullname]))
    if start.stage == receipts_case.NO_CAMPAIGN:
        ui.info(receipts_case.NO_CAMPAIGN_TEXT)
        return False
    if start.stage == receipts_case.BUSY:
        ui.info("Un invio o un aggiornamento è già in corso: le ricevute vengono lette al suo termine.")
        return False
    ui.status("PEC Massiva: lettura delle ricevute in corso…")
    return True


def esporta_report(book: ExcelWorkbook, ui: Ui) -> Path:
    from pecmass_xl.app import report as report_case

    out = report_case.export_report(book).path
    ui.info(f"Report salvato in:\n{out}")
    return out


def apri_archivio(book: ExcelWorkbook, ui: Ui) -> Path | None:
    from pecmass_xl.app.archive import archive_folder

    folder, exists = archive_folder(book, list_row(book, required=False))
    if not exists:
        ui.info(f"L'archivio non esiste ancora: si crea al primo invio, in\n{folder}")
        return None
    ui.open_folder(folder)
    return folder


def password(book: ExcelWorkbook, ui: Ui) -> bool:
    from pecmass_xl.app import mailbox

    settings = mailbox.password_settings(book)
    if settings.is_sandbox:
        ui.info("Il gestore Sandbox non ha bisogno di password: la legge dalla cartella della sandbox.")
        return False
    secret = ui.ask_password(f"Password della casella PEC {settings.login} ({settings.smtp_host}):")
    if not secret:
        return False
    where = mailbox.save_password(settings, secret)
    ui.info(f"Password salvata {where} (mai nella cartella di lavoro).")
    return True


# ---------------------------------------------------------------------------------------- worker
def spawn_excel_worker(arguments: list[str]) -> int:
    """Start `python -m pecmass_xl.excel.worker <arguments>` detached from Excel; returns its pid."""
    from pecmass_xl.app.background import spawn_worker

    return spawn_worker(arguments, module=WORKER_MODULE)
