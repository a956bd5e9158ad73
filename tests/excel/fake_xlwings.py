"""A small fake of the xlwings object model, as strict as real xlwings on Windows, that counts calls.

Only what `pecmass_xl.excel.live_workbook`, the worker and the ribbon handlers use. Each behaviour
below names the xlwings 0.37.8 source it mirrors (read in `.venv/lib/python3*/site-packages/xlwings/`):

- Every property read or write and every method call on an App, Book, Sheet or Range is one round
  trip (`app.calls`), as each is a COM call through `_xlwindows.COMRetryObjectWrapper`.
- Busy Excel (the user is editing a cell, a dialog is open): `app.reject(n, after=k)` makes the
  attempts after the next `k` calls fail `n` times, in the shapes `_xlwindows.py` sees and retries
  (`COMRetryObjectWrapper.__getattr__`/`__setattr__`/`__call__`, lines 164-270): a read or call
  fails with RPC_E_CALL_REJECTED; a write with DISP_E_EXCEPTION whose excepinfo scode is
  VBA_E_IGNORE. The fake retries them itself up to `app.com_attempts` (xlwings'
  `N_COM_ATTEMPTS`: 0 = for ever, in a tight loop) and then raises the last error as xlwings does.
  `reject(..., shape="attribute")` gives the read path where pywin32 raises AttributeError and
  xlwings ends with its own `ExcelBusyError` (line 244).
- Screen updating, calculation, events (`App.screen_updating`, `.calculation`, `.enable_events`:
  `_xlwindows.App`, plain COM properties, global to every open workbook): each value write is one
  recalculation in automatic mode (`app.recalculations`), one `Worksheet_Change` event when
  events are on (`app.change_events`) and one repaint while screen updating is on (`app.repaints`,
  also for each format change); in manual mode the workbook stays uncalculated (`app.dirty`) until
  `calculate()`.
- Assigning a string to `Range.value` follows Excel's own parsing of typed input, as either an
  Italian or an English Excel does (`FakeApp(locale=...)`; xlwings passes strings through
  unchanged, `_xlwindows.Range.value` setter -> `Range.Value`): a leading ' keeps text; "=..." is a
  formula, refused with error 1004 when a string literal in it is longer than 255 characters;
  VERO/FALSO (TRUE/FALSE) become booleans; "1,5" is 1.5 in Italian, "1.234,5" 1234.5; "00184" is
  184; "31/12/2026", "2025-05" and "2025-05-31" become dates; "+x"/"-x"/"@x" are formulas.
- `Sheet.used_range` (`_xlwindows.Sheet.used_range` -> `UsedRange`) includes cells that hold only
  a format (number format, colour, font).
- Error cells (#N/A, #NAME?) read as None (`_xlwindows.py` `_clean_value_data_element`: an int
  value in a COM variant is an error code, None unless `err_to_str`), as "#N/A" text with
  `options(err_to_str=True)`; an empty text reads as None (`empty_as`).
- `Sheet.visible` (`_xlwindows.Sheet.visible`: `self.xl.Visible = value`) stores Excel's
  XlSheetVisibility: True -> -1 (visible), False -> 0 (hidden), 2 (very hidden) as given; reading
  it returns that number.
- `Book.fullname` (`_xlwindows.Book.fullname`, line 914) converts a OneDrive/SharePoint URL with
  xlwings' own `utils.fullname_url_to_local_path`, which raises `XlwingsError` without a synced copy.
- `App.quit()`: Excel ends only when no COM reference to it is held (`app.references`, objects
  handed out by `apps` and `app.books`); otherwise it stays alive, hidden (`app.zombie`). xlwings
  knows this: `_xlwindows.py` registers `cleanup()` with atexit "to clear up any zombie processes"
  (line 119) and `App.quit` drops its `xl` reference (line 636).
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
from typing import Any

RPC_E_CALL_REJECTED = -2147418111  # 0x80010001
DISP_E_EXCEPTION = -2147352567  # 0x80020009
VBA_E_IGNORE = -2146777998  # 0x800AC472: the excepinfo scode while a cell is being edited
XL_ERR_1004 = -2146827284  # 0x800A03EC: "Application-defined or object-defined error"
XL_SHEET_VISIBLE, XL_SHEET_HIDDEN, XL_SHEET_VERY_HIDDEN = -1, 0, 2
FORMULA_LITERAL_LIMIT = 255


class FakeComError(Exception):
    """Like pywintypes.com_error: args (hresult, strerror, excepinfo, argerror), `.hresult`."""

    def __init__(self, hresult: int, strerror: str = "", excepinfo: tuple | None = None, argerror: Any = None):
        super().__init__(hresult, strerror, excepinfo, argerror)
        self.hresult = hresult
        self.excepinfo = excepinfo


class ExcelBusyError(Exception):
    """xlwings' own `_xlwindows.ExcelBusyError` (same name, same message)."""

    def __init__(self) -> None:
        super().__init__("Excel application is not responding")


