"""The xlwings adapter against a fake Excel that counts calls and applies Excel's input rules."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from openpyxl.utils import get_column_letter

from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.excel.live_workbook import ExcelWorkbook, call_with_retries, locate_open_book
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.file_workbook import FileWorkbook
from pecmass_xl.workbook.riepilogo import Summary, summary_layout
from pecmass_xl.workbook.write import ResultUpdate

from .fake_xlwings import FakeApp, FakeApps, FakeBook, FakeComError, workbook_from_openpyxl

HEADERS = ["PEC", "Nome", "CAP", "Importo", "Scadenza", "Data di nascita"]
ROME = ZoneInfo("Europe/Rome")


def contract_workbook(rows: int):
    """The contract's sheets with `rows` recipients; the first ten already have an ID invio."""
    wb = build_new_workbook(campaign_id="CAMPAGNA1")
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(HEADERS + list(c.RESULT_COLUMNS))
    for n in range(rows):
        ws.append([f"utente{n}@esempio.pec.test", f"Nome {n}", 184 + n % 3, 1234.5 + n,
                   dt.datetime(2026, 12, 31), f"0{n % 9 + 1}/01/1980"])
        row = ws.max_row
        ws.cell(row, 3).number_format = "00000"
        ws.cell(row, 4).number_format = "#,##0.00"
        ws.cell(row, 5).number_format = "dd/mm/yyyy"
        if n < 10:
            ws.cell(row, len(HEADERS) + 1, f"RID{n:06d}")
            ws.cell(row, len(HEADERS) + 2, c.ST_SENT)
    return wb


def live_book(rows: int, app: FakeApp | None = None) -> FakeBook:
    """The same content as `contract_workbook(rows)`, put straight into the fake (openpyxl is slow
    at per-cell formats for 10,000 rows)."""
    book = workbook_from_openpyxl(contract_workbook(0), r"C:\Lavoro\campagna.xlsm", app)
    sheet = book.sheets.items[0]
    for n in range(rows):
        row = n + 2
        values = [f"utente{n}@esempio.pec.test", f"Nome {n}", float(184 + n % 3), 1234.5 + n,
                  dt.datetime(2026, 12, 31), f"0{n % 9 + 1}/01/1980"]
        for column, value in enumerate(values, start=1):
            sheet.put(row, column, value, {3: "00000", 4: "#,##0.00", 5: "dd/mm/yyyy"}.get(column))
        if n < 10:
            sheet.put(row, len(HEADERS) + 1, f"RID{n:06d}")
            sheet.put(row, len(HEADERS) + 2, c.ST_SENT)
    return book


