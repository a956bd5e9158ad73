"""How the sheets read on screen and print on paper (issue 14.8): page setup, widths, alignment,
the colour rules of `Stato invio`, bold frozen headers.

Formats go on columns and ranges, never cell by cell down to the last row: a workbook formatted to
row 1,048,576 is what makes openpyxl need a gigabyte. Cells pecmass writes anyway (results, imported
values) carry their alignment; the column's style covers the rows typed later.
"""

from __future__ import annotations

import copy
import datetime as dt

from openpyxl.formatting.formatting import ConditionalFormattingList
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from pecmass_xl.core.vocabulary import STATUS_COLOURS
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import styles

MAX_WIDTH = 45  # characters: wider columns are cut on screen, the text wraps or shows in the cell
LONG_WIDTH = 60  # addresses and attachment paths: cut off, they would be misread
DETAIL_WIDTH = 60  # `Dettaglio` wraps within this width
MIN_WIDTH = 8
DATE_WIDTH = 20  # "31/12/2026 23:59:59" with a margin: never runs into the next column
SAMPLE_ROWS = 2000  # rows measured for the widths (enough for the look, bounded for 100k-row lists)
LAST_ROW = 1_048_576
DATE_ALIGNMENT = Alignment(horizontal="center", vertical="top")
NUMBER_ALIGNMENT = Alignment(horizontal="right", vertical="top")
DETAIL_ALIGNMENT = Alignment(wrap_text=True, vertical="top")
TEXT_ALIGNMENT = Alignment(vertical="top")


def print_setup(ws, title_rows: str | None = None, one_page: bool = False) -> None:
    """A4 landscape, one page wide (and one page tall with `one_page`), header rows on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddFooter.center.text = "&A — pagina &P di &N"


def _shown_length(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.datetime):
        return 19 if (value.hour, value.minute, value.second) != (0, 0, 0) else 10
    if isinstance(value, dt.date):
        return 10
    text = str(value)
    if text.startswith("=HYPERLINK("):
        return 8  # shows "Apri"-like short labels
    return max((len(line) for line in text.splitlines()), default=0)


def _widths(ws, columns: list[int]) -> tuple[dict[int, int], set[int]]:
    """The longest shown text per column over the header and the first `SAMPLE_ROWS` rows, and the
    columns holding addresses or paths (they get the larger cap)."""
    found = {col: 0 for col in columns}
    long_text: set[int] = set()
    last = min(ws.max_row, SAMPLE_ROWS + 1)
    if not columns:
        return found, long_text
    for row in ws.iter_rows(min_row=1, max_row=last, min_col=min(columns), max_col=max(columns)):
        for cell in row:
            if cell.column in found:
                found[cell.column] = max(found[cell.column], _shown_length(cell.value))
                if cell.row > 1 and isinstance(cell.value, str) and ("@" in cell.value or "/" in cell.value):
                    long_text.add(cell.column)
    return found, long_text


def _header_positions(ws) -> dict[str, int]:
    positions: dict[str, int] = {}
    for cell in ws[1]:
        if cell.value not in (None, ""):
            positions.setdefault(str(cell.value).strip(), cell.column)
    return positions


def _column_style(ws, column: int, alignment: Alignment, number_format: str | None = None) -> None:
    dimension = ws.column_dimensions[get_column_letter(column)]
    dimension.alignment = copy.copy(alignment)
    if number_format:
        dimension.number_format = number_format


def status_colour_rules(ws, status_column: int) -> None:
    """One set of colour rules over the whole `Stato invio` column (earlier copies removed)."""
    letter = get_column_letter(status_column)
    target = f"{letter}2:{letter}{LAST_ROW}"
    kept = ConditionalFormattingList()
    for formatting in ws.conditional_formatting:
        ranges = str(formatting.sqref).split()
        if any(r.split(":")[0].rstrip("0123456789") == letter for r in ranges):
            continue  # an older copy of our rules (row 1,000 limit, or written twice)
        for rule in formatting.rules:
            kept.add(str(formatting.sqref), rule)
    ws.conditional_formatting = kept
    for status, colour in STATUS_COLOURS.items():
        ws.conditional_formatting.add(
            target, CellIsRule(operator="equal", formula=[f'"{status}"'], fill=styles.status_fill(colour)))


def format_list_sheet(ws, fit_user_columns: bool = True) -> None:
    """Destinatari: bold frozen headers, widths fitted (capped), dates centred, `Dettaglio` wrapped,
    the status colours over the whole column, and the page set up for printing."""
    positions = _header_positions(ws)
    result = {name: positions[name] for name in c.RESULT_COLUMNS if name in positions}
    user = [col for name, col in positions.items() if name not in c.RESULT_COLUMNS]
    for col in user:
        header = ws.cell(1, col)
        if not header.font or not header.font.b:
            font = copy.copy(header.font)
            font.b = True
            header.font = font
    if ws.freeze_panes in (None, "A1"):
        ws.freeze_panes = "A2"
    measured, long_text = _widths(ws, user + list(result.values()) if fit_user_columns else list(result.values()))
    for col in user if fit_user_columns else []:
        dimension = ws.column_dimensions[get_column_letter(col)]
        wanted = max(MIN_WIDTH, min(measured[col] + 2, LONG_WIDTH if col in long_text else MAX_WIDTH))
        if dimension.width is None or dimension.width < wanted:  # never shrink what the user widened
            dimension.width = wanted
    for name, col in result.items():
        dimension = ws.column_dimensions[get_column_letter(col)]
        if name in c.DATE_RESULT_COLUMNS:
            dimension.width = DATE_WIDTH
            _column_style(ws, col, DATE_ALIGNMENT, styles.DATE_TIME_FORMAT)
        elif name == c.COL_DETAIL:
            dimension.width = max(20, min(measured[col] + 2, DETAIL_WIDTH))
            _column_style(ws, col, DETAIL_ALIGNMENT)
        else:
            dimension.width = max(MIN_WIDTH + 4, min(measured[col] + 2, MAX_WIDTH))
            _column_style(ws, col, TEXT_ALIGNMENT)
    if c.COL_STATUS in result:
        status_colour_rules(ws, result[c.COL_STATUS])
    print_setup(ws, title_rows="1:1")


def alignment_for_result(column: str) -> Alignment:
    """The alignment of a result cell pecmass writes (the same as its column's style)."""
    if column in c.DATE_RESULT_COLUMNS:
        return DATE_ALIGNMENT
    if column == c.COL_DETAIL:
        return DETAIL_ALIGNMENT
    return TEXT_ALIGNMENT


def format_label_sheet(ws) -> None:
    """Messaggio, Impostazioni: landscape, one page wide, the Parametro/Valore header repeated."""
    print_setup(ws, title_rows="3:3")
