"""The `Riepilogo` sheet: owned by pecmass and regenerated at every write (DESIGN §3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from openpyxl.chart import BarChart, Reference

from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import styles


@dataclass
class Summary:
    counts: dict[str, int]
    campaign_id: str = ""
    usage: list[tuple[str, int, int]] = field(default_factory=list)  # (AAAA-MM, mass sends, messages)
    test_sends: list[tuple[str, str, str]] = field(default_factory=list)  # (id, to, status)
    last_sync: dt.datetime | None = None
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))


def _local(moment: dt.datetime) -> dt.datetime:
    """Aware times as Italian local time, the naive form Excel cells hold."""
    if moment.tzinfo is None:
        return moment
    from zoneinfo import ZoneInfo
    return moment.astimezone(ZoneInfo("Europe/Rome")).replace(tzinfo=None)


def write_summary(wb, summary: Summary) -> None:
    if c.SHEET_SUMMARY in wb.sheetnames:
        index = wb.sheetnames.index(c.SHEET_SUMMARY)
        wb.remove(wb[c.SHEET_SUMMARY])
        ws = wb.create_sheet(c.SHEET_SUMMARY, index)
    else:
        ws = wb.create_sheet(c.SHEET_SUMMARY)
    ws["A1"] = "Riepilogo della campagna"
    ws["A1"].font = styles.TITLE_FONT
    ws["A2"] = f"Aggiornato il {summary.generated_at:%d/%m/%Y %H:%M} da pecmass (foglio rigenerato a ogni scrittura)."
    ws["A2"].font = styles.HELP_FONT
    ws["A3"] = "Campagna"
    ws["B3"] = summary.campaign_id or "—"
    ws["A4"] = "Ultimo aggiornamento ricevute"
    ws["B4"] = _local(summary.last_sync) if summary.last_sync else "mai"
    if summary.last_sync:
        ws["B4"].number_format = styles.DATE_TIME_FORMAT
    ws["A6"], ws["B6"] = "Stato invio", "Righe"
    for cell in ws[6][:2]:
        cell.font = styles.HEADER_FONT
        cell.fill = styles.HEADER_FILL
    row = 7
    for status in c.ALL_STATES:
        ws.cell(row, 1, status)
        ws.cell(row, 2, summary.counts.get(status, 0))
        row += 1
    ws.cell(row, 1, "Totale").font = styles.LABEL_FONT
    ws.cell(row, 2, sum(summary.counts.get(s, 0) for s in c.ALL_STATES)).font = styles.LABEL_FONT
    last_status_row = row - 1

    chart = BarChart()
    chart.type = "bar"
    chart.title = "Righe per stato"
    chart.legend = None
    chart.add_data(Reference(ws, min_col=2, min_row=6, max_row=last_status_row), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=7, max_row=last_status_row))
    chart.height, chart.width = 8, 14
    ws.add_chart(chart, "E6")

    row += 2
    ws.cell(row, 1, "Utilizzo della casella (contatore)").font = styles.LABEL_FONT
    row += 1
    for col, title in enumerate(("Mese", "Invii massivi", "Messaggi inviati"), start=1):
        cell = ws.cell(row, col, title)
        cell.font = styles.HEADER_FONT
        cell.fill = styles.HEADER_FILL
    for month, campaigns, messages in summary.usage or [("—", 0, 0)]:
        row += 1
        ws.cell(row, 1, month)
        ws.cell(row, 2, campaigns)
        ws.cell(row, 3, messages)
    if summary.test_sends:
        row += 2
        ws.cell(row, 1, "Invii di prova").font = styles.LABEL_FONT
        for test_id, to, status in summary.test_sends:
            row += 1
            ws.cell(row, 1, test_id)
            ws.cell(row, 2, to)
            ws.cell(row, 3, status)
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 22
    ws.column_dimensions["C"].width = 18
