"""Odd shapes of the Destinatari sheet: empty sheets, a million formatted empty rows, merged header
cells, formulas without a cached value, duplicate and reserved headers."""

from __future__ import annotations

import pytest

from pecmass_xl.workbook import contract as c

from .books import HEADERS, ROW, add_formatted_empty_rows, build_book, patch_list_xml, problems_with

LAST_EXCEL_ROW = 1_048_576


# ----------------------------------------------------------------------------------- empty sheets
def test_list_with_headers_only_reports_only_the_empty_list(make_book, check):
    rc, found, doc = check(make_book(rows=[]))
    assert rc == 1
    assert found == [("list_empty", None, None)]
    assert doc["rows"] == 0


def test_completely_empty_list_sheet(make_book, check):
    def clear(wb):
        wb[c.SHEET_LIST].delete_rows(1, 10)
    rc, found, doc = check(make_book(edit=clear))
    assert rc == 1
    assert doc["rows"] == 0
    assert ("list_empty", None, None) in found
    assert ("address_column_missing", None, c.SET_ADDRESS_COLUMN) in found
    # the templates name fields that do not exist any more
    assert ("template_unknown_field", None, c.MSG_SUBJECT) in found


def test_empty_message_sheet_asks_for_subject_and_text(make_book, check):
    def clear(wb):
        wb[c.SHEET_MESSAGE].delete_rows(1, 50)
    rc, found, _ = check(make_book(edit=clear))
    assert rc == 1
    assert ("setting_missing", None, c.MSG_SUBJECT) in found
    assert ("setting_missing", None, c.MSG_TEXT) in found


def test_empty_settings_sheet(make_book, check):
    def clear(wb):
        wb[c.SHEET_SETTINGS].delete_rows(1, 50)
    rc, found, _ = check(make_book(rows=[["mario.rossi@pec.esempio.it", "Mario", "Rossi", None]], edit=clear))
    assert rc == 1
    # no provider: Personalizzato, which names no servers
    assert ("setting_missing", None, c.SET_MAILBOX) in found
    assert ("setting_missing", None, c.SET_SMTP_HOST) in found
    assert ("setting_missing", None, c.SET_IMAP_HOST) in found
    assert all(row is None for _, row, _ in found)


@pytest.mark.parametrize("sheet", [c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS])
def test_missing_sheet(sheet, make_book, check):
    rc, found, doc = check(make_book(edit=lambda wb: wb.remove(wb[sheet])))
    assert rc == 1
    assert [p["message"] for p in problems_with(doc, "sheet_missing")] == [
        f"Manca il foglio «{sheet}»: usate una cartella di lavoro creata con «pecmass new»."]


def test_blank_rows_between_recipients_are_skipped(make_book, check, cli):
    rows = [ROW, [None] * 4, [None] * 4, ["anna.bianchi@pec.test", "Anna", "Bianchi", None]]
    path = make_book(rows=rows)
    rc, found, doc = check(path)
    assert (rc, found, doc["rows"]) == (0, [], 2)
    result = cli("preview", path, "--row", 5, "--json")
    assert result.rc == 0
    assert result.json["to"] == "anna.bianchi@pec.test"
    assert cli("preview", path, "--row", 3).rc == 2


# ------------------------------------------------------------------- a million formatted rows
@pytest.fixture(scope="module")
def million_rows(tmp_path_factory):
    """Two recipients (rows 2 and 4), then styled empty cells down to Excel's last row."""
    folder = tmp_path_factory.mktemp("million")
    cells = build_book(folder / "celle.xlsx", rows=[ROW, [None] * 4, ["anna@pec.test", "Anna", "Bianchi", None]])
    add_formatted_empty_rows(cells, first=5)
    rows = build_book(folder / "righe.xlsx", rows=[ROW, [None] * 4, ["anna@pec.test", "Anna", "Bianchi", None]])
    add_formatted_empty_rows(rows, first=5, columns=())
    return {"celle": cells, "righe": rows}


