"""Shared look of the sheets pecmass writes (headers, result columns, label/value sheets)."""

from __future__ import annotations

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

FONT_NAME = "Calibri"  # named, so LibreOffice and Excel for Mac do not fall back to a serif face
HEADER_FONT = Font(name=FONT_NAME, bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
RESULT_HEADER_FILL = PatternFill("solid", fgColor="595959")
RESULT_CELL_FILL = PatternFill("solid", fgColor="F2F2F2")
RESULT_FONT = Font(name=FONT_NAME, italic=True, color="404040")
RESULT_BORDER = Border(left=Side(style="thin", color="808080"))
LABEL_FONT = Font(name=FONT_NAME, bold=True)
HELP_FONT = Font(name=FONT_NAME, italic=True, color="595959")
TITLE_FONT = Font(name=FONT_NAME, bold=True, size=14, color="1F4E79")
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
DATE_TIME_FORMAT = "dd/mm/yyyy hh:mm:ss"

# Conditional colours for `Stato invio` (also used by the .xlsm template).
STATUS_COLOURS = {
    "Consegnato": "C6EFCE",
    "Accettato (non PEC)": "DDEBF7",
    "Accettato": "E2EFDA",
    "Inviato": "FFF2CC",
    "In invio": "FFF2CC",
    "Ritardo": "FCE4D6",
    "Incerto": "F8CBAD",
    "Mancata consegna": "FFC7CE",
    "Non accettato": "FFC7CE",
    "Rifiutato": "FFC7CE",
    "Dati non validi": "FFC7CE",
}