class ExcelError:
    """An error value in a cell (#N/A, #NAME?, #DIV/0!)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExcelError) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"ExcelError({self.text!r})"


_HYPERLINK = re.compile(r'=HYPERLINK\((.*),"((?:[^"]|"")*)"\)\Z')
_LITERAL = re.compile(r'"((?:[^"]|"")*)"')


class Cell:
    __slots__ = ("value", "formula", "number_format", "font", "color")

    def __init__(self) -> None:
        self.value: Any = None
        self.formula: str | None = None
        self.number_format = "General"
        self.font: dict[str, Any] = {}
        self.color: Any = None

    def formatted(self) -> bool:
        return self.number_format != "General" or bool(self.font) or self.color is not None

    def used(self) -> bool:
        return self.value is not None or bool(self.formula) or self.formatted()


def _number(text: str, locale: str) -> float | None:
    """A number as the locale's Excel reads it, or None."""
    decimal, group = (",", ".") if locale == "it" else (".", ",")
    body = text[:-1] if text.endswith("%") else text
    pattern = rf"[+-]?(\d{{1,3}}(\{group}\d{{3}})+|\d+)(\{decimal}\d+)?|[+-]?\{decimal}\d+"
    if not re.fullmatch(pattern, body):
        return None
    value = float(body.replace(group, "").replace(decimal, "."))
    return value / 100 if text.endswith("%") else value


def _date(text: str, locale: str) -> dt.datetime | None:
    """Dates both Excels recognise in typed text (ISO forms) and each locale's own order."""
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", text)
    try:
        if iso:
            return dt.datetime(int(iso.group(1)), int(iso.group(2)), int(iso.group(3) or 1))
        slash = re.fullmatch(r"(\d{1,2})[/.](\d{1,2})(?:[/.](\d{4}))?", text)
        if slash and ("/" in text or locale == "it"):
            first, second = int(slash.group(1)), int(slash.group(2))
            day, month = (first, second) if locale == "it" else (second, first)
            year = int(slash.group(3)) if slash.group(3) else 2026
            return dt.datetime(year, month, day)
    except ValueError:  # 31/12 in an English Excel: month 31 does not exist, the text stays text
        return None
    return None


def excel_input(text: str, locale: str = "it") -> tuple[Any, str | None]:
    """What Excel stores for a string typed or assigned to Range.Value: (value, formula)."""
    if text.startswith("'"):
        return text[1:], None
    if text.startswith("="):
        for literal in _LITERAL.findall(text):
            if len(literal.replace('""', '"')) > FORMULA_LITERAL_LIMIT:
                raise FakeComError(DISP_E_EXCEPTION, "Exception occurred.",
                                   (0, None, None, None, 0, XL_ERR_1004), None)
        link = _HYPERLINK.match(text)
        return (link.group(2).replace('""', '"') if link else ExcelError("#NAME?")), text
    stripped = text.strip()
    booleans = ("VERO", "FALSO") if locale == "it" else ("TRUE", "FALSE")
    if stripped.upper() in booleans:
        return stripped.upper() == booleans[0], None
    number = _number(stripped, locale)
    if number is not None:
        return number, None
    date = _date(stripped, locale)
    if date is not None:
        return date, None
    if stripped[:1] in ("+", "-", "@") and len(stripped) > 1:
        return ExcelError("#NAME?"), "=" + stripped.lstrip("+@")
    return text, None