@pytest.mark.parametrize("kind", ["celle", "righe"])
def test_million_formatted_empty_rows(kind, million_rows, check):
    rc, found, doc = check(million_rows[kind])
    assert (rc, found, doc["rows"]) == (0, [], 2)


def test_value_far_below_among_formatted_rows_is_read(tmp_path, check):
    """A recipient at row 200,000 inside a million formatted rows: the fast path must not drop it."""
    path = build_book(tmp_path / "lontano.xlsx")
    far = ('<row r="200000" spans="1:15"><c r="A200000" t="inlineStr"><is><t>lontano@pec.test</t></is></c>'
           '<c r="B200000" t="inlineStr"><is><t>Lino</t></is></c><c r="C200000" t="inlineStr"><is><t>Lontano</t></is></c></row>')
    add_formatted_empty_rows(path, first=3, columns=(), replace={200000: far})
    rc, found, doc = check(path)
    assert (rc, found, doc["rows"]) == (0, [], 2)


def test_last_value_row_found_across_chunk_boundaries(make_book, monkeypatch):
    """Tiny read chunks split every tag somewhere: the rows read must not change."""
    from pecmass_xl.workbook import read as workbook_read
    from pecmass_xl.workbook import xlsx_stream
    rows = [[f"r{i}@pec.test", f"Nome {i}", f"Cognome {i}" * (i % 7), None] for i in range(2, 120)]
    rows[50] = [None] * 4
    path = make_book(rows=rows)
    add_formatted_empty_rows(path, first=len(rows) + 2, last=len(rows) + 400)
    expected = [(r.number, dict(r.values)) for r in workbook_read.read_workbook(path).rows]
    assert len(expected) == len(rows) - 1 and expected[-1][0] == len(rows) + 1
    for chunk in (7, 64, 333):
        monkeypatch.setattr(xlsx_stream, "_SCAN_CHUNK", chunk)
        monkeypatch.setattr(xlsx_stream, "_CHUNK", chunk)
        assert [(r.number, dict(r.values)) for r in workbook_read.read_workbook(path).rows] == expected


def test_rows_without_numbers_are_all_read(make_book):
    """`<row>` without `r` (some generators): no fast path, every row is read."""
    from pecmass_xl.workbook import read as workbook_read
    path = make_book(rows=[ROW, ["anna@pec.test", "Anna", "Bianchi", None]])
    patch_list_xml(path, '<row r="3">', "<row>")
    sheet = workbook_read.read_workbook(path)
    assert [r.values["PEC"] for r in sheet.rows] == ["mario.rossi@pec.test", "anna@pec.test"]


# ------------------------------------------------------------------------------- merged headers
@pytest.mark.parametrize("ref", ["B1:C1", "A1:A2", "D1:E1"])
def test_merged_header_cells(ref, make_book, check):
    def merge(wb):
        wb[c.SHEET_LIST].merge_cells(ref)
    rc, found, doc = check(make_book(edit=merge))
    assert rc == 1
    merged = problems_with(doc, "header_merged")
    assert len(merged) == 1
    assert merged[0]["row"] is None and merged[0]["column"] is None
    assert f"Le celle {ref} della riga delle intestazioni sono unite" in merged[0]["message"]


def test_merged_cells_below_the_header_are_fine(make_book, check):
    rows = [ROW, ["anna@pec.test", "Anna", "Bianchi", None]]
    path = make_book(rows=rows, edit=lambda wb: wb[c.SHEET_LIST].merge_cells("P2:Q3"))
    rc, found, _ = check(path)
    assert (rc, found) == (0, [])


