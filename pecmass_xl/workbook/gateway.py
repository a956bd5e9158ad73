"""The one interface every use case has to a workbook, whether a file or the workbook open in Excel.

Two implementations: `workbook.file_workbook.FileWorkbook` (openpyxl, headless `pecmass`) and
`excel.live_workbook.ExcelWorkbook` (xlwings, the ribbon and its worker). Use cases are typed
against this Protocol and never ask which one they hold; one test suite
(tests/excel/test_gateway.py) runs against both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from pecmass_xl.workbook.riepilogo import Summary
from pecmass_xl.workbook.sheetdata import SheetData
from pecmass_xl.workbook.write import ResultUpdate

ConfirmLossy = Callable[[list[str]], bool]


@runtime_checkable
class WorkbookGateway(Protocol):
    """Read the whole contract in one pass; write results, Riepilogo and the marker in one go."""

    @property
    def path(self) -> Path:
        """The file on disk (archive and report live next to it)."""
        ...

    @property
    def name(self) -> str: ...

    @property
    def folder(self) -> Path: ...

    def read(self) -> SheetData:
        """Settings, message, list rows with their result cells and the campaign id."""
        ...

    def write(self, update: ResultUpdate | None = None, summary: Summary | None = None,
              campaign_id: str | None = None, confirm_lossy: ConfirmLossy | None = None) -> None:
        """Result cells by row or `ID invio`, Riepilogo, and the campaign marker when given."""
        ...

    def replace_list(self, headers: list[str], rows: list[list[str]]) -> None:
        """`Destinatari` becomes these headers (plus the result columns) and rows, every value text;
        `Campi disponibili` in Messaggio lists the new headers."""
        ...
