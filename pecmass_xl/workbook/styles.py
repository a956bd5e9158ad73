"""Shared look of the sheets pecmass writes (headers, result columns, label/value sheets).

The colours are named once (RGB hex) for both writers: openpyxl here, xlwings in `excel.live_workbook`
(through `rgb`). The status colours of `Stato invio` are vocabulary: `core.vocabulary.STATUS_COLOURS`.
"""

from __future__ import annotations

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from pecmass_xl.workbook import contract as c

FONT_NAME = "Calibri"  # named, so LibreOffice and Excel for Mac do not fall back to a serif face
TITLE_COLOUR = "1F4E79"          # titles and the fill of the user's headers
HEADER_TEXT_COLOUR = "FFFFFF"
RESULT_HEADER_COLOUR = "595959"  # fill of the result columns' headers
RESULT_TEXT_COLOUR = "404040"
HELP_TEXT_COLOUR = "595959"

HEADER_FONT = Font(name=FONT_NAME, bold=True, color=HEADER_TEXT_COLOUR)
HEADER_FILL = PatternFill("solid", fgColor=TITLE_COLOUR)
RESULT_HEADER_FILL = PatternFill("solid", fgColor=RESULT_HEADER_COLOUR)
RESULT_CELL_FILL = PatternFill("solid", fgColor="F2F2F2")
RESULT_FONT = Font(name=FONT_NAME, italic=True, color=RESULT_TEXT_COLOUR)
RESULT_BORDER = Border(left=Side(style="thin", color="808080"))
LABEL_FONT = Font(name=FONT_NAME, bold=True)
HELP_FONT = Font(name=FONT_NAME, italic=True, color=HELP_TEXT_COLOUR)
TITLE_FONT = Font(name=FONT_NAME, bold=True, size=14, color=TITLE_COLOUR)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
DATE_TIME_FORMAT = "dd/mm/yyyy hh:mm:ss"


def rgb(colour: str) -> tuple[int, int, int]:
    """`"1F4E79"` -> `(0x1F, 0x4E, 0x79)`: the form xlwings takes."""
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def style_result_columns(ws, first_result_col: int, last_row: int = 0) -> None:
    """Result columns: dark header, grey italic cells, a separating border; then the sheet's layout."""
    for offset, name in enumerate(c.RESULT_COLUMNS):
        col = first_result_col + offset
        header = ws.cell(1, col)
        header.fill = RESULT_HEADER_FILL
        header.font = HEADER_FONT
        if offset == 0:
            header.border = RESULT_BORDER
        ws.column_dimensions[get_column_letter(col)].width = 22 if name != c.COL_DETAIL else 40
    from pecmass_xl.workbook.layout import format_list_sheet  # layout uses these styles: imported here

    format_list_sheet(ws)  # widths, alignment, one set of colour rules over the whole column, printing


def status_fill(colour: str) -> PatternFill:
    """The fill of a conditional format: Excel paints a differential (dxf) solid fill from `bgColor`,
    openpyxl's cell fills from `fgColor`; setting both shows the colour in Excel and LibreOffice."""
    return PatternFill("solid", fgColor=colour, bgColor=colour)