class FakeApp:
    """One running Excel. `com_attempts` mirrors `xlwings._xlwindows.N_COM_ATTEMPTS`."""

    def __init__(self, locale: str = "it", com_attempts: int = 0) -> None:
        self.calls = 0
        self.locale = locale
        self.com_attempts = com_attempts
        self.books: list[FakeBook] = []
        self._state = {"screen_updating": True, "calculation": "automatic", "enable_events": True,
                       "status_bar": False, "selection": None}
        self.alerts: list[dict] = []
        self.answers: list[str] = []
        self.recalculations = 0
        self.change_events = 0
        self.repaints = 0
        self.dirty = False
        self.rejections: list[tuple[int, int, str]] = []  # (calls before, failures, shape)
        self.rejected = 0
        self.quit_requested = False
        self._handles: weakref.WeakSet = weakref.WeakSet()

    # -- busy Excel ---------------------------------------------------------------------------
    @property
    def busy_failures(self) -> int:
        return sum(n for _, n, _ in self.rejections)

    @busy_failures.setter
    def busy_failures(self, failures: int) -> None:
        self.rejections = [(0, failures, "com")] if failures else []

    def reject(self, failures: int, after: int = 0, shape: str = "com") -> None:
        """From the call after the next `after` ones, `failures` attempts are refused as busy."""
        self.rejections.append((after, failures, shape))

    def _busy_now(self) -> str | None:
        if not self.rejections:
            return None
        after, failures, shape = self.rejections[0]
        if after > 0:
            self.rejections[0] = (after - 1, failures, shape)
            return None
        if failures <= 1:
            self.rejections.pop(0)
        else:
            self.rejections[0] = (0, failures - 1, shape)
        return shape

    def tick(self, kind: str = "get") -> None:
        """One COM call through xlwings' retry wrapper (`_xlwindows.COMRetryObjectWrapper`)."""
        attempt = 1
        while True:
            shape = self._busy_now()
            if shape is None:
                self.calls += 1
                return
            self.rejected += 1
            if kind == "set":  # __setattr__: DISP_E_EXCEPTION + scode VBA_E_IGNORE is retried
                error: Exception = FakeComError(DISP_E_EXCEPTION, "Exception occurred.",
                                                (0, "Microsoft Excel", None, None, 0, VBA_E_IGNORE), None)
            else:  # __getattr__ / __call__: only RPC_E_CALL_REJECTED is retried
                error = FakeComError(RPC_E_CALL_REJECTED, "Call was rejected by callee.", None, None)
            if self.com_attempts and attempt >= self.com_attempts:
                if shape == "attribute" and kind == "get":
                    raise ExcelBusyError()  # line 244: attempts exhausted on the AttributeError path
                raise error
            attempt += 1

    # -- application state --------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        state = self.__dict__.get("_state", {})
        if name in state:
            self.tick("get")
            return state[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("_state", {}):
            self.tick("set")
            if name == "calculation" and value == "automatic" and self.dirty:
                self._recalculate()
            self._state[name] = value
        else:
            super().__setattr__(name, value)

    def calculate(self) -> None:
        self.tick("call")
        self._recalculate()

    def _recalculate(self) -> None:
        self.recalculations += 1
        self.dirty = False

    def changed(self) -> None:
        """A value write: a recalculation (automatic mode) and a change event (events on)."""
        if self._state["calculation"] == "automatic":
            self._recalculate()
        else:
            self.dirty = True
        if self._state["enable_events"]:
            self.change_events += 1
        self.repainted()

    def repainted(self) -> None:
        if self._state["screen_updating"]:
            self.repaints += 1

    def alert(self, prompt: str, title: str | None = None, buttons: str = "ok", mode: str | None = None,
              callback: str | None = None) -> str:
        self.tick("call")
        self.alerts.append({"prompt": prompt, "title": title, "buttons": buttons, "mode": mode})
        return self.answers.pop(0) if self.answers else ("ok" if buttons.startswith("ok") else "yes")

    # -- COM references -----------------------------------------------------------------------
    def handed_out(self, handle: Any) -> Any:
        self._handles.add(handle)
        return handle

    @property
    def references(self) -> int:
        """COM references to this Excel still held by the code under test."""
        import gc

        gc.collect()
        return len(self._handles)

    def quit(self) -> None:
        """The user quits Excel: it ends unless someone still holds a reference (then: a zombie)."""
        self.quit_requested = True

    @property
    def zombie(self) -> bool:
        return self.quit_requested and self.references > 0


class FakeSheets:
    def __init__(self, book: FakeBook) -> None:
        self.book = book
        self.items: list[FakeSheet] = []

    def _check_open(self) -> None:
        if self.book.closed:
            raise FakeComError(-2147417848, "The object invoked has disconnected from its clients.")

    def __iter__(self):
        self._check_open()
        self.book.app.tick("get")
        return iter(list(self.items))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: str | int) -> FakeSheet:
        self._check_open()
        self.book.app.tick("get")
        if isinstance(key, int):
            return self.items[key]
        for sheet in self.items:
            if sheet._name == key:
                return sheet
        raise KeyError(key)

    def add(self, name: str | None = None, before: Any = None, after: Any = None) -> FakeSheet:
        self.book.app.tick("call")
        sheet = FakeSheet(self.book, name or f"Foglio{len(self.items) + 1}")
        index = self.items.index(after) + 1 if after in self.items else len(self.items)
        self.items.insert(index, sheet)
        return sheet


