"""Reading a workbook file with openpyxl in read-only mode: one streaming pass over the list.

openpyxl's read-only mode sees cached values but neither formulas nor merged cells, so a cheap
byte scan of the list's sheet XML finds formulas without a cached value and merged header cells;
it only parses the XML when the scan sees either. The same scan finds the last row that holds a
value, so that rows of formatted empty cells down to row 1,048,576 are never parsed by openpyxl.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import iterparse

from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_from_string, column_index_from_string, range_boundaries

from pecmass_xl import contract as c
from pecmass_xl.errors import CannotRun
from pecmass_xl.sheetdata import Header, ListRow, SheetData
from pecmass_xl.values import cell_text

_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')
_CHUNK = 1 << 20


def open_workbook_readonly(path: Path):
    if not path.exists():
        raise CannotRun(f"Il file {path} non esiste.")
    try:
        return load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise CannotRun(f"Il file {path.name} non è una cartella di lavoro Excel leggibile ({exc}).") from exc


def read_label_values(ws) -> tuple[dict[str, object], list[str]]:
    """Label in column A, value in column B; read by label, never by address (DESIGN §3)."""
    values: dict[str, object] = {}
    duplicates: list[str] = []
    for row in ws.iter_rows(min_col=1, max_col=2, values_only=True):
        if not row or row[0] is None:
            continue
        label = str(row[0]).strip()
        value = row[1] if len(row) > 1 else None
        if label in values and values[label] not in (None, "") and value not in (None, ""):
            duplicates.append(label)
        if label not in values or values[label] in (None, ""):
            values[label] = value
    return values, duplicates


# A cell with a value, inline text or a formula (`<formula>` of validations does not match).
_VALUE_MARKERS = (b"<v>", b"<v ", b"<is>", b"<is ", b"<f>", b"<f ")
_ROW_TAG = b"<row "
_ROW_NUMBER = re.compile(rb'<row [^>]*?\br="(\d+)"')
# Shapes the exact markers above would miss: then the last row stays unknown and every row is read.
_UNUSUAL_MARKUP = re.compile(rb"<(?:v|is|f|row)[\t\r\n]|<row>|<\w+:worksheet[\s>]")


@dataclass
class SheetScan:
    has_formula: bool = False
    merges: list[str] = field(default_factory=list)
    last_value_row: int | None = None  # None: unknown (read every row)


def _row_number_before(window: bytes, position: int, current: int | None) -> int | None:
    """Number of the row whose tag precedes `position` (`current` when it opened in an earlier chunk)."""
    start = window.rfind(_ROW_TAG, 0, position)
    if start < 0:
        return current
    match = _ROW_NUMBER.match(window, start)
    return int(match.group(1)) if match else None


def _scan_sheet_xml(archive: zipfile.ZipFile, member: str) -> SheetScan:
    """Formulas, merged ranges and the last row with a value, from a chunked byte scan of the sheet.

    Markup cannot occur inside cell text (`<` is escaped there), so finding `<v>` or `<row ` is exact.
    Unusual markup (a namespace prefix, rows without attributes) keeps `last_value_row` unknown.
    """
    scan = SheetScan()
    tail = b""
    current_row: int | None = None  # row open at the end of the previous window
    last_row = 0
    row_numbers_known = True
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            window = tail + chunk
            if row_numbers_known and _UNUSUAL_MARKUP.search(window):
                row_numbers_known = False
            if not scan.has_formula and _FORMULA.search(window):
                scan.has_formula = True
            for match in _MERGE.finditer(window):
                ref = match.group(1).decode()
                if ref not in scan.merges:
                    scan.merges.append(ref)
            if row_numbers_known:
                position = max(window.rfind(marker) for marker in _VALUE_MARKERS)
                if position >= 0:
                    number = _row_number_before(window, position, current_row)
                    if number is None:
                        row_numbers_known = False
                    else:
                        last_row = max(last_row, number)
                current_row = _row_number_before(window, len(window), current_row)
            tail = window[-200:]
    scan.last_value_row = last_row if row_numbers_known else None
    return scan


def _formulas_without_value(archive: zipfile.ZipFile, member: str, last_row: int | None) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    with archive.open(member) as stream:
        for _event, elem in iterparse(stream, events=("end",)):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag != "c":
                if tag == "row":
                    elem.clear()
                    if last_row is not None and int(elem.get("r") or 0) >= last_row:
                        break
                continue
            children = {child.tag.rsplit("}", 1)[-1]: child for child in elem}
            if "f" in children:
                value = children.get("v")
                if value is None or value.text in (None, ""):
                    col_letters, row = coordinate_from_string(elem.get("r"))
                    found.add((row, column_index_from_string(col_letters)))
    return found


def _sheet_member(ws) -> str | None:
    path = getattr(ws, "_worksheet_path", None)
    return path.lstrip("/") if path else None


def read_list(ws, last_row: int | None = None) -> tuple[list[Header], list[ListRow]]:
    """Headers and non-empty rows; `last_row` (the last row with a value) stops openpyxl early."""
    rows_iter = ws.iter_rows(max_row=max(last_row, 1)) if last_row is not None else ws.iter_rows()
    headers: list[Header] = []
    for header_row in rows_iter:
        for index, cell in enumerate(header_row, start=1):
            raw = getattr(cell, "value", None)
            headers.append(Header(index, raw, str(raw).strip() if raw is not None else ""))
        break
    while headers and not headers[-1].name:
        headers.pop()
    by_index = {h.column: h for h in headers}
    rows: list[ListRow] = []
    for row_cells in rows_iter:
        if not row_cells:
            continue
        number = getattr(row_cells[0], "row", None)
        values = {}
        results = {}
        stray: list[int] = []
        empty = True
        for index, cell in enumerate(row_cells, start=1):
            value = getattr(cell, "value", None)
            if value is None:
                continue
            if isinstance(value, str) and value == "":
                continue
            empty = False
            header = by_index.get(index)
            if header is None or not header.name:
                stray.append(index)
            elif header.name in c.RESULT_COLUMNS:
                results[header.name] = value
            else:
                values[header.name] = cell_text(value, getattr(cell, "number_format", None))
        if empty:
            continue
        if number is None:
            number = len(rows) + 2
        for header in headers:
            if header.name and header.name not in c.RESULT_COLUMNS and header.name not in values:
                values[header.name] = cell_text(None)
        rows.append(ListRow(number, values, results, stray))
    return headers, rows


def read_workbook(path: Path) -> SheetData:
    """Read the list, the message, the settings and the marker of a workbook file."""
    path = Path(path)
    wb = open_workbook_readonly(path)
    try:
        missing = [name for name in (c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS) if name not in wb.sheetnames]
        headers: list[Header] = []
        rows: list[ListRow] = []
        formulas: set[tuple[int, int]] = set()
        merges: list[str] = []
        if c.SHEET_LIST in wb.sheetnames:
            ws = wb[c.SHEET_LIST]
            member = _sheet_member(ws)
            scan = SheetScan()
            if member:
                with zipfile.ZipFile(path) as archive:
                    scan = _scan_sheet_xml(archive, member)
                    if scan.has_formula:
                        formulas = _formulas_without_value(archive, member, scan.last_value_row)
                merges = [ref for ref in scan.merges if range_boundaries(ref)[1] == 1]
            headers, rows = read_list(ws, scan.last_value_row)
        duplicates: list[tuple[str, str]] = []
        message: dict[str, object] = {}
        settings: dict[str, object] = {}
        marker: dict[str, object] = {}
        if c.SHEET_MESSAGE in wb.sheetnames:
            message, dup = read_label_values(wb[c.SHEET_MESSAGE])
            duplicates += [(c.SHEET_MESSAGE, d) for d in dup]
        if c.SHEET_SETTINGS in wb.sheetnames:
            settings, dup = read_label_values(wb[c.SHEET_SETTINGS])
            duplicates += [(c.SHEET_SETTINGS, d) for d in dup]
        if c.SHEET_MARKER in wb.sheetnames:
            marker, _ = read_label_values(wb[c.SHEET_MARKER])
    finally:
        wb.close()
    return SheetData(path, headers, rows, message, settings, marker, missing, formulas, merges, duplicates)
