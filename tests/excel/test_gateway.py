"""One test suite for the workbook gateway, run against both implementations (issue 9, part 3):
the file (`FileWorkbook`, openpyxl) and the workbook open in Excel (`ExcelWorkbook`, here on the
fake xlwings) — the way xlwings runs one suite against each engine. Every assertion reads back
through the gateway itself, or the sheet as the user would see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from openpyxl import load_workbook

from pecmass_xl.app.check import check
from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.excel.live_workbook import ExcelWorkbook
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.file_workbook import FileWorkbook
from pecmass_xl.workbook.gateway import WorkbookGateway
from pecmass_xl.workbook.riepilogo import Summary
from pecmass_xl.workbook.write import ResultUpdate

from .fake_xlwings import FakeBook, workbook_from_openpyxl

RECIPIENTS = ["anna@studio.pec.test", "bruno@comune.pec.test", "non-un-indirizzo"]


@dataclass
class Harness:
    book: WorkbookGateway
    sheet_values: Any  # sheet name -> {(row, column): value} of the non-empty cells, as the user sees them


def _contract():
    wb = build_new_workbook("")
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(["PEC", "Nome"] + list(c.RESULT_COLUMNS))
    for n, address in enumerate(RECIPIENTS, start=1):
        ws.append([address, f"Persona {n}"])
    for row in wb[c.SHEET_MESSAGE].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = "Comunicazione per {{ Nome }}"
        if row[0].value == c.MSG_TEXT:
            row[1].value = "Gentile {{ Nome }}, vi scriviamo."
    return wb


def _file(tmp_path) -> Harness:
    path = tmp_path / "campagna.xlsx"
    _contract().save(path)

    def values(name: str) -> dict:
        ws = load_workbook(path)[name]
        return {(cell.row, cell.column): cell.value for row in ws.iter_rows() for cell in row if cell.value is not None}

    return Harness(FileWorkbook(path), values)


def _excel(tmp_path) -> Harness:
    fake: FakeBook = workbook_from_openpyxl(_contract(), str(tmp_path / "campagna.xlsm"))

    def values(name: str) -> dict:
        sheet = fake.sheets[name]
        return {key: cell.value for key, cell in sheet.cells.items() if cell.value not in (None, "")}

    return Harness(ExcelWorkbook(fake, retry_attempts=2, retry_delay=0), values)


@pytest.fixture(params=["file", "excel"])
def gateway(request, tmp_path) -> Harness:
    return {"file": _file, "excel": _excel}[request.param](tmp_path)


def test_both_implement_the_protocol(gateway):
    book = gateway.book
    assert isinstance(book, WorkbookGateway)
    assert book.path.name in ("campagna.xlsx", "campagna.xlsm") and book.name == book.path.name
    assert book.folder == book.path.parent


def test_read_gives_the_list_the_settings_and_no_campaign_yet(gateway):
    sheet = gateway.book.read()
    assert [h.name for h in sheet.parameter_headers] == ["PEC", "Nome"]
    assert [(r.number, r.values["PEC"], r.values["Nome"]) for r in sheet.rows] == [
        (2, RECIPIENTS[0], "Persona 1"), (3, RECIPIENTS[1], "Persona 2"), (4, RECIPIENTS[2], "Persona 3")]
    assert sheet.settings[c.SET_PROVIDER] and sheet.campaign_id == ""
    assert not sheet.missing_sheets


def test_results_are_written_by_row_then_found_again_by_id_invio(gateway):
    book = gateway.book
    book.write(ResultUpdate(new_ids={2: "RID000001"},
                            by_row={3: {c.COL_STATUS: c.ST_TO_SEND}, 4: {c.COL_STATUS: c.ST_INVALID, c.COL_DETAIL: "Indirizzo non valido"}}))
    rows = book.read().rows
    assert [r.id_invio for r in rows] == ["RID000001", "", ""]
    assert [r.results.get(c.COL_STATUS) for r in rows] == [None, c.ST_TO_SEND, c.ST_INVALID]
    assert rows[2].results[c.COL_DETAIL] == "Indirizzo non valido"
    book.write(ResultUpdate(by_id={"RID000001": {c.COL_STATUS: c.ST_DELIVERED, c.COL_OUTCOME: "Consegnata"}}))
    first = book.read().rows[0]
    assert first.results[c.COL_STATUS] == c.ST_DELIVERED and first.results[c.COL_OUTCOME] == "Consegnata"


def test_the_marker_keeps_the_campaign_id(gateway):
    gateway.book.write(campaign_id="CAMPAGNA7")
    assert gateway.book.read().campaign_id == "CAMPAGNA7"


def test_riepilogo_shows_the_counts_and_the_campaign(gateway):
    gateway.book.write(summary=Summary(counts={c.ST_DELIVERED: 2, c.ST_INVALID: 1}, campaign_id="CAMPAGNA7"))
    cells = gateway.sheet_values(c.SHEET_SUMMARY)
    shown = set(cells.values())
    assert "Riepilogo della campagna" in shown and "CAMPAGNA7" in shown
    by_label = {value: cells.get((row, col + 1)) for (row, col), value in cells.items() if isinstance(value, str)}
    assert by_label[c.ST_DELIVERED] == 2 and by_label[c.ST_INVALID] == 1


def test_replace_list_gives_new_headers_text_values_and_the_fields_label(gateway):
    book = gateway.book
    book.replace_list(["PEC", "Cognome", "CAP"], [["carla@studio.pec.test", "Verdi", "00184"]])
    sheet = book.read()
    assert [h.name for h in sheet.headers] == ["PEC", "Cognome", "CAP", *c.RESULT_COLUMNS]
    assert [r.values for r in sheet.rows] == [{"PEC": "carla@studio.pec.test", "Cognome": "Verdi", "CAP": "00184"}]
    assert sheet.message[c.MSG_FIELDS] == "PEC, Cognome, CAP"


def test_the_check_use_case_marks_the_same_rows_on_both(gateway):
    report = check(gateway.book, write=True, confirm_lossy=lambda _losses: True)
    assert [r.ok for r in report.rows] == [True, True, False]
    sheet = gateway.book.read()
    assert [r.results.get(c.COL_STATUS) for r in sheet.rows] == [c.ST_TO_SEND, c.ST_TO_SEND, c.ST_INVALID]
    assert sheet.campaign_id  # a campaign id is given at the first written check