class FakeBook:
    def __init__(self, app: FakeApp, fullname: str) -> None:
        self.app = app
        self._fullname = fullname
        self.name = fullname.replace("\\", "/").rsplit("/", 1)[-1]
        self.sheets = FakeSheets(self)
        self.saves = 0
        self.active = None
        self.closed = False
        app.books.append(self)

    @property
    def fullname(self) -> str:
        """`_xlwindows.Book.fullname`: a URL FullName is turned into the synced local path, or raises."""
        self.app.tick("get")
        if "://" in self._fullname:
            from xlwings.utils import fullname_url_to_local_path

            return fullname_url_to_local_path(url=self._fullname)
        return self._fullname

    def close(self) -> None:
        self.closed = True
        self.app.books.remove(self)

    def save(self, path: str | None = None) -> None:
        self.app.tick("call")
        self.saves += 1

    def add_sheet(self, name: str) -> FakeSheet:
        """Test setup helper (not counted)."""
        sheet = FakeSheet(self, name)
        self.sheets.items.append(sheet)
        return sheet


class _BookHandle:
    """A COM reference to a book, as `app.books` hands out (`_xlwindows.Book(xl=...)`)."""

    def __init__(self, book: FakeBook) -> None:
        object.__setattr__(self, "_book", book)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._book, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._book, name, value)

    def __eq__(self, other: object) -> bool:
        return getattr(other, "_book", other) is self._book

    def __hash__(self) -> int:
        return id(self._book)


class _AppHandle:
    """A COM reference to an Excel instance, as `xw.apps` hands out."""

    def __init__(self, app: FakeApp) -> None:
        self._app = app

    @property
    def books(self) -> list:
        self._app.tick("get")
        return [self._app.handed_out(_BookHandle(book)) for book in self._app.books]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


class FakeSheet:
    def __init__(self, book: FakeBook, name: str) -> None:
        self.book = book
        self._name = name
        self.cells: dict[tuple[int, int], Cell] = {}
        self._visible: Any = XL_SHEET_VISIBLE
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

    @property
    def visibility(self) -> str:
        """Test helper: 'visible', 'hidden' or 'veryHidden' (the file format's sheet state)."""
        if self._visible in (True, XL_SHEET_VISIBLE):
            return "visible"
        return "veryHidden" if self._visible == XL_SHEET_VERY_HIDDEN else "hidden"

    # -- the object model ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        self.book.app.tick("get")
        return self._name

    @property
    def visible(self) -> int:
        self.book.app.tick("get")
        return XL_SHEET_VISIBLE if self._visible is True else (XL_SHEET_HIDDEN if self._visible is False else self._visible)

    @visible.setter
    def visible(self, value: Any) -> None:
        self.book.app.tick("set")
        self._visible = value

    @property
    def used_range(self) -> FakeRange:
        self.book.app.tick("get")
        used = [key for key, cell in self.cells.items() if cell.used()]
        if not used:
            return FakeRange(self, (1, 1), (1, 1))
        rows = [r for r, _ in used]
        cols = [col for _, col in used]
        return FakeRange(self, (min(rows), min(cols)), (max(rows), max(cols)))

    def range(self, first: Any, last: Any = None) -> FakeRange:
        start = _address(first)
        return FakeRange(self, start, _address(last) if last is not None else start)

    def clear_contents(self) -> None:
        self.book.app.tick("call")
        for cell in self.cells.values():
            cell.value, cell.formula = None, None
        self.book.app.changed()

    def activate(self) -> None:
        self.book.app.tick("call")
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
        self._range.sheet.book.app.tick("set")
        for cell in self._range._cells(create=True):
            cell.font[name] = value
        self._range.sheet.book.app.repainted()


class FakeLastCell:
    def __init__(self, rng: FakeRange) -> None:
        self._range = rng

    @property
    def row(self) -> int:
        self._range.sheet.book.app.tick("get")
        return self._range.last[0]

    @property
    def column(self) -> int:
        self._range.sheet.book.app.tick("get")
        return self._range.last[1]


