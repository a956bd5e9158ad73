"""Issue 13: the xlwings adapter and the worker against a fake as strict as real xlwings.

Each test names the defect it proves fixed; the fake's behaviours cite xlwings' source
(tests/excel/fake_xlwings.py).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

import pytest
from openpyxl import load_workbook

from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.campaign.results import receipts_link
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.vocabulary import STATUS_COLOURS
from pecmass_xl.excel import worker
from pecmass_xl.excel.live_workbook import ExcelWorkbook, is_busy_error, locate_open_book
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.file_workbook import FileWorkbook
from pecmass_xl.workbook.riepilogo import Summary
from pecmass_xl.workbook.write import ResultUpdate

from .fake_xlwings import (
    DISP_E_EXCEPTION,
    RPC_E_CALL_REJECTED,
    VBA_E_IGNORE,
    XL_ERR_1004,
    ExcelBusyError,
    ExcelError,
    FakeApp,
    FakeApps,
    FakeBook,
    FakeComError,
    excel_input,
)
from .test_excel_live_workbook import HEADERS, full_update, live_book

NO_WAIT = dict(retry_attempts=40, retry_delay=0, sleep=lambda _s: None)
APP_STATE = ("screen_updating", "calculation", "enable_events")


def _state(app: FakeApp) -> dict:
    return {k: app._state[k] for k in APP_STATE}


def _summary() -> Summary:
    return Summary(counts={c.ST_DELIVERED: 1}, usage=[("2025-05", 1, 3)])


def _write_calls() -> int:
    app = FakeApp()
    book = ExcelWorkbook(live_book(12, app), **NO_WAIT)
    update = full_update(book.read(), 12)
    before = app.calls
    book.write(update, _summary(), "CAMPAGNA1")
    return app.calls - before


# ------------------------------------------------------------------ fix 2: application state
@pytest.mark.parametrize("user_calculation", ["automatic", "manual"])
def test_a_cell_edited_at_any_moment_of_a_write_never_leaves_excel_changed(user_calculation):
    """Busy Excel at every call of a write in turn: the user's settings always come back."""
    for after in range(_write_calls()):
        app = FakeApp(com_attempts=3)
        app._state["calculation"] = user_calculation
        book = ExcelWorkbook(live_book(12, app), **NO_WAIT)
        update = full_update(book.read(), 12)
        before = _state(app)
        app.reject(7, after=after)  # two refusals reach pecmass (xlwings retries 3 times each)
        book.write(update, _summary(), "CAMPAGNA1")
        assert _state(app) == before, f"busy after {after} calls"
        assert app.rejected == 7
        status_col = len(HEADERS) + 1 + c.RESULT_COLUMNS.index(c.COL_STATUS)
        assert book.book.sheets.items[0].peek(2, status_col) == c.ST_DELIVERED


def test_a_write_never_switches_calculation_or_events():
    app = FakeApp()
    book = ExcelWorkbook(live_book(12, app), **NO_WAIT)
    update = full_update(book.read(), 12)
    changes = []
    original = FakeApp.__setattr__

    def spy(self, name, value):
        if name in APP_STATE:
            changes.append(name)
        original(self, name, value)

    FakeApp.__setattr__ = spy
    try:
        book.write(update, Summary(counts={}), "CAMPAGNA1")
    finally:
        FakeApp.__setattr__ = original
    assert set(changes) <= {"screen_updating"}
    assert not app.dirty and app.recalculations >= 1  # the sheet is calculated, in automatic mode
    assert app.repaints == 0  # no redraw while writing
    assert app._state["screen_updating"] is True


def test_busy_for_longer_than_the_retries_is_an_italian_message_and_the_state_comes_back():
    app = FakeApp(com_attempts=2)
    book = ExcelWorkbook(live_book(5, app), retry_attempts=3, retry_delay=0, sleep=lambda _s: None)
    book.read()
    app.reject(1000, after=3)
    with pytest.raises(CannotRun, match="Excel è occupato"):
        book.write(ResultUpdate(by_id={"RID000000": {c.COL_STATUS: c.ST_ACCEPTED}}))
    app.rejections.clear()
    assert _state(app)["calculation"] == "automatic" and _state(app)["enable_events"] is True