def _normal(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return value


def test_read_matches_the_file_reader(tmp_path):
    wb = contract_workbook(60)
    path = tmp_path / "campagna.xlsx"
    wb.save(path)
    from_file = FileWorkbook(path).read()
    from_excel = ExcelWorkbook(workbook_from_openpyxl(wb, str(path))).read()
    assert [(h.column, h.name) for h in from_excel.headers] == [(h.column, h.name) for h in from_file.headers]
    assert len(from_excel.rows) == len(from_file.rows) == 60
    for live, disk in zip(from_excel.rows, from_file.rows, strict=False):
        assert live.number == disk.number
        assert live.values == disk.values  # what each cell shows, e.g. CAP "00184", "1.234,50"
        assert {k: _normal(v) for k, v in live.results.items()} == {k: _normal(v) for k, v in disk.results.items()}
    for part in ("message", "settings", "marker"):
        assert {k: _normal(v) for k, v in getattr(from_excel, part).items()} == \
               {k: _normal(v) for k, v in getattr(from_file, part).items()}
    assert from_excel.missing_sheets == []
    assert from_excel.campaign_id == "CAMPAGNA1"
    assert from_excel.source == path


def test_cap_keeps_its_leading_zero_and_dates_read_as_shown():
    data = ExcelWorkbook(live_book(3)).read()
    assert data.rows[0].values["CAP"] == "00184"
    assert data.rows[0].values["Scadenza"] == "31/12/2026"
    assert data.rows[0].values["Data di nascita"] == "01/01/1980"


def _calls(action, app: FakeApp) -> int:
    before = app.calls
    action()
    return app.calls - before


def test_reading_ten_thousand_rows_takes_a_handful_of_calls():
    small_app, big_app = FakeApp(), FakeApp()
    small, big = ExcelWorkbook(live_book(10, small_app)), ExcelWorkbook(live_book(10_000, big_app))
    small_calls = _calls(small.read, small_app)
    big_calls = _calls(lambda: big.read(), big_app)
    assert big_calls == small_calls  # independent of the number of rows
    # sheet names, then per sheet its extent and one block, plus one format read per parameter column
    assert big_calls <= 6 + 4 * 4 + len(HEADERS)
    assert len(big.read().rows) == 10_000


def full_update(data, rows: int) -> ResultUpdate:
    """Results for every row: journal rows by ID, new IDs for the rest, a check result for one."""
    update = ResultUpdate()
    sent = dt.datetime(2026, 3, 2, 9, 30, tzinfo=ROME)
    for n in range(10):
        update.by_id[f"RID{n:06d}"] = {
            c.COL_STATUS: c.ST_DELIVERED, c.COL_SENT_AT: sent, c.COL_ACCEPTED_AT: sent, c.COL_DELIVERED_AT: sent,
            c.COL_OUTCOME: "Consegnata", c.COL_DETAIL: "=cmd|' /C calc'!A0", c.COL_SIGNATURE: "verificata",
            c.COL_RECEIPTS: '=HYPERLINK("C:\\Lavoro\\archivio\\RID000000","Apri ricevute")',
        }
    for row in data.rows[10:rows - 1]:
        update.new_ids[row.number] = f"RNEW{row.number:05d}"
    last = data.rows[-1].number
    update.by_row[last] = {c.COL_STATUS: c.ST_INVALID, c.COL_DETAIL: "00184", c.COL_OUTCOME: None}
    update.by_row[data.rows[0].number] = {c.COL_STATUS: c.ST_INVALID}  # has an ID: must be ignored
    return update


def test_writing_results_is_a_handful_of_block_writes_whatever_the_row_count():
    counts = []
    for rows in (50, 10_000):
        app = FakeApp()
        book = ExcelWorkbook(live_book(rows, app))
        update = full_update(book.read(), rows)
        counts.append(_calls(lambda: book.write(update, Summary(counts={c.ST_DELIVERED: 10}), None), app))
    assert counts[0] == counts[1]
    assert counts[1] < 60


def test_written_cells_keep_their_type_text_stays_text_links_are_formulas():
    book_obj = live_book(30)
    book = ExcelWorkbook(book_obj)
    data = book.read()
    book.write(full_update(data, 30))
    sheet = book_obj.sheets.items[0]
    col = {name: HEADERS.__len__() + 1 + i for i, name in enumerate(c.RESULT_COLUMNS)}
    first = data.rows[0].number
    assert sheet.peek(first, col[c.COL_STATUS]) == c.ST_DELIVERED
    assert sheet.peek(first, col[c.COL_DETAIL]) == "=cmd|' /C calc'!A0"  # text, not a formula
    assert sheet.peek_cell(first, col[c.COL_DETAIL]).formula is None
    assert sheet.peek(first, col[c.COL_SENT_AT]) == dt.datetime(2026, 3, 2, 9, 30)
    assert sheet.peek_cell(first, col[c.COL_SENT_AT]).number_format == "dd/mm/yyyy hh:mm:ss"
    receipts = sheet.peek_cell(first, col[c.COL_RECEIPTS])
    assert receipts.formula.startswith("=HYPERLINK(") and receipts.value == "Apri ricevute"
    assert sheet.peek_cell(first, col[c.COL_STATUS]).font == {"italic": True, "color": (0x40, 0x40, 0x40)}
    # a row with an ID keeps the journal's status even if a check result names it
    assert sheet.peek(first, col[c.COL_STATUS]) != c.ST_INVALID
    # new IDs written once, as text
    eleventh = data.rows[10].number
    assert sheet.peek(eleventh, col[c.COL_ID]) == f"RNEW{eleventh:05d}"
    last = data.rows[-1].number
    assert sheet.peek(last, col[c.COL_DETAIL]) == "00184"  # not the number 184
    assert sheet.peek(last, col[c.COL_ID]) is None
    # the parameter cells were not touched
    assert sheet.peek(first, 3) == 184.0 and sheet.peek_cell(first, 3).number_format == "00000"


def test_untouched_rows_and_existing_links_survive_a_later_write():
    book_obj = live_book(20)
    book = ExcelWorkbook(book_obj)
    data = book.read()
    book.write(full_update(data, 20))
    sheet = book_obj.sheets.items[0]
    receipts_col = len(HEADERS) + 1 + c.RESULT_COLUMNS.index(c.COL_RECEIPTS)
    status_col = len(HEADERS) + 1 + c.RESULT_COLUMNS.index(c.COL_STATUS)
    first = data.rows[0].number
    second = data.rows[1].number
    before_link = sheet.peek_cell(first, receipts_col).formula
    later = ResultUpdate(by_id={"RID000001": {c.COL_STATUS: c.ST_NOT_DELIVERED, c.COL_RECEIPTS: None}})
    book.write(later)
    assert sheet.peek_cell(first, receipts_col).formula == before_link  # other row: formula kept
    assert sheet.peek(second, status_col) == c.ST_NOT_DELIVERED
    assert sheet.peek(second, receipts_col) is None
    assert sheet.peek(first, status_col) == c.ST_DELIVERED


def test_missing_result_columns_are_added_after_the_last_header():
    app = FakeApp()
    book_obj = FakeBook(app, "/Users/anna/campagna.xlsm")
    sheet = book_obj.add_sheet(c.SHEET_LIST)
    sheet.put_rows([["PEC", "Nome"], ["a@esempio.pec.test", "Anna"], ["b@esempio.pec.test", "Bruno"]])
    book_obj.add_sheet(c.SHEET_MESSAGE)
    book_obj.add_sheet(c.SHEET_SETTINGS)
    ExcelWorkbook(book_obj).write(ResultUpdate(new_ids={2: "R1", 3: "R2"}), campaign_id="CAMP2")
    assert [sheet.peek(1, col) for col in range(1, 12)] == ["PEC", "Nome", *c.RESULT_COLUMNS]
    assert sheet.peek(2, 3) == "R1" and sheet.peek(3, 3) == "R2"
    marker = book_obj.sheets.items[-1]
    assert marker._name == c.SHEET_MARKER and marker.visibility == "veryHidden"  # as the file writer does
    assert marker.peek(2, 2) == "CAMP2"


def test_summary_block_and_settings_restored_after_writing():
    app = FakeApp()
    book_obj = live_book(5, app)
    summary = Summary(counts={c.ST_DELIVERED: 3, c.ST_INVALID: 2}, campaign_id="CAMPAGNA1",
                      usage=[("2026-03", 1, 3)], test_sends=[("P1", "prova@esempio.pec.test", c.ST_DELIVERED)],
                      last_sync=dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC))
    ExcelWorkbook(book_obj).write(summary=summary)
    riepilogo = next(s for s in book_obj.sheets.items if s._name == c.SHEET_SUMMARY)
    layout = summary_layout(summary)
    assert riepilogo.peek(1, 1) == "Riepilogo della campagna"
    assert riepilogo.peek(4, 2) == dt.datetime(2026, 3, 2, 9, 0)  # Italian local time
    totals = {layout.rows[r][0]: riepilogo.peek(r + 1, 2) for r in range(6, 6 + len(c.ALL_STATES) + 1)}
    assert totals[c.ST_DELIVERED] == 3 and totals["Totale"] == 5
    assert {k: app._state[k] for k in ("screen_updating", "calculation", "enable_events")} == \
        {"screen_updating": True, "calculation": "automatic", "enable_events": True}


