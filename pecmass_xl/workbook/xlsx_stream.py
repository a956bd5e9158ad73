"""A streaming reader of .xlsx/.xlsm packages: what pecmass reads, fast, and nothing more.

openpyxl's read-only mode builds a Python object per cell, parses shared strings and sheets with
a pure-Python parser (defusedxml installed) and scans a whole sheet when it has no `<dimension>`:
about 4 s per 10,000 rows of ten columns on a modest machine. Reading a list needs much less: for
each cell its value as Excel stored it, its number format, and whether it is a formula without a
cached value. This module gets exactly that from the package parts with the C XML parser (`XMLPullParser`, fed a chunk at a time) and converts
values the way openpyxl's data-only mode does (shared strings, booleans, numbers, dates from
date-formatted numbers, ISO dates). Regular expressions over the rows were tried: no faster, since
the time goes into turning cells into values, not into parsing.

The parts are the user's own workbook, not mail from outside; still, a workbook may come from
anyone. A part that declares a DTD (no xlsx writer does) is refused wherever the declaration sits
(every chunk is looked at, in UTF-8 and UTF-16), so entity tricks never reach the parser, and each
XML part has a cap on its uncompressed size, read from the zip directory before anything is
inflated. There is no compression-ratio cap: a sheet formatted down to row 1,048,576 compresses
more than a thousand times and is a normal workbook.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError, XMLPullParser, fromstring

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.cell import get_column_letter as column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
SHARED_STRINGS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
STYLES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"

_C, _V, _F, _IS, _T, _R, _ROW, _SI = (MAIN + tag for tag in ("c", "v", "f", "is", "t", "r", "row", "si"))
_CHUNK = 1 << 16
_SCAN_CHUNK = 1 << 20
_DIGITS = "0123456789"
_COLUMNS = {column_letter(i): i for i in range(1, 703)}  # A..ZZ: the common columns without a parse


class XlsxError(ValueError):
    """The file is not a workbook this reader understands (the message is for developers)."""


class XlsxRefused(XlsxError):
    """A workbook refused on purpose (DTD, oversized part); the message is Italian, for the user."""


MiB = 1 << 20
MAX_SHEET_PART = 1024 * MiB  # a sheet part, streamed; formatted down to the last row it is a few hundred MiB
MAX_SHARED_STRINGS_PART = 512 * MiB  # streamed, but every string is kept
MAX_OTHER_PART = 64 * MiB  # workbook, styles, relationships…: parsed whole
MAX_BINARY_PART = 256 * MiB  # pictures, macros: never parsed here, but loaded whole by a rewrite
# What a sheet may hold, whatever its size on disk: Excel's own grid, and the cells with a value (or
# a formula) that the reader keeps, about 300 bytes each, so that reading stays within 1 GiB.
MAX_ROW = 1_048_576
MAX_COLUMN = 16_384
MAX_SHEET_CELLS = 3_000_000
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_DTD_MARKERS = tuple(
    marker.encode(encoding) for marker in ("<!DOCTYPE", "<!ENTITY") for encoding in ("utf-8", "utf-16-le", "utf-16-be")
)
_DTD_OVERLAP = max(len(m) for m in _DTD_MARKERS)


def _dtd_refused(part: str) -> XlsxRefused:
    return XlsxRefused(f"la parte {part} del file contiene una dichiarazione DTD (<!DOCTYPE o <!ENTITY>), che nessun "
                       "programma per fogli di calcolo scrive: il file è stato manipolato, non viene aperto")


def part_cap(name: str) -> int:
    if not name.lower().endswith(_XML_SUFFIXES):
        return MAX_BINARY_PART
    if name.startswith("xl/worksheets/"):
        return MAX_SHEET_PART
    if name.endswith("sharedStrings.xml"):
        return MAX_SHARED_STRINGS_PART
    return MAX_OTHER_PART


def check_part_sizes(archive: zipfile.ZipFile) -> None:
    """Refuse a workbook whose parts would inflate beyond their caps (zip bombs)."""
    for info in archive.infolist():
        if info.file_size > part_cap(info.filename):
            raise XlsxRefused(
                f"la parte {info.filename} del file occupa {info.file_size // MiB} MiB una volta decompressa, oltre il "
                f"limite di {part_cap(info.filename) // MiB} MiB: il file non viene aperto. Se il foglio è davvero così "
                "grande, dividete l'elenco in più cartelle di lavoro o togliete la formattazione delle righe vuote"
            )


def _too_many_cells(part: str, kept: int, column: int, row: int) -> XlsxRefused:
    if column > MAX_COLUMN or row > MAX_ROW:
        return XlsxRefused(f"la parte {part} ha una cella in riga {row}, colonna {column}: oltre la griglia di Excel "
                           f"({MAX_ROW} righe, {MAX_COLUMN} colonne); il file è stato manipolato, non viene aperto")
    return XlsxRefused(f"il foglio della parte {part} ha più di {MAX_SHEET_CELLS:,} celle compilate: per leggerlo servirebbe "
                       "più di 1 GB di memoria. Dividete l'elenco in più cartelle di lavoro".replace(",", "."))


class DtdGuard:
    """Fed every chunk of a part in order; raises as soon as a DTD marker appears, even across chunks."""

    def __init__(self, part: str):
        self.part = part
        self.tail = b""

    def feed(self, chunk: bytes) -> None:
        window = self.tail + chunk
        if any(marker in window for marker in _DTD_MARKERS):
            raise _dtd_refused(self.part)
        self.tail = window[-_DTD_OVERLAP:]


@dataclass
class SheetInfo:
    name: str
    part: str  # zip member, e.g. xl/worksheets/sheet1.xml
    state: str = "visible"


# A cell that holds a value: (column, value, number format). Columns are 1-based.
CellValue = tuple[int, object, str]


@dataclass
class SheetRows:
    """Rows of one sheet, streamed as (row number, [CellValue]); cells without a value are left
    out, and after the iteration `formulas_without_value` holds the (row, column) of formulas whose
    cached value is missing (a file saved without recalculation)."""

    package: XlsxPackage
    part: str
    max_row: int | None = None
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)

    def __iter__(self) -> Iterator[tuple[int, list[CellValue]]]:
        return self.package._stream_rows(self)


@dataclass
class SheetScan:
    """What a byte scan of a sheet part tells before parsing it."""

    merges: list[str] = field(default_factory=list)  # merged ranges that start in row 1, e.g. "B1:C1"
    last_value_row: int | None = None  # last row with a value or formula; None: unknown


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+1:[A-Z]+[0-9]+)"')  # only the header row's matter
# A cell with a value, inline text or a formula (`<formula>` of validations does not match).
_VALUE_MARKERS = (b"<v>", b"<v ", b"<is>", b"<is ", b"<f>", b"<f ")
_ROW_TAG = b"<row "
_ROW_NUMBER = re.compile(rb'<row [^>]*?\br="(\d+)"')
# Markup the exact byte markers above would miss: the last row stays unknown, every row is read.
_UNUSUAL_MARKUP = re.compile(rb"<(?:v|is|f|row|c)[\t\r\n]|<row>|<\w+:(?:worksheet|row|c|v|is|t|f|si)[\s>/]")


def _row_number_before(window: bytes, position: int, current: int | None) -> int | None:
    """Number of the row whose tag precedes `position` (`current` when it opened in an earlier chunk)."""
    start = window.rfind(_ROW_TAG, 0, position)
    if start < 0:
        return current
    match = _ROW_NUMBER.match(window, start)
    return int(match.group(1)) if match else None


def scan_sheet_xml(archive: zipfile.ZipFile, member: str) -> SheetScan:
    """Merged ranges and the last row with a value, from a chunked byte scan of a sheet part.

    Markup cannot occur inside cell text (`<` is escaped there), so finding `<v>` or `<row ` is
    exact; the last `<row ` before the last value marker of a chunk opens that value's row.
    """
    scan = SheetScan()
    tail = b""
    current_row: int | None = None  # row open at the end of the previous window
    last_row = 0
    row_numbers_known = True
    guard = DtdGuard(member)
    with archive.open(member) as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            guard.feed(chunk)
            window = tail + chunk
            if row_numbers_known and _UNUSUAL_MARKUP.search(window):
                row_numbers_known = False
            for match in _MERGE.finditer(window):
                ref = match.group(1).decode()
                if ref not in scan.merges and len(scan.merges) < MAX_COLUMN:
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


def _target(base_part: str, target: str) -> str:
    """A relationship target as a zip member name."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_part), target))


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _refuse_dtd(data: bytes, part: str) -> None:
    DtdGuard(part).feed(data)


