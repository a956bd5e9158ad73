"""The workbook open in Excel, through xlwings: the same interface as `FileWorkbook`.

Every property read or write on an xlwings object is a round trip to Excel (COM on Windows, Apple
Events on the Mac) costing about a millisecond, so this adapter touches Excel in bulk (DESIGN §6):

- `read()` reads `Destinatari` in one call, plus one number-format read per parameter column (so a
  CAP stored as 184 with format 00000 is seen as "00184"), and each label sheet in one call; the
  rows then go through the same code as the file reader (`workbook_read.read_list`).
- `write()` writes the result columns as one 2-D block per run of adjacent columns: text is sent
  with Excel's text prefix (') so it is never turned into a number, date or formula; the links of
  `Ricevute` are `=HYPERLINK()` formulas inside the same block; cells of other rows keep their value.

Only a small part of xlwings' object model is used (see tests/excel/fake_xlwings.py), so the
adapter runs unchanged against the fake in tests. Calls rejected because Excel is busy (the user is
editing a cell) are retried a bounded number of times, block by block, then reported as `CannotRun`.
Excel's calculation mode and events are never touched (they are global to every open workbook, and
one block write is one recalculation); screen updating is turned off for a write and restored from
the value read once before it.
"""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import styles
from pecmass_xl.workbook.read import read_label_values, read_list
from pecmass_xl.workbook.riepilogo import TITLE_CELL, Summary, summary_layout
from pecmass_xl.workbook.sheetdata import SheetData
from pecmass_xl.workbook.write import ResultUpdate, clean_text

log = logging.getLogger("pecmass.excel")

T = TypeVar("T")

# What reaches us when Excel cannot take calls (the user is editing a cell, a dialog is open), in
# exactly the shapes xlwings' own retry wrapper retries before giving up (`xlwings/_xlwindows.py`,
# `COMRetryMethodWrapper`/`COMRetryObjectWrapper`, 0.37.8 lines 128-270): a read or a call fails with
# RPC_E_CALL_REJECTED; a write also with DISP_E_EXCEPTION whose excepinfo scode is None or
# VBA_E_IGNORE; a read that pywin32 turns into AttributeError ends as xlwings' `ExcelBusyError`.
RPC_E_CALL_REJECTED = -2147418111  # 0x80010001
DISP_E_EXCEPTION = -2147352567  # 0x80020009
VBA_E_IGNORE = -2146777998  # 0x800AC472
BUSY_ERROR_NAME = "ExcelBusyError"  # xlwings._xlwindows.ExcelBusyError (line 159)
XL_SHEET_VERY_HIDDEN = 2  # XlSheetVisibility.xlSheetVeryHidden
TEXT_PREFIX = "'"
RESULT_FONT_COLOUR = styles.rgb(styles.RESULT_TEXT_COLOUR)
HEADER_FONT_COLOUR = styles.rgb(styles.HEADER_TEXT_COLOUR)
RESULT_HEADER_COLOUR = styles.rgb(styles.RESULT_HEADER_COLOUR)
TITLE_COLOUR = styles.rgb(styles.TITLE_COLOUR)
BUSY_MESSAGE = ("Excel è occupato (forse una cella è in modifica): i risultati non sono stati scritti "
                "ora, restano nel registro e compariranno al prossimo aggiornamento.")


def is_busy_error(exc: BaseException) -> bool:
    """True for the errors xlwings raises, once its own retries are over, while Excel cannot take calls."""
    if type(exc).__name__ == BUSY_ERROR_NAME:
        return True
    args = getattr(exc, "args", ())
    hresult = getattr(exc, "hresult", None)
    if hresult is None and args and isinstance(args[0], int):
        hresult = args[0]
    if hresult == RPC_E_CALL_REJECTED:
        return True
    if hresult == DISP_E_EXCEPTION:
        excepinfo = args[2] if len(args) > 2 else None
        scode = excepinfo[5] if isinstance(excepinfo, tuple) and len(excepinfo) > 5 else None
        return scode in (None, VBA_E_IGNORE)
    return False