def test_a_restore_refused_past_every_retry_is_paid_back_by_the_next_write():
    app = FakeApp(com_attempts=2)
    fake = live_book(5, app)
    book = ExcelWorkbook(fake, retry_attempts=3, retry_delay=0, sleep=lambda _s: None)
    book.read()
    plain = app.calls
    book.write(ResultUpdate(by_id={"RID000000": {c.COL_STATUS: c.ST_ACCEPTED}}))
    calls = app.calls - plain
    app.reject(1000, after=calls - 1)  # the edit starts just before the restore, and lasts
    with pytest.raises(CannotRun, match="Excel è occupato"):
        book.write(ResultUpdate(by_id={"RID000000": {c.COL_STATUS: c.ST_DELIVERED}}))
    assert app._state["screen_updating"] is False  # still frozen: Excel refused every call
    app.rejections.clear()  # the user leaves the cell
    book.write(ResultUpdate(by_id={"RID000001": {c.COL_STATUS: c.ST_DELIVERED}}))
    assert app._state["screen_updating"] is True


# ------------------------------------------------------------------ fix 3: busy shapes
@pytest.mark.parametrize("error, busy", [
    (FakeComError(RPC_E_CALL_REJECTED, "Call was rejected by callee.", None, None), True),
    (FakeComError(DISP_E_EXCEPTION, "Exception occurred.", (0, "Microsoft Excel", None, None, 0, VBA_E_IGNORE), None), True),
    (FakeComError(DISP_E_EXCEPTION, "Exception occurred.", None, None), True),
    (FakeComError(DISP_E_EXCEPTION, "Exception occurred.", (0, "Microsoft Excel", "Nome troppo lungo", None, 0, XL_ERR_1004), None), False),
    (FakeComError(-2147417848, "The object invoked has disconnected from its clients.", None, None), False),
    (ExcelBusyError(), True),
    (AttributeError("Range"), False),
])
def test_busy_errors_are_exactly_the_shapes_xlwings_retries(error, busy):
    assert is_busy_error(error) is busy


@pytest.mark.parametrize("shape, kind", [("com", "set"), ("com", "get"), ("attribute", "get")])
def test_each_busy_shape_in_the_middle_of_a_write_is_waited_for(shape, kind):
    app = FakeApp(com_attempts=2)
    book = ExcelWorkbook(live_book(5, app), **NO_WAIT)
    book.read()
    app.reject(5, after=4, shape=shape)
    book.write(ResultUpdate(by_id={"RID000001": {c.COL_STATUS: c.ST_DELIVERED}}))
    assert app.rejected == 5
    assert book.read().rows[1].results[c.COL_STATUS] == c.ST_DELIVERED


def test_the_worker_says_busy_not_closed_when_excel_is_busy(tmp_path):
    app = FakeApp(com_attempts=2)
    fake = live_book(5, app)
    detached = worker.DetachedWorkbook(fake.fullname, FakeApps(app), retry_attempts=3, retry_delay=0,
                                       sleep=lambda _s: None)
    detached.read()
    app.reject(1000, after=6)  # a cell in edit mode for longer than every retry
    with pytest.raises(CannotRun) as caught:
        detached.write(ResultUpdate(by_id={"RID000000": {c.COL_STATUS: c.ST_ACCEPTED}}))
    assert "Excel è occupato" in str(caught.value) and "non è più aperta" not in str(caught.value)