def _cast_number(text: str) -> int | float:
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


class XlsxPackage:
    """An open workbook package: sheet names, shared strings and number formats, rows on demand."""

    def __init__(self, path):
        try:
            self.archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise XlsxError(str(exc)) from exc
        try:
            check_part_sizes(self.archive)
            self._load_workbook()
            self._check_small_parts()
        except BaseException:
            self.archive.close()
            raise

    # ---------------------------------------------------------------------------- package parts
    def _xml(self, part: str):
        try:
            data = self.archive.read(part)
        except KeyError as exc:
            raise XlsxError(f"missing part {part}") from exc
        _refuse_dtd(data, part)
        try:
            return fromstring(data)
        except ParseError as exc:
            raise XlsxError(f"{part}: {exc}") from exc

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """rId -> (type, zip member) for the relationships of `part`."""
        rels_part = _rels_part(part)
        if rels_part not in self.archive.namelist():
            return {}
        found = {}
        for rel in self._xml(rels_part).iter(PACKAGE_REL + "Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            found[rel.get("Id")] = (rel.get("Type"), _target(part, rel.get("Target", "")))
        return found

    def _load_workbook(self) -> None:
        root_rels = {kind: target for kind, target in self._relationships("").values()}
        self.workbook_part = root_rels.get(OFFICE_DOCUMENT, "xl/workbook.xml")
        workbook = self._xml(self.workbook_part)
        rels = self._relationships(self.workbook_part)
        properties = workbook.find(MAIN + "workbookPr")
        date1904 = properties is not None and properties.get("date1904") in ("1", "true")
        self.epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
        self.sheets: dict[str, SheetInfo] = {}
        for sheet in workbook.iter(MAIN + "sheet"):
            kind, part = rels.get(sheet.get(REL + "id"), (None, None))
            if part is None or not kind or not kind.endswith("/worksheet"):
                continue  # chart sheets and dialogs hold no cells
            self.sheets[sheet.get("name")] = SheetInfo(sheet.get("name"), part, sheet.get("state") or "visible")
        by_type = {kind: part for kind, part in rels.values()}
        self._strings_part = by_type.get(SHARED_STRINGS)
        self._shared_strings: list[str] | None = None
        self._load_styles(by_type.get(STYLES))

    def _load_styles(self, part: str | None) -> None:
        """Number format and date-ness of every cell style index (cellXfs)."""
        self.style_formats: list[str] = ["General"]
        self.date_styles: set[int] = set()
        self.timedelta_styles: set[int] = set()
        if not part or part not in self.archive.namelist():
            return
        styles = self._xml(part)
        custom = {}
        num_fmts = styles.find(MAIN + "numFmts")
        if num_fmts is not None:
            for fmt in num_fmts.iter(MAIN + "numFmt"):
                custom[int(fmt.get("numFmtId", "0"))] = fmt.get("formatCode", "General")
        xfs = styles.find(MAIN + "cellXfs")
        if xfs is None:
            return
        self.style_formats = []
        for index, xf in enumerate(xfs.iter(MAIN + "xf")):
            fmt_id = int(xf.get("numFmtId", "0") or 0)
            code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id, "General")
            self.style_formats.append(code)
            if is_date_format(code):
                self.date_styles.add(index)
            if is_timedelta_format(code):
                self.timedelta_styles.add(index)

    def _check_small_parts(self) -> None:
        """A DTD in any other XML part (drawings, properties, custom XML…) refuses the whole file.

        Worksheets are checked chunk by chunk when they are scanned or read (they may be large).
        """
        sheets = {info.part for info in self.sheets.values()}
        for info in self.archive.infolist():
            if info.filename.lower().endswith(_XML_SUFFIXES) and info.filename not in sheets:
                guard = DtdGuard(info.filename)
                with self.archive.open(info) as stream:
                    while chunk := stream.read(_SCAN_CHUNK):
                        guard.feed(chunk)

    @property
    def sheetnames(self) -> list[str]:
        return list(self.sheets)

    @property
    def shared_strings(self) -> list[str]:
        if self._shared_strings is None:
            self._shared_strings = self._read_shared_strings()
        return self._shared_strings

    def _read_shared_strings(self) -> list[str]:
        strings: list[str] = []
        if not self._strings_part or self._strings_part not in self.archive.namelist():
            return strings
        for element in self._iter_elements(self._strings_part):
            if element.tag == _SI:
                strings.append(_text_of(element))
                element.clear()
        return strings

    def _iter_elements(self, part: str):
        """`end` events of a part, parsed chunk by chunk (never the whole part in memory)."""
        parser = XMLPullParser(events=("end",))
        guard = DtdGuard(part)
        try:
            with self.archive.open(part) as stream:
                while chunk := stream.read(_CHUNK):
                    guard.feed(chunk)  # before the parser sees the chunk
                    parser.feed(chunk)
                    for _event, element in parser.read_events():
                        yield element
            parser.close()
            for _event, element in parser.read_events():
                yield element
        except ParseError as exc:
            raise XlsxError(f"{part}: {exc}") from exc

    # ----------------------------------------------------------------------------------- sheets
    def scan(self, name: str) -> SheetScan:
        return scan_sheet_xml(self.archive, self.sheets[name].part)

    def rows(self, name: str, max_row: int | None = None) -> SheetRows:
        """Rows of sheet `name` with their non-empty cells, up to `max_row` (None: every row)."""
        return SheetRows(self, self.sheets[name].part, max_row)

    def _value(self, kind: str, style: int, text: str):
        """A cell's stored text as openpyxl's data-only mode gives it."""
        if kind == "n":
            value = _cast_number(text)
            if style in self.date_styles:
                try:
                    return from_excel(value, self.epoch, timedelta=style in self.timedelta_styles)
                except (OverflowError, ValueError):
                    return "#VALUE!"
            return value
        if kind == "s":
            return self.shared_strings[int(text)]
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "d":
            return from_ISO8601(text)
        return text  # str (a formula's text), e (an error such as #N/A)

    def _stream_rows(self, request: SheetRows) -> Iterator[tuple[int, list[CellValue]]]:
        column_of = _COLUMNS.get
        formats = self.style_formats
        strings = self.shared_strings
        date_styles = self.date_styles
        max_row = request.max_row
        kept = 0  # cells with a value or a formula: what this reading holds in memory
        row_number = 0
        cell_row = 1
        cells: list[CellValue] = []
        column = 0
        for element in self._iter_elements(request.part):
            tag = element.tag
            if tag == _C:
                if not len(element):  # an empty (perhaps formatted) cell: nothing to read
                    if element.get("r") is None:
                        column += 1
                    continue
                ref = element.get("r")
                if ref:
                    letters = ref.rstrip(_DIGITS)
                    column = column_of(letters) or column_index_from_string(letters)
                    cell_row = int(ref[len(letters):])
                else:  # no reference: the next cell of the row being read
                    column += 1
                    cell_row = row_number + 1
                kind = element.get("t", "n")
                style = int(element.get("s", "0") or 0)
                value_text = None
                formula = False
                inline = None
                for child in element:
                    child_tag = child.tag
                    if child_tag == _V:
                        value_text = child.text
                    elif child_tag == _F:
                        formula = True
                    elif child_tag == _IS:
                        inline = child
                number_format = formats[style] if style < len(formats) else "General"
                value = None
                if kind == "inlineStr":
                    value = _text_of(inline) if inline is not None else None
                elif value_text:
                    if kind == "s":
                        value = strings[int(value_text)]
                    elif kind == "n" and style not in date_styles:
                        value = _cast_number(value_text)
                    else:
                        value = self._value(kind, style, value_text)
                if value is not None:
                    cells.append((column, value, number_format))
                elif formula:
                    request.formulas_without_value.add((cell_row, column))
                kept += 1
                if kept > MAX_SHEET_CELLS or column > MAX_COLUMN or cell_row > MAX_ROW:
                    raise _too_many_cells(request.part, kept, column, cell_row)
            elif tag == _ROW:
                number = element.get("r")
                if number:
                    row_number = int(number)
                else:  # no number: the row of its cells' references, else the next row
                    row_number = cell_row if cells else row_number + 1
                if max_row is not None and row_number > max_row:
                    return
                if cells:
                    yield row_number, cells
                    cells = []
                column = 0
                element.clear()
            # other elements (merges, formats, extensions) are not needed here


def _text_of(element) -> str:
    """The plain text of a shared or inline string: its `t`, or the `t` of its runs (not phonetics)."""
    if len(element) == 1 and element[0].tag == _T:  # the common case: one plain `t`
        return element[0].text or ""
    parts = []
    for child in element:
        if child.tag == _T:
            parts.append(child.text or "")
        elif child.tag == _R:
            for run_child in child:
                if run_child.tag == _T:
                    parts.append(run_child.text or "")
    return "".join(parts)
