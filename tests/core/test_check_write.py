"""`pecmass check --write`: Stato invio and Dettaglio written, cleared when fixed, never over a row
with an `ID invio`; result cells are text; the write is atomic and regenerates Riepilogo."""

from __future__ import annotations

from openpyxl import load_workbook
from openpyxl.chart import BarChart, Reference

from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.file_workbook import FileWorkbook
from pecmass_xl.workbook.write import ResultUpdate

from .books import CAMPAIGN, HEADERS, ROW, build_book

STATUS = len(HEADERS) + 1 + c.RESULT_COLUMNS.index(c.COL_STATUS)  # 1-based column numbers
DETAIL = len(HEADERS) + 1 + c.RESULT_COLUMNS.index(c.COL_DETAIL)
ID = len(HEADERS) + 1


def _results(path, rows=range(2, 5)):
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    return {r: (ws.cell(r, ID).value, ws.cell(r, STATUS).value, ws.cell(r, DETAIL).value) for r in rows}


def _mixed_rows():
    return [ROW, ["anna@", "Anna", "Bianchi", None], ["luca@pec.test", "Luca", None, None]]


def test_write_marks_invalid_rows_and_ready_rows(make_book, cli):
    path = make_book(rows=_mixed_rows())
    result = cli("check", path, "--write")
    assert result.rc == 1
    assert "Stato invio e Dettaglio aggiornati nel foglio Destinatari." in result.out
    results = _results(path)
    assert results[2] == (None, c.ST_TO_SEND, None)
    assert results[3][:2] == (None, c.ST_INVALID)
    assert results[3][2] == "«anna@» non è un indirizzo PEC valido (forma attesa: nome@dominio.it)."
    assert results[4][1] == c.ST_INVALID
    assert results[4][2].startswith("La cella è vuota ma il modello «Oggetto» la usa")
    assert " | " in results[4][2]  # subject and text: every error of the row, in one cell


def test_write_clears_rows_once_fixed(make_book, cli):
    path = make_book(rows=_mixed_rows())
    assert cli("check", path, "--write").rc == 1
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    ws["A3"] = "anna@pec.test"
    ws["C4"] = "Verdi"
    wb.save(path)
    assert cli("check", path, "--write").rc == 0
    assert _results(path) == {r: (None, c.ST_TO_SEND, None) for r in (2, 3, 4)}


def test_write_never_touches_a_row_with_an_id(make_book, cli):
    def sent(wb):
        ws = wb[c.SHEET_LIST]
        ws.cell(3, ID).value = "RABCDEFGH"
        ws.cell(3, STATUS).value = c.ST_DELIVERED
        ws.cell(3, DETAIL).value = "consegnata dal gestore"
    path = make_book(rows=_mixed_rows(), edit=sent)
    result = cli("check", path, "--write", "--json")
    assert result.rc == 1
    codes = [(p["code"], p["row"]) for p in result.json["problems"]]
    assert ("address_invalid", 3) in codes and ("row_already_sent", 3) in codes
    assert _results(path)[3] == ("RABCDEFGH", c.ST_DELIVERED, "consegnata dal gestore")
    assert _results(path)[4][1] == c.ST_INVALID


def test_general_errors_are_said_on_ready_rows(make_book, cli):
    path = make_book(rows=[ROW], settings={c.SET_MAILBOX: None})
    assert cli("check", path, "--write").rc == 1
    assert _results(path, [2])[2] == (None, c.ST_TO_SEND, "Correggete prima gli errori generali (Impostazioni o Messaggio).")


def test_result_columns_are_added_when_missing(make_book, cli):
    path = make_book(rows=_mixed_rows(), results=False)
    assert cli("check", path, "--write").rc == 1
    wb = load_workbook(path)
    header = [cell.value for cell in wb[c.SHEET_LIST][1]]
    assert header == HEADERS + list(c.RESULT_COLUMNS)
    assert wb[c.SHEET_LIST].cell(3, STATUS).value == c.ST_INVALID


def test_result_cells_are_text_even_when_they_look_like_formulas(make_book):
    path = make_book(rows=_mixed_rows(), edit=lambda wb: setattr(wb[c.SHEET_LIST].cell(4, ID), "value", "RKEEPIT22"))
    update = ResultUpdate(
        by_row={2: {c.COL_STATUS: c.ST_INVALID, c.COL_DETAIL: "=HYPERLINK(\"http://x\",\"clic\")"},
                3: {c.COL_DETAIL: "+39 06 1234\x07 \x1bcontrollo", c.COL_OUTCOME: "-1"}},
        by_id={"RKEEPIT22": {c.COL_DETAIL: "=cmd|' /C calc'!A0", c.COL_OUTCOME: "2026-01-01"}},
    )
    FileWorkbook(path).write(update)
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    outcome = len(HEADERS) + 1 + c.RESULT_COLUMNS.index(c.COL_OUTCOME)
    cells = {
        (2, DETAIL): "=HYPERLINK(\"http://x\",\"clic\")",
        (3, DETAIL): "+39 06 1234 controllo",
        (3, outcome): "-1",
        (4, DETAIL): "=cmd|' /C calc'!A0",
        (4, outcome): "2026-01-01",
    }
    for (row, col), text in cells.items():
        cell = ws.cell(row, col)
        assert (cell.value, cell.data_type) == (text, "s"), (row, col)
    # the same through openpyxl's read-only, data-only view pecmass itself reads with
    ro = load_workbook(path, read_only=True, data_only=True)
    values = {(r, col): ro[c.SHEET_LIST].cell(r, col).value for (r, col) in cells}
    assert values == cells


