"""The `Riepilogo` sheet: owned by pecmass and regenerated at every write (DESIGN §3).

`summary_layout` is its one layout (texts, positions, which cells are headers, labels and dates),
written by both writers: `write_summary` here (openpyxl, the file workbook) and
`excel.live_workbook` (xlwings, the workbook open in Excel).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from openpyxl.chart import BarChart, Reference
from openpyxl.chart.marker import DataPoint

from pecmass_xl.core.rome_time import rome_wall_clock
from pecmass_xl.core.vocabulary import STATUS_COLOURS
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import styles
from pecmass_xl.workbook.layout import print_setup

TITLE_CELL = (1, 1)
NOTE_CELL = (2, 1)


@dataclass
class Summary:
    counts: dict[str, int]
    campaign_id: str = ""
    usage: list[tuple[str, int, int]] = field(default_factory=list)  # (AAAA-MM, mass sends, messages)
    test_sends: list[tuple[str, str, str]] = field(default_factory=list)  # (id, to, status)
    last_sync: dt.datetime | None = None
    # Italian time, like every date pecmass writes (the machine may run on UTC).
    generated_at: dt.datetime = field(default_factory=lambda: rome_wall_clock(dt.datetime.now(dt.UTC)).replace(microsecond=0))


NEUTRAL_COLOUR = "BFBFBF"  # states without a colour rule (Da inviare)


def states_in_order(counts: dict[str, int]) -> list[str]:
    """Every state, those with rows first (the chart shows exactly these), each group in the canonical order."""
    return [s for s in c.ALL_STATES if counts.get(s, 0)] + [s for s in c.ALL_STATES if not counts.get(s, 0)]


@dataclass
class SummaryLayout:
    """The sheet as rows of values from A1 (an empty list is an empty row), with where to style."""

    rows: list[list[object]]
    header_rows: list[tuple[int, int]]  # (row, number of columns) to style as headers
    date_cell: tuple[int, int] | None   # (row, column) holding a date-time
    label_cells: list[tuple[int, int]]  # (row, column) in bold
    status_rows: tuple[int, int]        # first and last row of the per-state table
    shown_states: list[str] = field(default_factory=list)  # states with rows: the table's first rows, the chart


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
    rows += [[status, summary.counts.get(status, 0)] for status in states_in_order(summary.counts)]
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
    shown = [s for s in states_in_order(summary.counts) if summary.counts.get(s, 0)]
    return SummaryLayout(rows, headers, (4, 2) if summary.last_sync else None, labels, status_rows, shown)


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
    for row in range(first + len(layout.shown_states), last + 1):
        ws.cell(row, 1).font = ws.cell(row, 2).font = styles.HELP_FONT  # no rows: greyed, not in the chart
    if layout.shown_states:
        ws.add_chart(_status_chart(ws, first, layout.shown_states), f"E{first - 1}")
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 22
    ws.column_dimensions["C"].width = 18
    print_setup(ws, one_page=True)


def _status_chart(ws, first: int, shown: list[str]) -> BarChart:
    """Rows per state: only the states with rows (the table's first rows), top to bottom as in the
    table, each bar in its status colour."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Righe per stato"
    chart.legend = None
    last = first + len(shown) - 1
    chart.add_data(Reference(ws, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    series = chart.series[0]
    for index, status in enumerate(shown):
        point = DataPoint(idx=index)
        point.graphicalProperties.solidFill = STATUS_COLOURS.get(status, NEUTRAL_COLOUR)
        point.graphicalProperties.line.solidFill = "808080"
        series.dPt.append(point)
    chart.x_axis.scaling.orientation = "maxMin"  # a bar chart draws its first category at the bottom
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.y_axis.majorGridlines = None
    chart.y_axis.numFmt = "0"
    chart.height, chart.width = max(4.0, 1.2 + 0.8 * len(shown)), 14
    return chart