def test_busy_excel_is_retried_a_bounded_number_of_times():
    app = FakeApp(com_attempts=2)  # the worker bounds xlwings' own retries (N_COM_ATTEMPTS)
    book = ExcelWorkbook(live_book(5, app), retry_attempts=5, retry_delay=0, sleep=lambda _s: None)
    data = book.read()
    app.busy_failures = 3
    book.write(ResultUpdate(by_id={"RID000000": {c.COL_STATUS: c.ST_ACCEPTED}}))
    assert book.read().rows[0].results[c.COL_STATUS] == c.ST_ACCEPTED
    app.busy_failures = 50
    with pytest.raises(CannotRun, match="Excel è occupato"):
        book.write(ResultUpdate(by_id={"RID000000": {c.COL_STATUS: c.ST_DELIVERED}}))
    assert len(data.rows) == 5


def test_other_errors_are_not_retried():
    attempts = []

    def fails():
        attempts.append(1)
        raise FakeComError(-2146827864, "Object required")

    with pytest.raises(FakeComError):
        call_with_retries(fails, attempts=5, delay=0, sleep=lambda _s: None)
    assert len(attempts) == 1


def test_locate_open_book_looks_in_every_running_excel_without_opening():
    first, second = FakeApp(), FakeApp()
    FakeBook(first, r"C:\Altro\budget.xlsx")
    wanted = FakeBook(second, r"C:\Lavoro\Campagna.xlsm")
    apps = FakeApps(first, second)
    assert locate_open_book(r"c:\lavoro\campagna.xlsm", apps) == wanted
    assert locate_open_book(r"C:\Lavoro\chiusa.xlsm", apps) is None


