"""The `Riepilogo` sheet: owned by pecmass and regenerated at every write (DESIGN §3).

`summary_layout` is its one layout (texts, positions, which cells are headers, labels and dates),
written by both writers: `write_summary` here (openpyxl, the file workbook) and
`excel.live_workbook` (xlwings, the workbook open in Excel).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from openpyxl.chart import BarChart, Reference

from pecmass_xl.core.rome_time import rome_wall_clock
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import styles

TITLE_CELL = (1, 1)
NOTE_CELL = (2, 1)


@dataclass
class Summary:
    counts: dict[str, int]
    campaign_id: str = ""
    usage: list[tuple[str, int, int]] = field(default_factory=list)  # (AAAA-MM, mass sends, messages)
    test_sends: list[tuple[str, str, str]] = field(default_factory=list)  # (id, to, status)
    last_sync: dt.datetime | None = None
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))


@dataclass
class SummaryLayout:
    """The sheet as rows of values from A1 (an empty list is an empty row), with where to style."""

    rows: list[list[object]]
    header_rows: list[tuple[int, int]]  # (row, number of columns) to style as headers
    date_cell: tuple[int, int] | None   # (row, column) holding a date-time
    label_cells: list[tuple[int, int]]  # (row, column) in bold
    status_rows: tuple[int, int]        # first and last row of the per-state table (the chart's data)


def summary_layout(summary: Summary) -> SummaryLayout:
    """What `Riepilogo` shows for `summary`: every state with its count, usage, test sends."""
    rows: list[list[object]] = [
        ["Riepilogo della campagna"],
        [f"Aggiornato il {summary.generated_at:%d/%m/%Y %H:%M} da pecmass (foglio rigenerato a ogni scrittura)."],
        ["Campagna", summary.campaign_id or "—"],
        ["Ultimo aggiornamento ricevute", rome_wall_clock(summary.last_sync) if summary.last_sync else "mai"],
        [],
        [c.COL_STATUS, "Righe"],
    ]
    headers = [(len(rows), 2)]
    first_status = len(rows) + 1
    rows += [[status, summary.counts.get(status, 0)] for status in c.ALL_STATES]
    status_rows = (first_status, len(rows))
    rows.append(["Totale", sum(summary.counts.get(s, 0) for s in c.ALL_STATES)])
    labels = [(len(rows), 1), (len(rows), 2)]
    rows += [[], ["Utilizzo della casella (contatore)"]]
    labels.append((len(rows), 1))
    rows.append(["Mese", "Invii massivi", "Messaggi inviati"])
    headers.append((len(rows), 3))
    rows += [[month, campaigns, messages] for month, campaigns, messages in summary.usage or [("—", 0, 0)]]
    if summary.test_sends:
        rows += [[], ["Invii di prova"]]
        labels.append((len(rows), 1))
        rows += [[test_id, to, status] for test_id, to, status in summary.test_sends]
    return SummaryLayout(rows, headers, (4, 2) if summary.last_sync else None, labels, status_rows)


def write_summary(wb, summary: Summary) -> None:
    """`Riepilogo` regenerated in an openpyxl workbook, in its place among the sheets."""
    if c.SHEET_SUMMARY in wb.sheetnames:
        index = wb.sheetnames.index(c.SHEET_SUMMARY)
        wb.remove(wb[c.SHEET_SUMMARY])
        ws = wb.create_sheet(c.SHEET_SUMMARY, index)
    else:
        ws = wb.create_sheet(c.SHEET_SUMMARY)
    layout = summary_layout(summary)
    for row, values in enumerate(layout.rows, start=1):
        for column, value in enumerate(values, start=1):
            if value is not None:
                ws.cell(row, column, value)
    ws.cell(*TITLE_CELL).font = styles.TITLE_FONT
    ws.cell(*NOTE_CELL).font = styles.HELP_FONT
    if layout.date_cell:
        ws.cell(*layout.date_cell).number_format = styles.DATE_TIME_FORMAT
    for row, columns in layout.header_rows:
        for column in range(1, columns + 1):
            ws.cell(row, column).font = styles.HEADER_FONT
            ws.cell(row, column).fill = styles.HEADER_FILL
    for row, column in layout.label_cells:
        ws.cell(row, column).font = styles.LABEL_FONT

    first, last = layout.status_rows
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Righe per stato"
    chart.legend = None
    chart.add_data(Reference(ws, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.height, chart.width = 8, 14
    ws.add_chart(chart, f"E{first - 1}")
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 22
    ws.column_dimensions["C"].width = 18
