"""The workbook as a file on disk (headless `pecmass`): the same interface the Excel adapter offers.

`read()` returns SheetData in one pass; `write()` applies result cells, Riepilogo and the marker in
one atomic save.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import styles
from pecmass_xl.workbook.csv_import import DATE, NUMBER, column_kinds
from pecmass_xl.workbook.gateway import ConfirmLossy
from pecmass_xl.workbook.layout import DATE_ALIGNMENT, NUMBER_ALIGNMENT, format_label_sheet, format_list_sheet
from pecmass_xl.workbook.read import read_workbook
from pecmass_xl.workbook.riepilogo import Summary, write_summary
from pecmass_xl.workbook.sheetdata import SheetData
from pecmass_xl.workbook.styles import style_result_columns
from pecmass_xl.workbook.write import (
    ResultUpdate,
    apply_results,
    atomic_save,
    ensure_writable_in_memory,
    lossy_parts,
    open_for_write,
    set_label_value,
    set_marker,
    set_text,
)

__all__ = ["ConfirmLossy", "FileWorkbook"]


class FileWorkbook:
    """A workbook file (.xlsx or .xlsm) read with openpyxl: a `workbook.gateway.WorkbookGateway`."""

    def __init__(self, path: Path | str):
        self.path = Path(path).resolve()
        if self.path.suffix.lower() not in (".xlsx", ".xlsm"):
            raise CannotRun(f"«{self.path.name}» non è una cartella di lavoro .xlsx o .xlsm.")

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def folder(self) -> Path:
        return self.path.parent

    def read(self) -> SheetData:
        return read_workbook(self.path)

    def write(self, update: ResultUpdate | None = None, summary: Summary | None = None,
              campaign_id: str | None = None, confirm_lossy: ConfirmLossy | None = None) -> None:
        losses = lossy_parts(self.path)
        if losses and not (confirm_lossy and confirm_lossy(losses)):
            raise CannotRun(
                f"La cartella di lavoro contiene {', '.join(losses)} che la scrittura da riga di comando "
                "potrebbe perdere: usate i pulsanti in Excel, oppure confermate con --yes."
            )
        wb = open_for_write(self.path)
        if c.SHEET_LIST not in wb.sheetnames:
            raise CannotRun(f"Manca il foglio «{c.SHEET_LIST}».")
        if update is not None:
            apply_results(wb, update)
        format_list_sheet(wb[c.SHEET_LIST])
        for name in (c.SHEET_MESSAGE, c.SHEET_SETTINGS):
            if name in wb.sheetnames:
                format_label_sheet(wb[name])
        if campaign_id:
            set_marker(wb, campaign_id)
        if summary is not None:
            write_summary(wb, summary)
        atomic_save(wb, self.path)

    def replace_list(self, headers: list[str], rows: list[list[str]]) -> None:
        ensure_writable_in_memory(self.path)
        wb = load_workbook(self.path, keep_vba=self.path.suffix.lower() == ".xlsm")
        index = wb.sheetnames.index(c.SHEET_LIST)
        wb.remove(wb[c.SHEET_LIST])
        ws = wb.create_sheet(c.SHEET_LIST, index)
        ws.append(headers + list(c.RESULT_COLUMNS))
        alignments = [NUMBER_ALIGNMENT if kind == NUMBER else DATE_ALIGNMENT if kind == DATE else None
                      for kind in column_kinds(headers, rows)]
        for col in range(1, len(headers) + 1):
            ws.cell(1, col).font = styles.HEADER_FONT
            ws.cell(1, col).fill = styles.HEADER_FILL
            if alignments[col - 1] is not None:  # amounts right, dates centred, also for rows typed later
                ws.column_dimensions[get_column_letter(col)].alignment = alignments[col - 1]
        for record in rows:
            ws.append([None] * len(headers))
            row = ws.max_row
            for col, value in enumerate(record, start=1):
                if value != "":
                    cell = ws.cell(row, col)
                    set_text(cell, value)
                    cell.number_format = "@"
                    if alignments[col - 1] is not None:
                        cell.alignment = alignments[col - 1]
        style_result_columns(ws, len(headers) + 1, ws.max_row)
        ws.freeze_panes = "B2"
        wb.active = index
        set_label_value(wb, c.SHEET_MESSAGE, c.MSG_FIELDS, ", ".join(headers))
        atomic_save(wb, self.path)