# --------------------------------------------------------------------------------------- formulas
def test_formula_without_cached_value_in_used_column(make_book, check):
    rows = [["mario.rossi@pec.test", '=PROPER("mario")', "Rossi", None], ["anna@pec.test", "Anna", "=1+1", None]]
    rc, found, _ = check(make_book(rows=rows))
    assert rc == 1
    assert ("formula_no_value", 2, "Nome") in found
    assert ("formula_no_value", 3, "Cognome") in found


def test_formula_without_cached_value_in_address_and_attachment_columns(make_book, check):
    rows = [['=LOWER("MARIO@PEC.TEST")', "Mario", "Rossi", '="doc.pdf"']]
    rc, found, _ = check(make_book(rows=rows))
    assert ("formula_no_value", 2, "PEC") in found
    assert ("formula_no_value", 2, "Allegati") in found


def test_formula_in_a_column_the_templates_do_not_use_is_not_an_error(make_book, check):
    headers = HEADERS + ["Note"]
    rc, found, _ = check(make_book(headers=headers, rows=[ROW + ['=CONCAT("a","b")']]))
    assert (rc, found) == (0, [])


def test_formula_with_cached_value_renders_the_value(make_book, check, cli):
    path = make_book(rows=[["mario.rossi@pec.test", '=PROPER("mario")', "Rossi", None]])
    # What Excel saves: the formula and its last computed value.
    patch_list_xml(path, '<c r="B2"><f>PROPER("mario")</f><v></v></c>',
                   '<c r="B2" t="str"><f>PROPER("mario")</f><v>Mario</v></c>')
    rc, found, _ = check(path)
    assert (rc, found) == (0, [])
    assert cli("preview", path, "--row", 2, "--json").json["subject"] == "Avviso per Mario Rossi"


# ------------------------------------------------------------------------- duplicate / reserved
@pytest.mark.parametrize("extra, code, message_words", [
    ("nome", "header_duplicate", ["«nome» compare due volte", "«Nome»"]),
    ("NOME", "header_duplicate", ["«NOME» compare due volte"]),
    ("Cognome", "header_duplicate", ["«Cognome» compare due volte"]),
    ("stato invio", "header_reserved", ["«stato invio» è riservata", "«Stato invio»"]),
    ("ID INVIO", "header_reserved", ["«ID INVIO» è riservata", "«ID invio»"]),
    ("Stato  invio", "header_reserved", ["«Stato  invio» è riservata"]),
    ("Esito", "header_reserved", ["«Esito» compare due volte"]),
    ("Dettaglio", "header_reserved", ["«Dettaglio» compare due volte"]),
])
def test_duplicate_and_reserved_headers(extra, code, message_words, make_book, check):
    def add(wb):  # after the result columns, as a user would add it
        ws = wb[c.SHEET_LIST]
        ws.cell(1, ws.max_column + 1).value = extra
    rc, found, doc = check(make_book(edit=add))
    assert rc == 1
    hits = problems_with(doc, code)
    assert [(p["row"], p["column"]) for p in hits] == [(None, extra)]
    for word in message_words:
        assert word in hits[0]["message"]


def test_result_column_with_spaces_is_still_the_result_column(make_book, check):
    def spaced(wb):
        ws = wb[c.SHEET_LIST]
        for cell in ws[1]:
            if cell.value == c.COL_DETAIL:
                cell.value = " Dettaglio "
    rc, found, _ = check(make_book(edit=spaced))
    assert rc == 0
    assert found == [("header_spaces", None, c.COL_DETAIL)]


def test_list_without_result_columns_checks_fine(make_book, check):
    rc, found, _ = check(make_book(results=False))
    assert (rc, found) == (0, [])


def test_header_cells_that_are_numbers(make_book, check, cli):
    headers = HEADERS + [2024]
    path = make_book(headers=headers, rows=[ROW + [150]], message={c.MSG_TEXT: 'Quota {{ riga["2024"] }}'}, results=False)
    rc, found, _ = check(path)
    assert (rc, found) == (0, [])
    assert cli("preview", path, "--row", 2, "--json").json["text"] == "Quota 150"