# ------------------------------------------------------------------ fix 4: OneDrive
def test_a_onedrive_workbook_without_a_synced_copy_is_an_italian_message(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("OneDrive", "OneDriveConsumer", "OneDriveCommercial"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeBook(FakeApp(), "https://d.docs.live.net/a1b2c3/Documenti/campagna.xlsm")
    with pytest.raises(CannotRun, match="OneDrive/SharePoint"):
        ExcelWorkbook(fake)


def test_an_unrelated_unsynced_onedrive_workbook_does_not_stop_the_worker(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("OneDrive", "OneDriveConsumer", "OneDriveCommercial"):
        monkeypatch.delenv(name, raising=False)
    app = FakeApp()
    FakeBook(app, "https://d.docs.live.net/a1b2c3/Documenti/bilancio.xlsx")
    ours = live_book(3, app)
    assert locate_open_book(ours.fullname, FakeApps(app)) == ours
    detached = worker.DetachedWorkbook(ours.fullname, FakeApps(app), **NO_WAIT)
    detached.write(ResultUpdate(by_id={"RID000000": {c.COL_STATUS: c.ST_ACCEPTED}}))
    assert len(detached.read().rows) == 3


# ------------------------------------------------------------------ fix 5: the Mac exit hook
def test_the_mac_exit_hook_of_xlwings_is_removed_in_a_button_process(tmp_path):
    """A real process: a stand-in `xlwings._xlmac` registers its `cleanup` with atexit, as xlwings does
    on the Mac; after the button's `_caller()` the hook no longer runs at exit."""
    script = textwrap.dedent("""
        import atexit, sys, types
        import xlwings
        mac = types.ModuleType("xlwings._xlmac")
        def cleanup():
            print("CleanUp: StatusBar = False")
        mac.cleanup = cleanup
        atexit.register(cleanup)
        sys.modules["xlwings._xlmac"] = mac
        xlwings.Book.caller = staticmethod(lambda: "book")
        from pecmass_xl.excel import handlers
        print("caller:", handlers._caller())
    """)
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "caller: book" in shown.stdout and "CleanUp" not in shown.stdout
    control = subprocess.run([sys.executable, "-c", script.replace("from pecmass_xl.excel import handlers\n", "")
                              .replace('print("caller:", handlers._caller())', "")],
                             capture_output=True, text=True, timeout=60)
    assert "CleanUp" in control.stdout  # the stand-in does behave like xlwings' hook


def test_progress_is_written_no_more_often_than_the_results():
    shown = []

    class Book:
        def set_status(self, text):
            shown.append(text)

    now = [0.0]
    reporter = worker.StatusBarReporter(Book(), clock=lambda: now[0])
    reporter.start(300)
    for done in range(1, 301):
        now[0] += 1.0  # one message a second for five minutes
        reporter.row_done(done, 300, done + 1, c.ST_SENT)
    progress = [t for t in shown[1:]]
    assert len(progress) <= 300 / reporter.interval + 1
    assert reporter.interval >= worker.SendOptions().write_every
    assert progress[-1] == "PEC Massiva: 300 di 300 PEC consegnate al gestore…"


# ------------------------------------------------------------------ fix 6: the month stays text
@pytest.mark.parametrize("locale", ["it", "en"])
def test_riepilogo_month_and_texts_stay_text_through_excel(locale):
    app = FakeApp(locale=locale)
    fake = live_book(3, app)
    ExcelWorkbook(fake).write(summary=Summary(counts={c.ST_DELIVERED: 3}, usage=[("2025-05", 1, 3)],
                                              test_sends=[("P1", "VERO", "1,5")]))
    riepilogo = next(s for s in fake.sheets.items if s._name == c.SHEET_SUMMARY)
    values = {riepilogo.peek(r, 1) for r in range(1, 40)}
    assert "2025-05" in values and not any(isinstance(v, dt.datetime) for v in values)
    row = next(r for r in range(1, 40) if riepilogo.peek(r, 1) == "P1")
    assert [riepilogo.peek(row, 2), riepilogo.peek(row, 3)] == ["VERO", "1,5"]


@pytest.mark.parametrize("locale, text, expected", [
    ("it", "2025-05", dt.datetime(2025, 5, 1)), ("en", "2025-05", dt.datetime(2025, 5, 1)),
    ("it", "VERO", True), ("en", "FALSE", False), ("en", "VERO", "VERO"),
    ("it", "1,5", 1.5), ("it", "1.234,5", 1234.5), ("en", "1,234.5", 1234.5),
    ("it", "31/12/2026", dt.datetime(2026, 12, 31)), ("en", "31/12/2026", "31/12/2026"),
    ("it", "00184", 184.0), ("it", "'00184", "00184"), ("it", "=NA()", ExcelError("#NAME?")),
])
def test_the_fake_parses_typed_text_as_an_italian_or_english_excel(locale, text, expected):
    assert excel_input(text, locale)[0] == expected


def test_the_fake_refuses_a_formula_literal_over_255_characters():
    with pytest.raises(FakeComError) as caught:
        excel_input('=HYPERLINK("' + "x" * 256 + '","Apri ricevute")')
    assert not is_busy_error(caught.value)  # error 1004: never retried


# ------------------------------------------------------------------ fix 7: both fill colours
def test_pecmass_new_status_colours_carry_the_dxf_background(tmp_path):
    path = tmp_path / "campagna.xlsx"
    build_new_workbook("CAMPAGNA1").save(path)
    ws = load_workbook(path)[c.SHEET_LIST]
    fills = {}
    for rules in ws.conditional_formatting:
        for rule in rules.rules:
            fills[rule.formula[0].strip('"')] = rule.dxf.fill
    assert set(fills) == set(STATUS_COLOURS)
    for status, fill in fills.items():
        assert fill.bgColor.rgb.endswith(STATUS_COLOURS[status]), status  # what Excel paints
        assert fill.fgColor.rgb.endswith(STATUS_COLOURS[status]), status


# ------------------------------------------------------------------ fix 8: COM references
def test_the_worker_holds_no_com_reference_between_writes_so_a_quit_excel_ends():
    app = FakeApp()
    fake = live_book(5, app)
    detached = worker.DetachedWorkbook(fake.fullname, FakeApps(app), **NO_WAIT)
    detached.read()
    detached.write(ResultUpdate(by_id={"RID000000": {c.COL_STATUS: c.ST_ACCEPTED}}))
    detached.set_status("PEC Massiva: 1 di 5 PEC consegnate al gestore…")
    assert detached.book is None and app.references == 0
    app.quit()
    assert not app.zombie
    # the next write connects again (a reopened workbook is found)
    detached.write(ResultUpdate(by_id={"RID000001": {c.COL_STATUS: c.ST_ACCEPTED}}))
    assert app.references == 0


def test_the_worker_connects_for_a_dialog_too_and_keeps_no_reference_after_it():
    """The «già in corso» dialog of a worker that lost the race: shown between two writes, when the
    worker holds no reference to the book (it used to find none and show nothing)."""
    app = FakeApp()
    fake = live_book(3, app)
    detached = worker.DetachedWorkbook(fake.fullname, FakeApps(app), **NO_WAIT)
    detached.read()
    assert detached.book is None
    detached.alert("È già in corso un invio di questa campagna.")
    assert [a["prompt"] for a in app.alerts] == ["È già in corso un invio di questa campagna."]
    assert app.alerts[0]["mode"] == "critical" and detached.book is None and app.references == 0


# ------------------------------------------------------------------ fix 9: marker, links, PEC_STATO
def test_the_marker_sheet_is_very_hidden_from_both_paths(tmp_path):
    app = FakeApp()
    fake = FakeBook(app, str(tmp_path / "campagna.xlsm"))
    for name in (c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS):
        fake.add_sheet(name)
    fake.sheets.items[0].put_rows([["PEC", *c.RESULT_COLUMNS], ["a@esempio.pec.test"]])
    ExcelWorkbook(fake).write(ResultUpdate(new_ids={2: "R1"}), campaign_id="CAMP1")
    marker = next(s for s in fake.sheets.items if s._name == c.SHEET_MARKER)
    assert marker.visibility == "veryHidden"
    marker._visible = 0  # a marker an older pecmass left only hidden
    ExcelWorkbook(fake).write(ResultUpdate())
    assert marker.visibility == "veryHidden"

    path = tmp_path / "campagna.xlsx"
    build_new_workbook("").save(path)
    FileWorkbook(path).write(ResultUpdate(), campaign_id="CAMP2")
    assert load_workbook(path)[c.SHEET_MARKER].sheet_state == "veryHidden"


def test_every_write_through_excel_stamps_the_marker_that_pec_stato_depends_on():
    app = FakeApp()
    fake = live_book(3, app)
    book = ExcelWorkbook(fake)
    book.write(campaign_id="CAMPAGNA1")
    marker = next(s for s in fake.sheets.items if s._name == c.SHEET_MARKER)
    assert marker.peek(3, 1) == c.MARKER_UPDATED
    first = marker.peek(3, 2)
    assert isinstance(first, dt.datetime)
    marker.put(3, 2, dt.datetime(2000, 1, 1))
    book.write(ResultUpdate())
    assert marker.peek(3, 2) > dt.datetime(2000, 1, 1) and marker.peek(2, 2) == "CAMPAGNA1"


def test_receipts_links_are_relative_short_and_absolute_only_across_drives(tmp_path):
    workbook_folder = tmp_path / "Lavoro"
    link = receipts_link(workbook_folder / "campagna - archivio PEC" / "RID000001", workbook_folder)
    assert link == '=HYPERLINK("campagna - archivio PEC/RID000001","Apri ricevute")'
    deep = workbook_folder / ("cartella molto lunga " * 8) / ("sottocartella " * 10) / "RID000001"
    long_link = receipts_link(deep)  # absolute (no workbook folder): well over 255 characters
    assert len(str(deep)) > 255
    value, formula = excel_input(long_link)  # Excel accepts it: every literal is at most 255
    assert value == "Apri ricevute" and formula == long_link
    assert "".join(part for part in long_link.split('"')[1:-3:2]) == str(deep)


def test_pec_stato_is_not_volatile_and_refreshes_when_the_stamp_changes(monkeypatch):
    from udfs import pecmass_udfs as u

    reads = []
    monkeypatch.setattr(u, "_journal_statuses", lambda campaign: reads.append(campaign) or {"R1": f"v{len(reads)}"})
    u._status_cache.clear()
    assert u.pec_stato("R1", "CAMP", dt.datetime(2026, 1, 1, 9)) == "v1"
    assert u.pec_stato("R1", "CAMP", dt.datetime(2026, 1, 1, 9)) == "v1"  # same stamp: cached
    assert u.pec_stato("R1", "CAMP", dt.datetime(2026, 1, 1, 10)) == "v2"  # pecmass wrote: fresh
    source = open(u.__file__, encoding="utf-8").read()
    assert "volatile=True" not in source


# ------------------------------------------------------------------ the stricter fake, read side
def test_formatted_empty_rows_below_the_list_and_error_cells_read_like_the_file(tmp_path):
    """Excel's used range includes cells that only carry a format; error cells come back as None
    from a plain read and as text with err_to_str (what `read()` asks for)."""
    app = FakeApp()
    fake = live_book(4, app)
    sheet = fake.sheets.items[0]
    for row in range(6, 506):  # a user formatted the CAP column far below the list
        sheet.put(row, 3, None, "00000")
    sheet.put(3, 2, ExcelError("#N/A"))
    assert sheet.used_range.last_cell.row == 505
    data = ExcelWorkbook(fake).read()
    assert [r.number for r in data.rows] == [2, 3, 4, 5]
    assert data.rows[1].values["Nome"] == "#N/A"
    assert sheet.range((3, 2)).value is None and sheet.range((3, 2)).options(err_to_str=True).value == "#N/A"
    ExcelWorkbook(fake).write(ResultUpdate(by_id={"RID000001": {c.COL_STATUS: c.ST_DELIVERED}}))
    assert ExcelWorkbook(fake).read().rows[1].results[c.COL_STATUS] == c.ST_DELIVERED


@pytest.mark.parametrize("platform, after", [("darwin", False), ("win32", "Running...")])
def test_on_the_mac_a_button_that_showed_nothing_clears_running_from_the_status_bar(monkeypatch, platform, after):
    """xlwings' RunPython on the Mac writes "Running..." for its exit hook to clear; the hook is removed,
    so the button clears it itself (unless it left a message of its own)."""
    from pecmass_xl.excel import handlers

    app = FakeApp()
    fake = live_book(3, app)
    app._state["status_bar"] = "Running..."
    monkeypatch.setattr(handlers, "_caller", lambda: fake)
    monkeypatch.setattr(handlers.sys, "platform", platform)
    handlers.interrompi()  # answers with a message box, writes no status
    assert app.alerts and app._state["status_bar"] == after


@pytest.mark.parametrize("locale", ["it", "en"])
def test_imported_headers_and_values_stay_text_in_either_excel(tmp_path, locale):
    app = FakeApp(locale=locale)
    fake = live_book(2, app)
    ExcelWorkbook(fake).replace_list(["PEC", "2025-05", "VERO", "1,5"],
                                     [["a@esempio.pec.test", "2025-05", "FALSE", "1.234,5"]])
    sheet = fake.sheets.items[0]
    assert [sheet.peek(1, col) for col in range(1, 5)] == ["PEC", "2025-05", "VERO", "1,5"]
    assert [sheet.peek(2, col) for col in range(2, 5)] == ["2025-05", "FALSE", "1.234,5"]


def test_receipts_link_is_absolute_when_the_archive_is_on_another_drive(monkeypatch, tmp_path):
    from pecmass_xl.campaign import results

    def other_drive(path, start):
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    monkeypatch.setattr(results.os.path, "relpath", other_drive)
    folder = tmp_path / "archivio" / "RID1"
    assert results.receipts_link(folder, tmp_path / "Lavoro") == f'=HYPERLINK("{folder}","Apri ricevute")'
