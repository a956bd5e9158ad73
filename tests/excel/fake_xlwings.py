"""A small fake of the xlwings object model, with Excel's input rules, that counts calls to Excel.

Only what `pecmass_xl.excel.live_workbook` and the ribbon handlers use. Every property read or
write on an App, Book, Sheet or Range counts as one round trip (`app.calls`), as each is a COM or
Apple Event call in real xlwings. Assigning a string to `.value` follows Excel's parsing: a leading
' keeps text, "=..." is a formula, "00184" becomes the number 184, "31/12/2026" a date — so a test
catches text that was not protected.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any


class FakeComError(Exception):
    """Like pywintypes.com_error: the HRESULT is args[0]."""


RPC_E_CALL_REJECTED = -2147418111
_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})\Z")
_HYPERLINK = re.compile(r'=HYPERLINK\("((?:[^"]|"")*)","((?:[^"]|"")*)"\)\Z')


class Cell:
    __slots__ = ("value", "formula", "number_format", "font", "color")

    def __init__(self) -> None:
        self.value: Any = None
        self.formula: str | None = None
        self.number_format = "General"
        self.font: dict[str, Any] = {}
        self.color: Any = None


def excel_input(text: str) -> tuple[Any, str | None]:
    """What Excel stores for a string typed or assigned to Range.Value: (value, formula)."""
    if text.startswith("'"):
        return text[1:], None
    if text.startswith("="):
        link = _HYPERLINK.match(text)
        return (link.group(2).replace('""', '"') if link else "#NAME?"), text
    stripped = text.strip()
    if stripped.upper() in ("TRUE", "FALSE"):
        return stripped.upper() == "TRUE", None
    try:
        return float(stripped.replace(",", "")) if stripped else text, None
    except ValueError:
        pass
    date = _DATE.match(stripped)
    if date:
        return dt.datetime(int(date.group(3)), int(date.group(2)), int(date.group(1))), None
    if stripped[:1] in ("+", "-", "@") and len(stripped) > 1:
        return "#NAME?", "=" + stripped.lstrip("+@")
    return text, None


class FakeApp:
    def __init__(self) -> None:
        self.calls = 0
        self.busy_failures = 0
        self.books: list[FakeBook] = []
        self._state = {"screen_updating": True, "calculation": "automatic", "enable_events": True,
                       "status_bar": False, "selection": None}
        self.alerts: list[dict] = []
        self.answers: list[str] = []

    def tick(self) -> None:
        if self.busy_failures:
            self.busy_failures -= 1
            raise FakeComError(RPC_E_CALL_REJECTED, "Call was rejected by callee.", None, None)
        self.calls += 1

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__.get("_state", {})
        if name in state:
            self.tick()
            return state[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("_state", {}):
            self.tick()
            self._state[name] = value
        else:
            super().__setattr__(name, value)

    def alert(self, prompt: str, title: str | None = None, buttons: str = "ok", mode: str | None = None,
              callback: str | None = None) -> str:
        self.tick()
        self.alerts.append({"prompt": prompt, "title": title, "buttons": buttons, "mode": mode})
        return self.answers.pop(0) if self.answers else ("ok" if buttons.startswith("ok") else "yes")


class FakeSheets:
    def __init__(self, book: FakeBook) -> None:
        self.book = book
        self.items: list[FakeSheet] = []

    def _check_open(self) -> None:
        if self.book.closed:
            raise FakeComError(-2147417848, "The object invoked has disconnected from its clients.")

    def __iter__(self):
        self._check_open()
        self.book.app.tick()
        return iter(list(self.items))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: str | int) -> FakeSheet:
        self._check_open()
        self.book.app.tick()
        if isinstance(key, int):
            return self.items[key]
        for sheet in self.items:
            if sheet._name == key:
                return sheet
        raise KeyError(key)

    def add(self, name: str | None = None, before: Any = None, after: Any = None) -> FakeSheet:
        self.book.app.tick()
        sheet = FakeSheet(self.book, name or f"Foglio{len(self.items) + 1}")
        index = self.items.index(after) + 1 if after in self.items else len(self.items)
        self.items.insert(index, sheet)
        return sheet


class FakeBook:
    def __init__(self, app: FakeApp, fullname: str) -> None:
        self.app = app
        self.fullname = fullname
        self.name = fullname.replace("\\", "/").rsplit("/", 1)[-1]
        self.sheets = FakeSheets(self)
        self.saves = 0
        self.active = None
        self.closed = False
        app.books.append(self)

    def close(self) -> None:
        self.closed = True
        self.app.books.remove(self)

    def save(self, path: str | None = None) -> None:
        self.app.tick()
        self.saves += 1

    def add_sheet(self, name: str) -> FakeSheet:
        """Test setup helper (not counted)."""
        sheet = FakeSheet(self, name)
        self.sheets.items.append(sheet)
        return sheet


class FakeSheet:
    def __init__(self, book: FakeBook, name: str) -> None:
        self.book = book
        self._name = name
        self.cells: dict[tuple[int, int], Cell] = {}
        self._visible = True
        self.charts: list = []

    # -- test helpers (not counted) -----------------------------------------------------------
    def put(self, row: int, column: int, value: Any, number_format: str | None = None, formula: str | None = None) -> None:
        cell = self.cells.setdefault((row, column), Cell())
        cell.value, cell.formula = value, formula
        if number_format:
            cell.number_format = number_format

    def put_rows(self, rows: list[list[Any]], top: int = 1) -> None:
        for r, row in enumerate(rows, start=top):
            for col, value in enumerate(row, start=1):
                if value is not None:
                    self.put(r, col, value)

    def peek(self, row: int, column: int) -> Any:
        cell = self.cells.get((row, column))
        return cell.value if cell else None

    def peek_cell(self, row: int, column: int) -> Cell:
        return self.cells.get((row, column)) or Cell()

    # -- the object model ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        self.book.app.tick()
        return self._name

    @property
    def visible(self) -> bool:
        self.book.app.tick()
        return self._visible

    @visible.setter
    def visible(self, value: bool) -> None:
        self.book.app.tick()
        self._visible = value

    @property
    def used_range(self) -> FakeRange:
        self.book.app.tick()
        used = [key for key, cell in self.cells.items() if cell.value is not None or cell.formula]
        if not used:
            return FakeRange(self, (1, 1), (1, 1))
        rows = [r for r, _ in used]
        cols = [col for _, col in used]
        return FakeRange(self, (min(rows), min(cols)), (max(rows), max(cols)))

    def range(self, first: Any, last: Any = None) -> FakeRange:
        start = _address(first)
        return FakeRange(self, start, _address(last) if last is not None else start)

    def clear_contents(self) -> None:
        self.book.app.tick()
        for cell in self.cells.values():
            cell.value, cell.formula = None, None

    def activate(self) -> None:
        self.book.app.tick()
        self.book.active = self

    def select(self, row: int, column: int = 1) -> None:
        """Test helper: make (row, column) the active cell."""
        self.book.app._state["selection"] = FakeRange(self, (row, column), (row, column))


def _address(ref: Any) -> tuple[int, int]:
    if isinstance(ref, tuple):
        return ref
    match = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    column = 0
    for letter in match.group(1):
        column = column * 26 + ord(letter) - 64
    return int(match.group(2)), column


class FakeFont:
    def __init__(self, rng: FakeRange) -> None:
        object.__setattr__(self, "_range", rng)

    def __setattr__(self, name: str, value: Any) -> None:
        self._range.sheet.book.app.tick()
        for cell in self._range._cells(create=True):
            cell.font[name] = value


class FakeLastCell:
    def __init__(self, rng: FakeRange) -> None:
        self._range = rng

    @property
    def row(self) -> int:
        self._range.sheet.book.app.tick()
        return self._range.last[0]

    @property
    def column(self) -> int:
        self._range.sheet.book.app.tick()
        return self._range.last[1]


class FakeRange:
    def __init__(self, sheet: FakeSheet, first: tuple[int, int], last: tuple[int, int], ndim: int | None = None) -> None:
        self.sheet = sheet
        self.first = first
        self.last = last
        self.ndim = ndim

    def options(self, ndim: int | None = None, **_ignored: Any) -> FakeRange:
        return FakeRange(self.sheet, self.first, self.last, ndim)

    @property
    def row(self) -> int:
        self.sheet.book.app.tick()
        return self.first[0]

    @property
    def last_cell(self) -> FakeLastCell:
        return FakeLastCell(self)

    @property
    def shape(self) -> tuple[int, int]:
        return self.last[0] - self.first[0] + 1, self.last[1] - self.first[1] + 1

    def _keys(self):
        for r in range(self.first[0], self.last[0] + 1):
            for col in range(self.first[1], self.last[1] + 1):
                yield r, col

    def _cells(self, create: bool = False):
        for key in self._keys():
            if create:
                yield self.sheet.cells.setdefault(key, Cell())
            else:
                yield self.sheet.cells.get(key) or Cell()

    @property
    def value(self) -> Any:
        self.sheet.book.app.tick()
        rows, cols = self.shape
        grid = [[self.sheet.peek(self.first[0] + r, self.first[1] + col) for col in range(cols)] for r in range(rows)]
        if self.ndim == 2:
            return grid
        if rows == 1 and cols == 1:
            return grid[0][0]
        if rows == 1 or cols == 1:
            return [v for row in grid for v in row]
        return grid

    @value.setter
    def value(self, data: Any) -> None:
        self.sheet.book.app.tick()
        if not isinstance(data, (list, tuple)):
            data = [[data]]
        elif data and not isinstance(data[0], (list, tuple)):
            data = [list(data)]
        for r, row in enumerate(data):
            for col, item in enumerate(row):
                cell = self.sheet.cells.setdefault((self.first[0] + r, self.first[1] + col), Cell())
                if isinstance(item, str):
                    cell.value, cell.formula = excel_input(item)
                else:
                    cell.value, cell.formula = item, None

    @property
    def formula(self) -> Any:
        self.sheet.book.app.tick()

        def one(cell: Cell) -> str:
            if cell.formula:
                return cell.formula
            return "" if cell.value is None else str(cell.value)

        rows, cols = self.shape
        grid = tuple(tuple(one(self.sheet.peek_cell(self.first[0] + r, self.first[1] + col)) for col in range(cols))
                     for r in range(rows))
        return grid[0][0] if rows == 1 and cols == 1 else grid

    @property
    def number_format(self) -> str | None:
        self.sheet.book.app.tick()
        formats = {cell.number_format for cell in self._cells()}
        return formats.pop() if len(formats) == 1 else None

    @number_format.setter
    def number_format(self, value: str) -> None:
        self.sheet.book.app.tick()
        for cell in self._cells(create=True):
            cell.number_format = value

    @property
    def color(self) -> Any:
        self.sheet.book.app.tick()
        return self.sheet.peek_cell(*self.first).color

    @color.setter
    def color(self, value: Any) -> None:
        self.sheet.book.app.tick()
        for cell in self._cells(create=True):
            cell.color = value

    @property
    def font(self) -> FakeFont:
        return FakeFont(self)


class FakeApps:
    """`xw.apps`: iterable of running Excel instances."""

    def __init__(self, *apps: FakeApp) -> None:
        self.items = list(apps)

    def __iter__(self):
        return iter(self.items)


def workbook_from_openpyxl(wb, fullname: str, app: FakeApp | None = None) -> FakeBook:
    """A fake open book with the content of an openpyxl workbook (values and number formats)."""
    app = app or FakeApp()
    book = FakeBook(app, fullname)
    for ws in wb.worksheets:
        sheet = book.add_sheet(ws.title)
        sheet._visible = ws.sheet_state == "visible"
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None or cell.value == "":
                    continue  # a file's empty string is an empty cell in Excel
                value = cell.value
                formula = None
                if isinstance(value, str) and value.startswith("="):
                    formula, value = value, "#CALC"
                elif isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)  # Excel holds every number as a double
                elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                    value = dt.datetime(value.year, value.month, value.day)
                sheet.put(cell.row, cell.column, value, cell.number_format, formula)
    return book
