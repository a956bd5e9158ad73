"""The workbook as a file on disk (headless `pecmass`): the same interface the Excel adapter offers.

`read()` returns SheetData in one pass; `write()` applies result cells, Riepilogo and the marker in
one atomic save.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.read import read_workbook
from pecmass_xl.workbook.riepilogo import Summary, write_summary
from pecmass_xl.workbook.sheetdata import SheetData
from pecmass_xl.workbook.write import ResultUpdate, apply_results, atomic_save, lossy_parts, open_for_write, set_marker

ConfirmLossy = Callable[[list[str]], bool]


class FileWorkbook:
    """A workbook file (.xlsx or .xlsm) read with openpyxl."""

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
        if campaign_id:
            set_marker(wb, campaign_id)
        if summary is not None:
            write_summary(wb, summary)
        atomic_save(wb, self.path)