def test_onedrive_url_resolves_to_the_synced_folder(tmp_path, monkeypatch):
    synced = tmp_path / "OneDrive"
    (synced / "Documenti").mkdir(parents=True)
    (synced / "Documenti" / "campagna.xlsm").write_bytes(b"x")
    monkeypatch.setenv("OneDrive", str(synced))
    monkeypatch.setenv("OneDriveConsumer", str(synced))
    monkeypatch.setenv("HOME", str(tmp_path))
    book = FakeBook(FakeApp(), "https://d.docs.live.net/a1b2c3d4e5/Documenti/campagna.xlsm")
    workbook = ExcelWorkbook(book)
    assert workbook.path == synced / "Documenti" / "campagna.xlsm"
    assert workbook.folder == synced / "Documenti"


def test_status_bar_and_save():
    app = FakeApp()
    book_obj = live_book(2, app)
    book = ExcelWorkbook(book_obj)
    book.set_status("Invio 3/10…")
    assert app._state["status_bar"] == "Invio 3/10…"
    book.set_status(None)
    assert app._state["status_bar"] is False
    book.save()
    assert book_obj.saves == 1


def test_sheet_columns_letters_sanity():
    assert get_column_letter(len(HEADERS) + len(c.RESULT_COLUMNS)) == "O"


@pytest.mark.parametrize("locale", ["it", "en"])
def test_results_written_through_excel_read_back_like_those_written_to_the_file(tmp_path, locale):
    wb = contract_workbook(30)
    path = tmp_path / "campagna.xlsx"
    wb.save(path)
    live = ExcelWorkbook(workbook_from_openpyxl(wb, str(path), FakeApp(locale=locale)))
    file_book = FileWorkbook(path)
    update = full_update(file_book.read(), 30)
    file_book.write(update)
    live.write(update)

    def results(data):
        return [{k: _normal(v) for k, v in row.results.items() if k != c.COL_RECEIPTS} for row in data.rows]

    assert results(live.read()) == results(file_book.read())