def call_with_retries(action: Callable[[], T], attempts: int = 40, delay: float = 0.5,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """Run `action`, retrying while Excel is busy; after `attempts` tries give up with CannotRun."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if not is_busy_error(exc):
                raise
            if attempt == attempts:
                raise CannotRun(BUSY_MESSAGE) from exc
            log.info("Excel busy, retry %d/%d", attempt, attempts)
            sleep(delay)
    raise AssertionError("unreachable")


def workbook_fullname(book: Any) -> str:
    """`Book.fullname`, which xlwings (>= 0.25) already maps from a OneDrive/SharePoint URL to the
    synced local file, raising its `XlwingsError` when there is none: that becomes an Italian message."""
    try:
        return str(book.fullname)
    except Exception as exc:
        if type(exc).__name__ != "XlwingsError":
            raise
        raise CannotRun(
            "La cartella di lavoro è aperta da OneDrive/SharePoint e non si trova la sua copia locale "
            "sincronizzata: apritela dalla cartella sincronizzata sul computer (Esplora file / Finder)."
        ) from exc


def without_mac_cleanup() -> bool:
    """Remove xlwings' Mac exit hook from this process; True if there was one.

    On the Mac `import xlwings` registers with `atexit` a function (`xlwings/_xlmac.py`, `cleanup`,
    0.37.8 line 4752) that runs the add-in's VBA `CleanUp` in every running Excel when Python exits:
    it shows xlwings' log and sets `Application.StatusBar = False`, wiping the last progress or result
    message, the only feedback channel on the Mac. pecmass reports its own errors, so the hook goes."""
    module = sys.modules.get("xlwings._xlmac")
    hook = getattr(module, "cleanup", None)
    if hook is None:
        return False
    atexit.unregister(hook)
    return True


def release_com_references() -> None:
    """Drop the COM proxies no longer referenced now, so an Excel the user quits can really end."""
    gc.collect()


@dataclass
class _Cell:
    """What `workbook_read.read_list` needs of a cell."""

    value: Any
    row: int
    number_format: str | None = None


class _Grid:
    """A block of values read from Excel, shaped like an openpyxl read-only sheet."""

    def __init__(self, values: list[list[Any]], formats: dict[int, str | None] | None = None):
        self.values = values
        self.formats = formats or {}

    def iter_rows(self, min_row: int = 1, max_row: int | None = None, min_col: int = 1,
                  max_col: int | None = None, values_only: bool = False) -> Iterator[tuple]:
        last_row = len(self.values) if max_row is None else min(max_row, len(self.values))
        for number in range(min_row, last_row + 1):
            row = self.values[number - 1]
            width = len(row) if max_col is None else max_col
            cells = [row[col - 1] if col - 1 < len(row) else None for col in range(min_col, width + 1)]
            if values_only:
                yield tuple(cells)
            else:
                yield tuple(_Cell(value, number, self.formats.get(col) if number > 1 else None)
                            for col, value in enumerate(cells, start=min_col))


def locate_open_book(fullname: str, apps: Any) -> Any | None:
    """The book open in any running Excel whose full name is `fullname`; never opens a file.

    A book whose name xlwings cannot resolve (an unrelated OneDrive workbook without a synced copy)
    is skipped: it is not ours, and it must not stop the search."""
    wanted = fullname.casefold()
    for app in apps:
        for book in app.books:
            try:
                name = str(book.fullname)
            except Exception as exc:
                if type(exc).__name__ != "XlwingsError":
                    raise
                log.info("an open workbook without a local path skipped")
                continue
            if name.casefold() == wanted:
                return book
    return None


class ExcelWorkbook:
    """A workbook open in Excel: a `workbook.gateway.WorkbookGateway`, plus selection, status bar and save."""

    def __init__(self, book: Any, retry_attempts: int = 40, retry_delay: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self.book = book
        self.fullname = workbook_fullname(book)
        self.path = Path(self.fullname)
        self._retry = dict(attempts=retry_attempts, delay=retry_delay, sleep=sleep)

    def _retrying(self, action: Callable[[], T]) -> T:
        return call_with_retries(action, **self._retry)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def app(self) -> Any:
        return self.book.app

    # ------------------------------------------------------------------------------------ read
    def read(self) -> SheetData:
        return call_with_retries(self._read, **self._retry)

    def _read(self) -> SheetData:
        sheets = self._sheets()
        missing = [n for n in (c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS) if n not in sheets]
        headers, rows = ([], [])
        if c.SHEET_LIST in sheets:
            headers, rows = self._read_list(sheets[c.SHEET_LIST])
        duplicates: list[tuple[str, str]] = []
        labelled: dict[str, dict[str, object]] = {}
        for name in (c.SHEET_MESSAGE, c.SHEET_SETTINGS, c.SHEET_MARKER):
            values: dict[str, object] = {}
            if name in sheets:
                values, dup = read_label_values(_Grid(self._read_block(sheets[name], max_col=2)))
                if name != c.SHEET_MARKER:
                    duplicates += [(name, d) for d in dup]
            labelled[name] = values
        return SheetData(self.path, headers, rows, labelled[c.SHEET_MESSAGE], labelled[c.SHEET_SETTINGS],
                         labelled[c.SHEET_MARKER], missing, set(), [], duplicates)

    def _sheets(self) -> dict[str, Any]:
        return {sheet.name: sheet for sheet in self.book.sheets}

    @staticmethod
    def _extent(sheet: Any) -> tuple[int, int]:
        last = sheet.used_range.last_cell
        return last.row, last.column

    def _read_block(self, sheet: Any, max_col: int | None = None) -> list[list[Any]]:
        last_row, last_col = self._extent(sheet)
        width = max_col or last_col
        values = sheet.range((1, 1), (last_row, width)).options(ndim=2, err_to_str=True).value
        return [list(row) for row in values or []]

    def _read_list(self, sheet: Any):
        values = self._read_block(sheet)
        if not values:
            return [], []
        formats: dict[int, str | None] = {}
        last_row = len(values)
        if last_row >= 2:
            for column, raw in enumerate(values[0], start=1):
                name = str(raw).strip() if raw is not None else ""
                if name and name not in c.RESULT_COLUMNS:
                    formats[column] = self._column_format(sheet, column, last_row)
        return read_list(_Grid(values, formats))

    @staticmethod
    def _column_format(sheet: Any, column: int, last_row: int) -> str | None:
        """One call for the column; if its cells differ, the format of its first data cell."""
        number_format = sheet.range((2, column), (last_row, column)).number_format
        if number_format is None and last_row > 2:
            number_format = sheet.range((2, column)).number_format
        return number_format

    # ------------------------------------------------------------------------------------ write
    def write(self, update: ResultUpdate | None = None, summary: Summary | None = None,
              campaign_id: str | None = None, confirm_lossy: object = None) -> None:
        """Result cells, the marker and Riepilogo; `confirm_lossy` is unused (Excel loses nothing).

        Each block is retried on its own while the user is editing a cell; a block rewrites its
        cells from what it reads, so a retried block gives the same cells."""
        with self._screen_frozen():
            if update is not None:
                self._write_results(update)
            self._retrying(lambda: self._write_marker(campaign_id))
            if summary is not None:
                self._retrying(lambda: self._write_summary(summary))

    @contextmanager
    def _screen_frozen(self) -> Iterator[None]:
        """No repaint while writing. Calculation and events are never touched (one block write is one
        recalculation); the user's setting is read once and restored from that copy, never re-read. If
        Excel stays busy past the retries the restore is still owed, and the next write pays it back
        instead of taking the frozen screen for the user's choice."""
        app = self.app
        owed = getattr(self, "_screen_owed", False)
        saved = True if owed else self._retrying(lambda: app.screen_updating)
        if saved and not owed:
            self._retrying(lambda: setattr(app, "screen_updating", False))
        try:
            yield
        finally:
            if saved:
                try:
                    self._retrying(lambda: setattr(app, "screen_updating", True))
                    self._screen_owed = False
                except CannotRun:
                    self._screen_owed = True
                    log.warning("screen updating not restored yet: Excel stayed busy")
                    raise

    def _list_sheet(self) -> Any:
        sheets = self._sheets()
        if c.SHEET_LIST not in sheets:
            raise CannotRun(f"Manca il foglio «{c.SHEET_LIST}».")
        return sheets[c.SHEET_LIST]

    def _result_positions(self, sheet: Any, last_col: int) -> dict[str, int]:
        header = sheet.range((1, 1), (1, last_col)).options(ndim=2).value[0]
        positions: dict[str, int] = {}
        last_named = 0
        for column, raw in enumerate(header, start=1):
            name = str(raw).strip() if raw is not None else ""
            if name:
                last_named = column
                if name in c.RESULT_COLUMNS and name not in positions:
                    positions[name] = column
        missing = [name for name in c.RESULT_COLUMNS if name not in positions]
        if missing:
            first = last_named + 1
            cells = sheet.range((1, first), (1, first + len(missing) - 1))
            cells.value = [[_excel_value(None, name) for name in missing]]
            cells.color = RESULT_HEADER_COLOUR
            cells.font.bold = True
            cells.font.color = HEADER_FONT_COLOUR
            positions.update({name: first + offset for offset, name in enumerate(missing)})
        return positions

    def _write_results(self, update: ResultUpdate) -> None:
        plan = self._retrying(lambda: self._result_cells(update))
        if plan is None:
            return
        sheet, bottom, names, cells = plan
        touched = sorted({column for column, name in names.items() if any(n == name for _, n in cells)})
        for first, last in _runs(touched):
            self._retrying(lambda f=first, la=last: self._write_run(sheet, f, la, bottom, names, cells))

    def _result_cells(self, update: ResultUpdate):
        """(sheet, last row, column names, {(row, column name): value}) of an update, or None."""
        sheet = self._list_sheet()
        last_row, last_col = self._extent(sheet)
        positions = self._result_positions(sheet, last_col)
        bottom = max([last_row, *update.by_row, *update.new_ids])
        if bottom < 2:
            return None
        id_column = positions[c.COL_ID]
        ids = sheet.range((2, id_column), (bottom, id_column)).options(ndim=2).value
        row_ids = {number: _text(row[0]) for number, row in enumerate(ids, start=2)}

        cells: dict[tuple[int, str], object] = {}
        for number, new_id in update.new_ids.items():
            if not row_ids.get(number):
                cells[(number, c.COL_ID)] = new_id
                row_ids[number] = new_id
        if update.by_id:
            rows_of: dict[str, list[int]] = {}
            for number, row_id in row_ids.items():
                if row_id:
                    rows_of.setdefault(row_id, []).append(number)
            for row_id, values in update.by_id.items():
                for number in rows_of.get(row_id, []):
                    for column, value in values.items():
                        cells[(number, column)] = value
        for number, values in update.by_row.items():
            if row_ids.get(number):
                continue  # a row with an ID invio shows the journal's status, never a check's
            for column, value in values.items():
                cells[(number, column)] = value
        if not cells:
            return None
        return sheet, bottom, {column: name for name, column in positions.items()}, cells

    def _write_run(self, sheet: Any, first: int, last: int, bottom: int, names: dict[int, str],
                   cells: dict[tuple[int, str], object]) -> None:
        block_range = sheet.range((2, first), (bottom, last))
        existing = block_range.options(ndim=2).value
        links: dict[int, str] = {}
        if c.COL_RECEIPTS in (names.get(col) for col in range(first, last + 1)):
            column = next(col for col in range(first, last + 1) if names.get(col) == c.COL_RECEIPTS)
            formulas = _as_column(sheet.range((2, column), (bottom, column)).formula)
            links = {number: f for number, f in enumerate(formulas, start=2) if isinstance(f, str) and f.startswith("=")}
        block = []
        for offset, old_row in enumerate(existing):
            number = offset + 2
            out_row = []
            for index, column in enumerate(range(first, last + 1)):
                name = names.get(column)
                if (number, name) in cells:
                    out_row.append(_excel_value(name, cells[(number, name)]))
                elif name == c.COL_RECEIPTS and number in links:
                    out_row.append(links[number])
                else:
                    out_row.append(_excel_value(None, old_row[index]))
            block.append(out_row)
        block_range.value = block
        for column in range(first, last + 1):
            if names.get(column) in c.DATE_RESULT_COLUMNS:
                sheet.range((2, column), (bottom, column)).number_format = styles.DATE_TIME_FORMAT
        block_range.font.italic = True
        block_range.font.color = RESULT_FONT_COLOUR

    def _write_marker(self, campaign_id: str | None) -> None:
        """The very hidden `pecmass` sheet; its time stamp, rewritten by every write, is what
        `=PEC_STATO(id; pecmass!$B$3)` depends on, so the formulas refresh without being volatile."""
        sheets = self._sheets()
        sheet = sheets.get(c.SHEET_MARKER)
        if sheet is None:
            if not campaign_id:
                return
            sheet = self.book.sheets.add(c.SHEET_MARKER, after=list(sheets.values())[-1])
        if sheet.visible != XL_SHEET_VERY_HIDDEN:
            very_hide(sheet)
        stamp = [TEXT_PREFIX + c.MARKER_UPDATED, dt.datetime.now().replace(microsecond=0)]
        if campaign_id:
            sheet.range((1, 1), (3, 2)).value = [
                [TEXT_PREFIX + c.MARKER_VERSION, c.CONTRACT_VERSION],
                [TEXT_PREFIX + c.MARKER_CAMPAIGN, TEXT_PREFIX + clean_text(campaign_id)],
                stamp,
            ]
        else:
            sheet.range((3, 1), (3, 2)).value = [stamp]

    def _write_summary(self, summary: Summary) -> None:
        sheets = self._sheets()
        sheet = sheets.get(c.SHEET_SUMMARY)
        if sheet is None:
            sheet = self.book.sheets.add(c.SHEET_SUMMARY, after=sheets.get(c.SHEET_SETTINGS))
        layout = summary_layout(summary)
        sheet.clear_contents()
        width = max(len(row) for row in layout.rows)
        # text as text: a month such as "2025-05" written raw would become a date
        sheet.range((1, 1), (len(layout.rows), width)).value = [
            [_excel_value(None, v) for v in row] + [None] * (width - len(row)) for row in layout.rows]
        title = sheet.range(TITLE_CELL)
        title.font.bold = True
        title.font.size = 14
        title.font.color = TITLE_COLOUR
        if layout.date_cell:
            sheet.range(layout.date_cell).number_format = styles.DATE_TIME_FORMAT
        for row, columns in layout.header_rows:
            header = sheet.range((row, 1), (row, columns))
            header.color = TITLE_COLOUR
            header.font.color = HEADER_FONT_COLOUR
            header.font.bold = True

    # ------------------------------------------------------------------------------------ other sheets
    def replace_list(self, headers: list[str], rows: list[list[str]]) -> None:
        """`Destinatari` becomes `headers` + the result columns and `rows`, all as text, in one write;
        `Campi disponibili` lists the headers."""

        width = len(headers) + len(c.RESULT_COLUMNS)
        block = [[_excel_value(None, h) for h in list(headers) + list(c.RESULT_COLUMNS)]]  # '2025' stays text
        for record in rows:
            cells = [_excel_value(None, value) for value in record[: len(headers)]]
            block.append(cells + [None] * (width - len(cells)))

        def work() -> None:
            sheet = self._list_sheet()
            sheet.clear_contents()
            sheet.range((1, 1), (len(block), width)).value = block
            parameters = sheet.range((1, 1), (1, len(headers)))
            parameters.color = TITLE_COLOUR
            parameters.font.bold = True
            parameters.font.color = HEADER_FONT_COLOUR
            results = sheet.range((1, len(headers) + 1), (1, width))
            results.color = RESULT_HEADER_COLOUR
            results.font.bold = True
            results.font.color = HEADER_FONT_COLOUR

        with self._screen_frozen():
            self._retrying(work)
        self.set_label_value(c.SHEET_MESSAGE, c.MSG_FIELDS, ", ".join(headers))

    def set_label_value(self, sheet_name: str, label: str, value: object) -> None:
        """Column B next to `label` in a label/value sheet (two calls: read column A, write B)."""

        def work() -> None:
            sheet = self._sheets().get(sheet_name)
            if sheet is None:
                return
            labels = self._read_block(sheet, max_col=1)
            row = next((n for n, (cell,) in enumerate(labels, start=1) if _text(cell) == label), len(labels) + 1)
            sheet.range((row, 1), (row, 2)).value = [[_excel_value(None, label), _excel_value(None, value)]]

        self._retrying(work)

    def show_sheet(self, name: str, rows: list[list[object]], title_rows: int = 1) -> None:
        """A sheet owned by pecmass (e.g. `Anteprima`): created if missing, replaced, shown."""

        def work() -> None:
            sheets = self._sheets()
            sheet = sheets.get(name)
            if sheet is None:
                sheet = self.book.sheets.add(name, after=sheets.get(c.SHEET_LIST))
            sheet.clear_contents()
            width = max((len(r) for r in rows), default=1)
            block = [[_excel_value(None, v) for v in r] + [None] * (width - len(r)) for r in rows]
            if block:
                sheet.range((1, 1), (len(block), width)).value = block
            title = sheet.range((1, 1), (title_rows, 1))
            title.font.bold = True
            title.font.color = TITLE_COLOUR
            sheet.activate()

        call_with_retries(work, **self._retry)

    def selected_row(self) -> tuple[str, int] | None:
        """(sheet name, row number) of the active cell, or None when nothing is selected."""
        selection = self.app.selection
        if selection is None:
            return None
        return selection.sheet.name, selection.row

    # ------------------------------------------------------------------------------------ Excel UI
    def set_status(self, text: str | None) -> None:
        """Excel's status bar; None gives it back to Excel."""
        self.app.status_bar = text if text else False

    def save(self) -> None:
        self._retrying(self.book.save)


def very_hide(sheet: Any) -> None:
    """Make a sheet very hidden (not listed by Unhide), as the file writer does.

    xlwings passes the value straight to Excel: on Windows `Sheet.visible = 2` sets
    `Worksheet.Visible = xlSheetVeryHidden` (`_xlwindows.Sheet.visible`); on the Mac it hands it to
    AppleScript (`_xlmac.Sheet.visible`: `self.xl.visible.set(value)`), which wants the keyword."""
    if sys.platform == "darwin":
        from appscript import k  # xlwings' Mac engine dependency

        sheet.api.visible.set(k.sheet_very_hidden)
    else:
        sheet.visible = XL_SHEET_VERY_HIDDEN


def _runs(columns: list[int]) -> list[tuple[int, int]]:
    """[3, 4, 5, 8, 9] -> [(3, 5), (8, 9)]: runs of adjacent columns."""
    runs: list[tuple[int, int]] = []
    for column in columns:
        if runs and column == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], column)
        else:
            runs.append((column, column))
    return runs


def _as_column(formulas: Any) -> list[Any]:
    """Range.formula of a one-column range: a string for one cell, else a tuple of 1-tuples."""
    if isinstance(formulas, (list, tuple)):
        return [row[0] if isinstance(row, (list, tuple)) else row for row in formulas]
    return [formulas]


def _text(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""


def _excel_value(column: str | None, value: Any) -> Any:
    """How a value is handed to Excel: text stays text, dates are naive local date-times."""
    if value is None or value == "":
        return None
    if column == c.COL_RECEIPTS and isinstance(value, str) and value.startswith("=HYPERLINK("):
        return value
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, (bool, int, float, dt.date)):
        return value
    return TEXT_PREFIX + clean_text(str(value))
