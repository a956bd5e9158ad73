"""Reading a workbook file: the list in one streaming pass, then the label sheets.

The package is read by `xlsx_stream` (values, number formats, formulas without a cached value):
openpyxl's read-only mode costs several times more per cell. Its byte scan of the list's sheet XML
finds merged header cells (they sit after the rows) and the last row that holds a value, so rows of
formatted empty cells down to row 1,048,576 are never parsed.

`read_list` and `read_label_values` also take an openpyxl-like sheet (`iter_rows`): the Excel
adapter feeds them the block it read from Excel, so both front ends share the same rules.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from openpyxl.utils.cell import range_boundaries

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.gc_pause import collector_paused
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.cell_values import CellText, cell_text
from pecmass_xl.workbook.sheetdata import Header, ListRow, SheetData
from pecmass_xl.workbook.xlsx_stream import XlsxError, XlsxPackage, XlsxRefused

# A row as the readers below see it: (Excel row number, [(column, value, number format)]) with
# only the cells that hold a value.
RowCells = tuple[int, list[tuple[int, object, "str | None"]]]


def open_package(path: Path) -> XlsxPackage:
    if not path.exists():
        raise CannotRun(f"Il file {path} non esiste.")
    try:
        return XlsxPackage(path)
    except XlsxRefused as exc:
        raise CannotRun(f"Il file {path.name} non viene aperto: {exc}.") from exc
    except XlsxError as exc:
        raise CannotRun(f"Il file {path.name} non è una cartella di lavoro Excel leggibile (file danneggiato o di un altro formato).") from exc


def label_values(pairs: Iterable[tuple[object, object]]) -> tuple[dict[str, object], list[str]]:
    """Label in column A, value in column B; read by label, never by address (DESIGN §3)."""
    values: dict[str, object] = {}
    duplicates: list[str] = []
    for label_cell, value in pairs:
        if label_cell is None:
            continue
        label = str(label_cell).strip()
        if label in values and values[label] not in (None, "") and value not in (None, ""):
            duplicates.append(label)
        if label not in values or values[label] in (None, ""):
            values[label] = value
    return values, duplicates


def read_label_values(ws) -> tuple[dict[str, object], list[str]]:
    """`label_values` of an openpyxl-like sheet."""
    return label_values((row[0], row[1] if len(row) > 1 else None)
                        for row in ws.iter_rows(min_col=1, max_col=2, values_only=True) if row)


def _rows_of_sheet(ws, last_row: int | None) -> Iterator[RowCells]:
    """An openpyxl-like sheet as `RowCells` (its rows come in order from row 1)."""
    rows_iter = ws.iter_rows(max_row=max(last_row, 1)) if last_row is not None else ws.iter_rows()
    for position, row_cells in enumerate(rows_iter, start=1):
        cells = [(index, cell.value, getattr(cell, "number_format", None))
                 for index, cell in enumerate(row_cells, start=1)
                 if getattr(cell, "value", None) is not None]
        number = getattr(row_cells[0], "row", None) if row_cells else None
        yield (number or position), cells


def read_list(ws, last_row: int | None = None) -> tuple[list[Header], list[ListRow]]:
    """Headers and non-empty rows of an openpyxl-like sheet."""
    return build_list(_rows_of_sheet(ws, last_row))


def build_list(rows_iter: Iterator[RowCells]) -> tuple[list[Header], list[ListRow]]:
    """Row 1 names the parameters; every later row with a value is a recipient."""
    headers: list[Header] = []
    pending: RowCells | None = None
    for number, cells in rows_iter:
        if number == 1:
            raw_by_column = {column: value for column, value, _ in cells}
            for index in range(1, max(raw_by_column, default=0) + 1):
                raw = raw_by_column.get(index)
                headers.append(Header(index, raw, str(raw).strip() if raw is not None else ""))
        else:
            pending = (number, cells)
        break
    while headers and not headers[-1].name:
        headers.pop()
    by_index = {h.column: h for h in headers}
    parameters = [h.name for h in headers if h.name and h.name not in c.RESULT_COLUMNS]
    empty_text = cell_text(None)
    rows: list[ListRow] = []

    def remaining() -> Iterator[RowCells]:
        if pending is not None:
            yield pending
        yield from rows_iter

    for number, cells in remaining():
        values: dict[str, CellText] = {}
        results: dict[str, object] = {}
        stray: list[int] = []
        for index, value, number_format in cells:
            if value is None or (isinstance(value, str) and value == ""):
                continue
            header = by_index.get(index)
            if header is None or not header.name:
                stray.append(index)
            elif header.name in c.RESULT_COLUMNS:
                results[header.name] = value
            else:
                values[header.name] = cell_text(value, number_format)
        if not (values or results or stray):
            continue
        for name in parameters:
            if name not in values:
                values[name] = empty_text
        rows.append(ListRow(number, values, results, stray))
    return headers, rows


def _label_sheet(package: XlsxPackage, name: str) -> tuple[dict[str, object], list[str]]:
    def pairs():
        for _number, cells in package.rows(name):
            by_column = {column: value for column, value, _ in cells if column <= 2}
            if 1 in by_column:
                yield by_column[1], by_column.get(2)
    return label_values(pairs())


def read_workbook(path: Path) -> SheetData:
    """Read the list, the message, the settings and the marker of a workbook file."""
    path = Path(path)
    package = open_package(path)
    try:
        with collector_paused():
            return _read_package(path, package)
    except XlsxRefused as exc:
        raise CannotRun(f"Il file {path.name} non viene aperto: {exc}.") from exc
    except (ValueError, KeyError, IndexError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CannotRun(f"Il file {path.name} non è una cartella di lavoro Excel leggibile (file danneggiato o di un altro formato).") from exc
    finally:
        package.archive.close()


def _read_package(path: Path, package: XlsxPackage) -> SheetData:
    sheets = package.sheetnames
    missing = [name for name in (c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS) if name not in sheets]
    headers: list[Header] = []
    rows: list[ListRow] = []
    formulas: set[tuple[int, int]] = set()
    merges: list[str] = []
    if c.SHEET_LIST in sheets:
        scan = package.scan(c.SHEET_LIST)
        merges = [ref for ref in scan.merges if range_boundaries(ref)[1] == 1]
        list_rows = package.rows(c.SHEET_LIST, scan.last_value_row)
        headers, rows = build_list(iter(list_rows))
        formulas = list_rows.formulas_without_value
    duplicates: list[tuple[str, str]] = []
    message: dict[str, object] = {}
    settings: dict[str, object] = {}
    marker: dict[str, object] = {}
    if c.SHEET_MESSAGE in sheets:
        message, dup = _label_sheet(package, c.SHEET_MESSAGE)
        duplicates += [(c.SHEET_MESSAGE, d) for d in dup]
    if c.SHEET_SETTINGS in sheets:
        settings, dup = _label_sheet(package, c.SHEET_SETTINGS)
        duplicates += [(c.SHEET_SETTINGS, d) for d in dup]
    if c.SHEET_MARKER in sheets:
        marker, _ = _label_sheet(package, c.SHEET_MARKER)
    return SheetData(path, headers, rows, message, settings, marker, missing, formulas, merges, duplicates)