class FakeRange:
    def __init__(self, sheet: FakeSheet, first: tuple[int, int], last: tuple[int, int], ndim: int | None = None,
                 err_to_str: bool = False) -> None:
        self.sheet = sheet
        self.first = first
        self.last = last
        self.ndim = ndim
        self.err_to_str = err_to_str

    def options(self, ndim: int | None = None, err_to_str: bool = False, **_ignored: Any) -> FakeRange:
        return FakeRange(self.sheet, self.first, self.last, ndim, err_to_str)

    @property
    def row(self) -> int:
        self.sheet.book.app.tick("get")
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

    def _read(self, row: int, column: int) -> Any:
        """`_xlwindows._clean_value_data_element`: "" reads as None, error codes as None or their text."""
        value = self.sheet.peek(row, column)
        if value == "":
            return None
        if isinstance(value, ExcelError):
            return value.text if self.err_to_str else None
        return value

    @property
    def value(self) -> Any:
        self.sheet.book.app.tick("get")
        rows, cols = self.shape
        grid = [[self._read(self.first[0] + r, self.first[1] + col) for col in range(cols)] for r in range(rows)]
        if self.ndim == 2:
            return grid
        if rows == 1 and cols == 1:
            return grid[0][0]
        if rows == 1 or cols == 1:
            return [v for row in grid for v in row]
        return grid

    @value.setter
    def value(self, data: Any) -> None:
        app = self.sheet.book.app
        app.tick("set")
        if not isinstance(data, (list, tuple)):
            data = [[data]]
        elif data and not isinstance(data[0], (list, tuple)):
            data = [list(data)]
        parsed = [[excel_input(item, app.locale) if isinstance(item, str) else (item, None) for item in row]
                  for row in data]  # the whole block is refused (error 1004) before any cell changes
        for r, row in enumerate(parsed):
            for col, (value, formula) in enumerate(row):
                cell = self.sheet.cells.setdefault((self.first[0] + r, self.first[1] + col), Cell())
                cell.value, cell.formula = value, formula
        app.changed()

    @property
    def formula(self) -> Any:
        self.sheet.book.app.tick("get")

        def one(cell: Cell) -> str:
            if cell.formula:
                return cell.formula
            if isinstance(cell.value, ExcelError):
                return cell.value.text
            return "" if cell.value is None else str(cell.value)

        rows, cols = self.shape
        grid = tuple(tuple(one(self.sheet.peek_cell(self.first[0] + r, self.first[1] + col)) for col in range(cols))
                     for r in range(rows))
        return grid[0][0] if rows == 1 and cols == 1 else grid

    @property
    def number_format(self) -> str | None:
        self.sheet.book.app.tick("get")
        formats = {cell.number_format for cell in self._cells()}
        return formats.pop() if len(formats) == 1 else None

    @number_format.setter
    def number_format(self, value: str) -> None:
        self.sheet.book.app.tick("set")
        for cell in self._cells(create=True):
            cell.number_format = value
        self.sheet.book.app.repainted()

    @property
    def color(self) -> Any:
        self.sheet.book.app.tick("get")
        return self.sheet.peek_cell(*self.first).color

    @color.setter
    def color(self, value: Any) -> None:
        self.sheet.book.app.tick("set")
        for cell in self._cells(create=True):
            cell.color = value
        self.sheet.book.app.repainted()

    @property
    def font(self) -> FakeFont:
        return FakeFont(self)


class FakeApps:
    """`xw.apps`: iterating hands out a COM reference to each running Excel."""

    def __init__(self, *apps: FakeApp) -> None:
        self.items = list(apps)

    def __iter__(self):
        return iter([app.handed_out(_AppHandle(app)) for app in self.items])


def workbook_from_openpyxl(wb, fullname: str, app: FakeApp | None = None) -> FakeBook:
    """A fake open book with the content of an openpyxl workbook (values and number formats)."""
    app = app or FakeApp()
    book = FakeBook(app, fullname)
    for ws in wb.worksheets:
        sheet = book.add_sheet(ws.title)
        sheet._visible = {"visible": XL_SHEET_VISIBLE, "hidden": XL_SHEET_HIDDEN}.get(ws.sheet_state,
                                                                                     XL_SHEET_VERY_HIDDEN)
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None or cell.value == "":
                    if cell.has_style and cell.number_format != "General":
                        sheet.put(cell.row, cell.column, None, cell.number_format)  # a formatted empty cell
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
