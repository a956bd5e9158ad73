"""The use cases every front end calls (CLI, ribbon): new, import CSV, check, preview.

A front end parses input and shows output; everything else happens here (DESIGN §2).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from pecmass_xl.campaign.checks import CheckReport, run_checks
from pecmass_xl.campaign.mime import build_message, message_bytes
from pecmass_xl.campaign.new_workbook import build_new_workbook, style_result_columns
from pecmass_xl.campaign.problems import Problem
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.journal.ids import new_campaign_id, normalise_domain
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import styles
from pecmass_xl.workbook.csv_import import read_csv_list
from pecmass_xl.workbook.file_workbook import ConfirmLossy, FileWorkbook
from pecmass_xl.workbook.riepilogo import Summary
from pecmass_xl.workbook.write import ResultUpdate, atomic_save, ensure_not_open, set_label_value, set_text

PREVIEW_ID = "ANTEPRIMA"
TEMPLATE_XLSM = Path(__file__).parent.parent / "excel" / "workbook_template.xlsm"


# ---------------------------------------------------------------------------------------- new
def new_workbook(path: Path) -> Path:
    """Create a contract workbook with one example row; never overwrites."""
    path = Path(path)
    if path.exists():
        raise CannotRun(f"Il file «{path}» esiste già: scegliete un altro nome (pecmass non sovrascrive).")
    if not path.parent.exists():
        raise CannotRun(f"La cartella «{path.parent}» non esiste.")
    suffix = path.suffix.lower()
    if suffix == ".xlsm":
        if not TEMPLATE_XLSM.exists():
            raise CannotRun("Il modello .xlsm con la barra PEC Massiva non è disponibile in questa versione: create un .xlsx.")
        shutil.copyfile(TEMPLATE_XLSM, path)
        FileWorkbook(path).write(campaign_id=new_campaign_id())
        return path
    if suffix != ".xlsx":
        raise CannotRun(f"«{path.name}»: il nome deve finire con .xlsx (o .xlsm).")
    wb = build_new_workbook(new_campaign_id())
    atomic_save(wb, path)
    return path


# ---------------------------------------------------------------------------------------- import
@dataclass
class ImportResult:
    rows: int
    headers: list[str]
    encoding: str
    delimiter: str
    warnings: list[str] = field(default_factory=list)


def import_csv(csv_path: Path, workbook_path: Path, replace: bool = False) -> ImportResult:
    """Replace the list in `Destinatari` with the CSV's rows (creating the workbook if needed)."""
    listing = read_csv_list(Path(csv_path))
    workbook_path = Path(workbook_path)
    if not workbook_path.exists():
        new_workbook(workbook_path)
        replace = True  # the example row of a brand-new workbook is not the user's list
    ensure_not_open(workbook_path)
    book = FileWorkbook(workbook_path)
    sheet = book.read()
    if sheet.rows and not replace:
        raise CannotRun(
            f"Il foglio Destinatari contiene già {len(sheet.rows)} righe: usate --replace per sostituirle "
            "(il registro degli invii già fatti resta: nessuna PEC partirà due volte)."
        )
    clash = [h for h in listing.headers if h in c.RESULT_COLUMNS]
    if clash:
        raise CannotRun(f"Il CSV usa intestazioni riservate ai risultati di pecmass: {', '.join(clash)}. Rinominatele.")
    wb = load_workbook(workbook_path, keep_vba=workbook_path.suffix.lower() == ".xlsm")
    index = wb.sheetnames.index(c.SHEET_LIST)
    wb.remove(wb[c.SHEET_LIST])
    ws = wb.create_sheet(c.SHEET_LIST, index)
    ws.append(listing.headers + list(c.RESULT_COLUMNS))
    for col in range(1, len(listing.headers) + 1):
        ws.cell(1, col).font = styles.HEADER_FONT
        ws.cell(1, col).fill = styles.HEADER_FILL
        ws.column_dimensions[get_column_letter(col)].width = 18
    for record in listing.rows:
        ws.append([None] * len(listing.headers))
        row = ws.max_row
        for col, value in enumerate(record, start=1):
            if value != "":
                cell = ws.cell(row, col)
                set_text(cell, value)
                cell.number_format = "@"
    style_result_columns(ws, len(listing.headers) + 1, ws.max_row)
    ws.freeze_panes = "B2"
    wb.active = index
    set_label_value(wb, c.SHEET_MESSAGE, c.MSG_FIELDS, ", ".join(listing.headers))
    warnings = list(listing.warnings)
    address_column = str(sheet.settings.get(c.SET_ADDRESS_COLUMN) or c.DEFAULT_ADDRESS_HEADER).strip()
    if address_column not in listing.headers:
        warnings.append(f"Il CSV non ha la colonna «{address_column}» (Colonna indirizzo): indicate in Impostazioni quale colonna contiene la PEC.")
    atomic_save(wb, workbook_path)
    return ImportResult(len(listing.rows), listing.headers, listing.encoding, listing.delimiter, warnings)


