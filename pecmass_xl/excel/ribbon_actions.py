"""What each ribbon button does, on the workbook open in Excel: the same use cases as the CLI.

Every action takes the open workbook (`ExcelWorkbook`) and a `Ui` (message boxes, dialogs, status
bar), so tests drive them with a fake Excel and a scripted Ui. Long work (sending, reading receipts)
runs in a detached worker process (`pecmass_xl.excel.worker`): on Windows Excel waits for the
RunPython process to end, so the button must return at once.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pecmass_xl.app import usecases
from pecmass_xl.campaign.checks import CheckReport, run_checks
from pecmass_xl.campaign.files import campaign_archive, open_journal, open_ledger
from pecmass_xl.campaign.settings import Settings, resolve_settings
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.paths import data_dir
from pecmass_xl.excel.live_workbook import ExcelWorkbook
from pecmass_xl.journal.store import RESEND_FAILED, RESEND_UNCERTAIN
from pecmass_xl.mailclient.credentials import get_password, store_password
from pecmass_xl.sending import background
from pecmass_xl.sending.connection import check_connection
from pecmass_xl.sending.plan import SendPlan, draft_hash, plan_send
from pecmass_xl.sending.trial_send import send_test
from pecmass_xl.tracking.report import build_report, default_report_path
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.csv_import import read_csv_list

LEGALMAIL_NOTICE_KEY = "legalmail-contratto"  # same key as the CLI: one acknowledgement per mailbox
RESEND_FAILED_AND_UNCERTAIN = frozenset({RESEND_FAILED, RESEND_UNCERTAIN})
MAX_LISTED_PROBLEMS = 8
TEST_SEND_IN_DOUBT_WAIT = 20.0  # seconds Excel may wait for a test send whose outcome is unclear

Spawn = Callable[[list[str]], int]


class Ui(Protocol):
    """What the actions need from Excel's user interface."""

    def info(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...
    def confirm(self, text: str) -> bool: ...
    def choose_csv(self) -> Path | None: ...
    def ask_password(self, prompt: str) -> str | None: ...
    def open_folder(self, folder: Path) -> None: ...
    def status(self, text: str | None) -> None: ...


# ---------------------------------------------------------------------------------------- helpers
def settings_of(book: ExcelWorkbook) -> Settings:
    sheet = book.read()
    settings, problems = resolve_settings(sheet.settings, sheet.message, sheet.folder)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise CannotRun("Impostazioni non valide:\n" + _listing(errors))
    return settings


def _listing(problems: list) -> str:
    lines = [f"• {p}" for p in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(f"… e altri {len(problems) - MAX_LISTED_PROBLEMS}.")
    return "\n".join(lines)


def list_row(book: ExcelWorkbook, required: bool = True) -> int | None:
    """The row of the active cell in `Destinatari`; with `required`, an error when there is none."""
    where = book.selected_row()
    if where and where[0] == c.SHEET_LIST and where[1] >= 2:
        return where[1]
    if required:
        raise CannotRun(f"Selezionate prima una cella nella riga del destinatario, nel foglio «{c.SHEET_LIST}».")
    return None


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return "meno di due minuti"
    return f"circa {round(seconds / 60)} minuti"


# ---------------------------------------------------------------------------------------- buttons
def verifica(book: ExcelWorkbook, ui: Ui) -> CheckReport:
    """Check every row; `Stato invio`/`Dettaglio` mark the rows with problems."""
    report = usecases.check(book, write=True)
    ready = sum(1 for r in report.rows if r.ok)
    invalid = len(report.rows) - ready
    lines = [f"Verifica completata: {ready} righe pronte, {invalid} con errori"
             + (" (segnate in Stato invio e Dettaglio)." if invalid else ".")]
    if report.blocking:
        lines += ["", "Errori generali, da correggere prima di inviare:", _listing(report.blocking)]
    warnings = [p for p in report.problems if p.severity != "error"]
    if warnings:
        lines += ["", f"Avvisi ({len(warnings)}):", _listing(warnings)]
    (ui.error if report.blocking else ui.info)("\n".join(lines))
    return report


def anteprima(book: ExcelWorkbook, ui: Ui) -> None:
    """The message of the selected row, in the `Anteprima` sheet."""
    row = list_row(book)
    preview, problems = usecases.preview(book, row)
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


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(size // 1024, 1)} KB"


def importa_csv(book: ExcelWorkbook, ui: Ui, csv_path: Path | None = None) -> bool:
    """Replace the list in `Destinatari` with a CSV file's rows (after a confirmation if not empty)."""
    csv_path = csv_path or ui.choose_csv()
    if csv_path is None:
        return False
    listing = read_csv_list(Path(csv_path))
    clash = [h for h in listing.headers if h in c.RESULT_COLUMNS]
    if clash:
        raise CannotRun(f"Il CSV usa intestazioni riservate ai risultati di pecmass: {', '.join(clash)}. Rinominatele.")
    sheet = book.read()
    if sheet.rows and not ui.confirm(
        f"Il foglio {c.SHEET_LIST} contiene {len(sheet.rows)} righe: sostituirle con le {len(listing.rows)} del CSV?\n"
        "Il registro degli invii già fatti resta: nessuna PEC partirà due volte."
    ):
        return False
    book.replace_list(listing.headers, listing.rows)
    book.set_label_value(c.SHEET_MESSAGE, c.MSG_FIELDS, ", ".join(listing.headers))
    lines = [f"Importate {len(listing.rows)} righe e {len(listing.headers)} colonne da {Path(csv_path).name}."]
    address = str(sheet.settings.get(c.SET_ADDRESS_COLUMN) or c.DEFAULT_ADDRESS_HEADER).strip()
    warnings = list(listing.warnings)
    if address not in listing.headers:
        warnings.append(f"Il CSV non ha la colonna «{address}»: indicate in Impostazioni (Colonna indirizzo) "
                        "quale colonna contiene la PEC.")
    lines += [f"Avviso: {w}" for w in warnings]
    ui.info("\n".join(lines))
    return True


def prova_connessione(book: ExcelWorkbook, ui: Ui) -> None:
    settings = settings_of(book)
    report = check_connection(settings, get_password(settings))
    lines = [f"Invio (SMTP): {'OK' if report.smtp_ok else 'ERRORE'} — {report.smtp_detail}"]
    if not report.login_refused or report.imap_detail:
        lines.append(f"Ricezione (IMAP): {'OK' if report.imap_ok else 'ERRORE'} — {report.imap_detail}")
    lines += [f"   cartella {folder}: {text}" for folder, text in report.folders.items()]
    (ui.info if report.smtp_ok and report.imap_ok else ui.error)("\n".join(lines))


def invio_di_prova(book: ExcelWorkbook, ui: Ui) -> None:
    row = list_row(book)
    settings = settings_of(book)
    target = settings.test_recipient or settings.mailbox
    if not settings.is_sandbox and not ui.confirm(f"Inviare una PEC di prova con il messaggio della riga {row} a {target}?"):
        return
    ui.status(f"PEC Massiva: invio di prova a {target}…")
    try:
        result = send_test(book, row, get_password(settings), in_doubt_wait=TEST_SEND_IN_DOUBT_WAIT)
    finally:
        ui.status(None)
    if not result.label:
        ui.error(f"{result.detail}\n{_listing(result.problems)}")
        return
    text = f"Invio di prova {result.label} a {result.to}: {result.status}. {result.detail}".strip()
    (ui.error if result.failed else ui.info)(text)


def invia(book: ExcelWorkbook, ui: Ui, spawn: Spawn | None = None,
          resend: frozenset[str] = frozenset()) -> SendPlan | None:
    """Confirm, save, and hand the confirmed rows to a background worker; returns at once."""
    plan = plan_send(book, resend=resend)
    if plan.blocking:
        ui.error("Nessuna PEC inviata: correggete prima questi errori.\n" + _listing(plan.blocking))
        return None
    s = plan.settings
    if not plan.due:
        text = "Nessuna riga da inviare: tutte le righe valide sono già state consegnate al gestore."
        if plan.adopted:
            text += f"\n{len(plan.adopted)} righe riconosciute come già inviate riprendono il loro ID invio al prossimo invio."
        ui.info(text)
        return None
    if background.worker_running(plan.campaign_id):
        ui.error("Un invio o un aggiornamento delle ricevute è già in corso per questa cartella di lavoro: "
                 "attendete la fine oppure usate Interrompi.")
        return None
    if plan.notice:
        with open_ledger(s) as ledger:
            if not ledger.is_acknowledged(s.mailbox, LEGALMAIL_NOTICE_KEY):
                if not ui.confirm(f"{plan.notice}\n\nAvete letto l'avviso e confermate?"):
                    return None
                ledger.acknowledge(s.mailbox, LEGALMAIL_NOTICE_KEY)
    pace = f"{s.pace_per_minute} al minuto" if s.pace_per_minute else "senza limite di ritmo"
    lines = [
        f"{'Reinviare' if resend else 'Inviare'} {len(plan.due)} PEC da {s.mailbox} (gestore {s.provider})?",
        f"Ritmo: {pace}; durata stimata: {_minutes(plan.estimated_seconds)}.",
    ]
    if plan.invalid:
        lines.append(f"{len(plan.invalid)} righe con errori non saranno inviate (Verifica le segna).")
    lines += [f"Avviso: {w}" for w in plan.warnings]
    lines += ["", "La cartella di lavoro viene salvata; Excel resta utilizzabile durante l'invio "
              "(avanzamento nella barra di stato, Interrompi per fermarlo)."]
    if not ui.confirm("\n".join(lines)):
        return None
    get_password(s)  # fail now, in front of the user, if no password is stored
    book.save()
    confirmed = _confirmation_file(plan)
    arguments = ["send", book.fullname, str(confirmed)]
    if resend:
        arguments += ["--resend", ",".join(sorted(resend))]
    (spawn or spawn_worker)(arguments)
    ui.status(f"PEC Massiva: invio di {len(plan.due)} PEC avviato…")
    return plan


def _confirmation_file(plan: SendPlan) -> Path:
    """The rows the user confirmed, by row number and content: the worker sends only these."""
    folder = data_dir() / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"conferma-{plan.campaign_id}-{int(time.time() * 1000)}.json"
    rows = [{"row": r.number, "hash": draft_hash(r), "id": r.id_invio} for r in plan.due]
    path.write_text(json.dumps({"campaign": plan.campaign_id, "rows": rows,
                                "confirmed_at": dt.datetime.now().isoformat()}), encoding="utf-8")
    return path


def reinvia(book: ExcelWorkbook, ui: Ui, spawn: Spawn | None = None) -> SendPlan | None:
    """Send again the rows whose delivery failed or is uncertain (a new attempt each)."""
    return invia(book, ui, spawn, resend=RESEND_FAILED_AND_UNCERTAIN)


def interrompi(book: ExcelWorkbook, ui: Ui) -> bool:
    campaign = book.read().campaign_id
    if not campaign or not background.worker_running(campaign):
        ui.info("Nessun invio o aggiornamento delle ricevute in corso per questa cartella di lavoro.")
        return False
    with open_journal(campaign) as journal:
        background.request_stop(journal)
    ui.info("Richiesta di arresto inviata: il lavoro si ferma dopo il messaggio in corso.")
    return True


def aggiorna_ricevute(book: ExcelWorkbook, ui: Ui, spawn: Spawn | None = None) -> bool:
    """Read the receipts in a background worker; the result columns update when it is done."""
    sheet = book.read()
    if not sheet.campaign_id:
        ui.info("Questa cartella di lavoro non ha ancora inviato nulla: nessuna ricevuta da cercare.")
        return False
    settings = settings_of(book)
    if background.worker_running(sheet.campaign_id):
        ui.info("Un invio o un aggiornamento è già in corso: le ricevute vengono lette al suo termine.")
        return False
    get_password(settings)
    (spawn or spawn_worker)(["receipts", book.fullname])
    ui.status("PEC Massiva: lettura delle ricevute in corso…")
    return True


def esporta_report(book: ExcelWorkbook, ui: Ui) -> Path:
    report = run_checks(book.read())
    settings = report.settings
    archive_root = campaign_archive(book.path, settings)
    out = default_report_path(book.path)
    campaign = report.sheet.campaign_id
    if campaign:
        with open_journal(campaign) as journal:
            build_report(report, journal, archive_root, out)
    else:
        build_report(report, None, archive_root, out)
    ui.info(f"Report salvato in:\n{out}")
    return out


def apri_archivio(book: ExcelWorkbook, ui: Ui) -> Path | None:
    settings = settings_of(book)
    root = campaign_archive(book.path, settings)
    folder = root
    row = list_row(book, required=False)
    if row is not None:
        found = next((r for r in book.read().rows if r.number == row), None)
        if found is not None and found.id_invio and (root / found.id_invio).is_dir():
            folder = root / found.id_invio
    if not folder.is_dir():
        ui.info(f"L'archivio non esiste ancora: si crea al primo invio, in\n{root}")
        return None
    ui.open_folder(folder)
    return folder


def password(book: ExcelWorkbook, ui: Ui) -> bool:
    settings = settings_of(book)
    if settings.is_sandbox:
        ui.info("Il gestore Sandbox non ha bisogno di password: la legge dalla cartella della sandbox.")
        return False
    secret = ui.ask_password(f"Password della casella PEC {settings.login} ({settings.smtp_host}):")
    if not secret:
        return False
    store_password(settings, secret)
    ui.info("Password salvata nel portachiavi del sistema (mai nella cartella di lavoro).")
    return True


# ---------------------------------------------------------------------------------------- worker
def spawn_worker(arguments: list[str]) -> int:
    """Start `python -m pecmass_xl.excel.worker <arguments>` detached from Excel; returns its pid."""
    from pecmass_xl.sending.background import spawn_worker as spawn

    return spawn(arguments, module="pecmass_xl.excel.worker")