def test_check_write_output_cells_are_strings(make_book, cli):
    path = make_book(rows=[["=1+1@x", "Mario", "Rossi", None]])
    cli("check", path, "--write")
    cell = load_workbook(path)[c.SHEET_LIST].cell(2, DETAIL)
    assert cell.data_type == "s" and isinstance(cell.value, str)


def test_summary_is_regenerated(make_book, cli):
    path = make_book(rows=_mixed_rows())
    cli("check", path, "--write")
    wb = load_workbook(path)
    ws = wb[c.SHEET_SUMMARY]
    counts = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, ws.max_row + 1)}
    assert counts[c.ST_TO_SEND] == 1 and counts[c.ST_INVALID] == 2 and counts["Totale"] == 3
    assert counts["Campagna"] == CAMPAIGN
    assert wb.sheetnames == [c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS, c.SHEET_SUMMARY, c.SHEET_MARKER]
    assert wb[c.SHEET_MARKER].sheet_state == "veryHidden"


def test_write_gives_a_campaign_id_when_there_is_none(make_book, cli):
    def no_id(wb):
        wb[c.SHEET_MARKER]["B2"] = None
    path = make_book(edit=no_id)
    cli("check", path, "--write")
    marker = load_workbook(path)[c.SHEET_MARKER]
    assert marker["A2"].value == c.MARKER_CAMPAIGN
    assert marker["B2"].value.startswith("C") and len(marker["B2"].value) == 13


def test_write_keeps_the_user_data_and_leaves_no_temporary_files(make_book, cli, tmp_path):
    path = make_book(rows=_mixed_rows(), formats={"B2": "@"})
    before = load_workbook(path)
    cli("check", path, "--write")
    after = load_workbook(path)
    for name in (c.SHEET_MESSAGE, c.SHEET_SETTINGS):
        assert [r for r in before[name].iter_rows(values_only=True)] == [r for r in after[name].iter_rows(values_only=True)]
    assert [r[:4] for r in before[c.SHEET_LIST].iter_rows(values_only=True)] == \
        [r[:4] for r in after[c.SHEET_LIST].iter_rows(values_only=True)]
    assert after[c.SHEET_LIST]["B2"].number_format == "@"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campagna.xlsx"]


def test_second_write_is_not_refused_for_our_own_chart(make_book, cli):
    """Riepilogo's chart is pecmass's: it never counts as the user's drawing."""
    path = make_book()
    assert cli("check", path, "--write").rc == 0
    assert cli("check", path, "--write").rc == 0


def test_check_without_write_changes_nothing(make_book, cli):
    path = make_book(rows=_mixed_rows())
    before = path.read_bytes()
    assert cli("check", path).rc == 1
    assert path.read_bytes() == before


def _with_user_chart(wb):
    ws = wb[c.SHEET_LIST]
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=2))
    ws.add_chart(chart, "R2")


def test_lossy_write_refused_without_yes(tmp_path, cli):
    path = build_book(tmp_path / "grafico.xlsx", edit=_with_user_chart)
    before = path.read_bytes()
    result = cli("check", path, "--write")
    assert result.rc == 2
    assert "forme, immagini o grafici" in result.err
    assert "--yes" in result.err
    assert path.read_bytes() == before


def test_lossy_write_proceeds_with_yes(tmp_path, cli):
    path = build_book(tmp_path / "grafico.xlsx", rows=_mixed_rows(), edit=_with_user_chart)
    result = cli("check", path, "--write", "--yes")
    assert result.rc == 1
    assert "forme, immagini o grafici" in result.err  # still said
    assert _results(path)[3][1] == c.ST_INVALID


def test_open_workbook_refused(make_book, cli, tmp_path):
    path = make_book(rows=_mixed_rows())
    lock = tmp_path / "~$campagna.xlsx"
    lock.write_bytes(b"\x00utente")
    before = path.read_bytes()
    result = cli("check", path, "--write")
    assert result.rc == 2
    assert "risulta aperta in Excel" in result.err and "~$campagna.xlsx" in result.err
    assert path.read_bytes() == before
    # reading is still fine while Excel has it open
    assert cli("check", path).rc == 1
    lock.unlink()
    assert cli("check", path, "--write").rc == 1
    assert path.read_bytes() != before


def test_rows_blocked_only_by_a_broken_template_say_why(make_book, cli):
    path = make_book(rows=_mixed_rows()[:1], message={c.MSG_TEXT: "Gentile {{ Nome }"})
    assert cli("check", path, "--write").rc == 1
    _, status, detail = _results(path, [2])[2]
    assert status == c.ST_INVALID
    assert detail == "Correggete prima gli errori generali (Impostazioni o Messaggio)."