# ---------------------------------------------------------------------------------------- check
def counts_from_sheet(report: CheckReport) -> Counter:
    counts: Counter = Counter()
    for sheet_row, prepared in zip(report.sheet.rows, report.rows, strict=False):
        if prepared.id_invio:
            counts[str(sheet_row.results.get(c.COL_STATUS) or c.ST_TO_SEND)] += 1
        else:
            counts[c.ST_TO_SEND if prepared.ok else c.ST_INVALID] += 1
    return counts


def check_status_update(report: CheckReport) -> ResultUpdate:
    """`Dati non validi` + Dettaglio on rows with errors; cleared on rows fixed; rows with an ID untouched."""
    general = "Correggete prima gli errori generali (Impostazioni o Messaggio)."
    update = ResultUpdate()
    for prepared in report.rows:
        if prepared.id_invio:
            continue
        if prepared.ok and not report.blocking:
            update.by_row[prepared.number] = {c.COL_STATUS: c.ST_TO_SEND, c.COL_DETAIL: None, c.COL_OUTCOME: None}
        elif prepared.ok:
            update.by_row[prepared.number] = {c.COL_STATUS: c.ST_TO_SEND, c.COL_DETAIL: general, c.COL_OUTCOME: None}
        else:
            # a row with no error of its own is blocked by a general one (a template that does not compile)
            update.by_row[prepared.number] = {c.COL_STATUS: c.ST_INVALID, c.COL_DETAIL: prepared.error_text or general,
                                              c.COL_OUTCOME: None}
    return update


def check(book: FileWorkbook, write: bool = False, confirm_lossy: ConfirmLossy | None = None) -> CheckReport:
    report = run_checks(book.read())
    if write:
        campaign = report.sheet.campaign_id or new_campaign_id()
        summary = Summary(counts=dict(counts_from_sheet(report)), campaign_id=campaign)
        book.write(check_status_update(report), summary, campaign_id=None if report.sheet.campaign_id else campaign,
                   confirm_lossy=confirm_lossy)
    return report


# ---------------------------------------------------------------------------------------- preview
@dataclass
class Preview:
    row: int
    to: str
    subject: str
    text: str
    attachments: list[dict]
    size: int
    eml: bytes
    problems: list[Problem]
    placeholder: bool  # ID invio and attempt not assigned yet

    def as_json(self) -> dict:
        return {"row": self.row, "to": self.to, "subject": self.subject, "text": self.text,
                "attachments": self.attachments, "size": self.size}


def preview(book: FileWorkbook, row_number: int) -> tuple[Preview | None, list[Problem]]:
    """The exact message row N will be; (None, problems) when the row has errors."""
    report = run_checks(book.read())
    prepared = report.row(row_number)
    if prepared is None:
        raise CannotRun(f"La riga {row_number} di Destinatari è vuota o non esiste (le righe partono dalla 2).")
    problems = [p for p in report.blocking] + prepared.problems
    if not prepared.ok or report.blocking:
        return None, problems
    settings = report.settings
    campaign = report.sheet.campaign_id or PREVIEW_ID
    # Before the row is queued its ID invio and attempt do not exist: a placeholder that no receipt can match.
    message_id = f"<pecmass.{campaign}.{prepared.id_invio or PREVIEW_ID}.0@{normalise_domain(settings.sender_domain)}>"
    msg = build_message(prepared.draft, settings.mailbox, message_id, settings.receipt_type, dt.datetime.now().astimezone())
    data = message_bytes(msg)
    draft = prepared.draft
    return Preview(
        row=row_number, to=draft.to, subject=draft.subject, text=draft.text,
        attachments=[{"name": a.name, "size": a.size} for a in draft.attachments],
        size=len(data), eml=data, problems=problems, placeholder=not prepared.id_invio,
    ), problems
