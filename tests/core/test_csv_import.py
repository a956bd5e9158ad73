"""`pecmass import-csv`: delimiters, encodings, trimmed headers, empty lines, values kept as text."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from pecmass_xl.workbook import contract as c

from .books import list_values

CSV_ROWS = [["PEC", "Nome", "Cognome", "CAP", "Città"],
            ["mario.rossi@pec.test", "Mario", "Rossi", "00184", "Roma"],
            ["anna.bianchi@pec.test", "Anna", "Bianchi", "20121", "Milano"],
            ["luca.verdi@pec.test", "Luca", "D'Angelo", "00100", "Forlì"]]


def _write_csv(path, delimiter=",", encoding="utf-8", rows=CSV_ROWS, newline="\r\n"):
    text = newline.join(delimiter.join(row) for row in rows) + newline
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("delimiter, said", [(",", "virgola"), (";", "punto e virgola"), ("\t", "tabulazione")])
@pytest.mark.parametrize("encoding, said_encoding", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252")])
def test_delimiters_and_encodings(delimiter, said, encoding, said_encoding, tmp_path, cli):
    csv_path = _write_csv(tmp_path / "lista.csv", delimiter, encoding)
    book = tmp_path / "campagna.xlsx"
    result = cli("import-csv", csv_path, book)
    assert result.rc == 0, result.err
    assert f"Importate 3 righe (5 colonne, separatore {said}, codifica {said_encoding})" in result.out
    values = list_values(book)
    assert values[0] == tuple(CSV_ROWS[0]) + c.RESULT_COLUMNS
    assert [v[:5] for v in values[1:]] == [tuple(r) for r in CSV_ROWS[1:]]


def test_windows_1252_accents(tmp_path, cli):
    csv_path = tmp_path / "lista.csv"
    csv_path.write_bytes("PEC;Nome;Nota\r\nmario@pec.test;Niccolò;è più così\r\n".encode("cp1252"))
    assert cli("import-csv", csv_path, tmp_path / "c.xlsx").rc == 0
    assert list_values(tmp_path / "c.xlsx")[1][:3] == ("mario@pec.test", "Niccolò", "è più così")


def test_values_stay_text_and_render_as_written(tmp_path, cli):
    rows = [["PEC", "Nome", "Cognome", "CAP", "Importo", "Data", "Codice"],
            ["mario@pec.test", "Mario", "Rossi", "00184", "1.234,50", "01/02/2026", "=1+1"]]
    csv_path = _write_csv(tmp_path / "lista.csv", ";", rows=rows)
    book = tmp_path / "campagna.xlsx"
    assert cli("import-csv", csv_path, book).rc == 0
    ws = load_workbook(book)[c.SHEET_LIST]
    for col, expected in enumerate(rows[1], start=1):
        cell = ws.cell(2, col)
        assert (cell.value, cell.data_type) == (expected, "s")
    assert ws["D2"].number_format == "@"
    wb = load_workbook(book)
    msg = wb[c.SHEET_MESSAGE]
    for row in msg.iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = "CAP {{ CAP }}"
        elif row[0].value == c.MSG_TEXT:
            row[1].value = "{{ Importo }} / {{ Importo|euro }} / {{ Data|data }} / {{ Codice }}"
        elif row[0].value == c.MSG_FIELDS:
            assert row[1].value == "PEC, Nome, Cognome, CAP, Importo, Data, Codice"
    wb.save(book)
    preview = cli("preview", book, "--row", 2, "--json").json
    assert preview["subject"] == "CAP 00184"
    assert preview["text"] == "1.234,50 / 1.234,50 € / 01/02/2026 / =1+1"


def test_trimmed_headers_warn(tmp_path, cli):
    csv_path = tmp_path / "lista.csv"
    csv_path.write_text(" PEC ;Nome  ;\tCognome\nmario@pec.test;Mario;Rossi\n", encoding="utf-8")
    result = cli("import-csv", csv_path, tmp_path / "c.xlsx")
    assert result.rc == 0
    assert "Avviso: Intestazione « PEC » (colonna 1): spazi iniziali o finali rimossi." in result.err
    assert "Avviso: Intestazione «Nome  » (colonna 2)" in result.err
    assert list_values(tmp_path / "c.xlsx")[0][:3] == ("PEC", "Nome", "Cognome")


def test_empty_lines_skipped(tmp_path, cli):
    csv_path = tmp_path / "lista.csv"
    csv_path.write_text("\nPEC,Nome\n\nmario@pec.test,Mario\n  \n,\n\nanna@pec.test,Anna\n\n", encoding="utf-8")
    result = cli("import-csv", csv_path, tmp_path / "c.xlsx")
    assert result.rc == 0
    assert "Importate 2 righe" in result.out
    assert [v[:2] for v in list_values(tmp_path / "c.xlsx")[1:]] == [("mario@pec.test", "Mario"), ("anna@pec.test", "Anna")]


def test_quoted_fields_with_delimiters_and_line_breaks(tmp_path, cli):
    csv_path = tmp_path / "lista.csv"
    csv_path.write_text('PEC;Nome;Indirizzo\r\nmario@pec.test;"Rossi; Mario";"Via Roma 1\r\n00184 Roma"\r\n', encoding="utf-8")
    assert cli("import-csv", csv_path, tmp_path / "c.xlsx").rc == 0
    assert list_values(tmp_path / "c.xlsx")[1][:3] == ("mario@pec.test", "Rossi; Mario", "Via Roma 1\n00184 Roma")


def test_short_and_long_records(tmp_path, cli):
    csv_path = tmp_path / "lista.csv"
    csv_path.write_text("PEC,Nome,Cognome\nmario@pec.test,Mario\nanna@pec.test,Anna,Bianchi,extra\n", encoding="utf-8")
    result = cli("import-csv", csv_path, tmp_path / "c.xlsx")
    assert result.rc == 0
    assert "Riga 3 del CSV: più valori che intestazioni" in result.err
    assert [v[:3] for v in list_values(tmp_path / "c.xlsx")[1:]] == [("mario@pec.test", "Mario", None),
                                                                     ("anna@pec.test", "Anna", "Bianchi")]


def test_refuses_to_replace_a_non_empty_list(tmp_path, cli):
    book = tmp_path / "campagna.xlsx"
    assert cli("import-csv", _write_csv(tmp_path / "a.csv"), book).rc == 0
    before = book.read_bytes()
    second = _write_csv(tmp_path / "b.csv", rows=[["PEC", "Nome"], ["nuovo@pec.test", "Nuovo"]])
    result = cli("import-csv", second, book)
    assert result.rc == 2
    assert "contiene già 3 righe: usate --replace" in result.err
    assert book.read_bytes() == before
    result = cli("import-csv", second, book, "--replace")
    assert result.rc == 0
    assert list_values(book)[1:] == [("nuovo@pec.test", "Nuovo") + (None,) * len(c.RESULT_COLUMNS)]


def test_import_into_an_existing_empty_list_keeps_the_rest(make_book, tmp_path, cli):
    book = make_book(rows=[], settings={c.SET_PROVIDER: "Aruba"})
    result = cli("import-csv", _write_csv(tmp_path / "a.csv"), book)
    assert result.rc == 0
    wb = load_workbook(book)
    assert wb.sheetnames[0] == c.SHEET_LIST
    settings = {r[0]: r[1] for r in wb[c.SHEET_SETTINGS].iter_rows(values_only=True) if r[0]}
    assert settings[c.SET_PROVIDER] == "Aruba"


@pytest.mark.parametrize("name", ["nuova.xlsx", "nuova.xlsm"])
def test_import_into_a_new_workbook_replaces_the_untouched_example_row(name, tmp_path, cli):
    """Issue 14.6: the first import was refused ("contiene già 1 righe: usate --replace")."""
    book = tmp_path / name
    assert cli("new", book).rc == 0
    result = cli("import-csv", _write_csv(tmp_path / "a.csv"), book)
    assert result.rc == 0, result.err
    values = list_values(book)
    assert len(values) == 4 and values[1][0] == "mario.rossi@pec.test"


def test_an_edited_example_row_is_the_user_s_list(tmp_path, cli):
    book = tmp_path / "nuova.xlsx"
    assert cli("new", book).rc == 0
    wb = load_workbook(book)
    wb[c.SHEET_LIST]["B2"] = "Maria"  # the user started writing the list
    wb.save(book)
    result = cli("import-csv", _write_csv(tmp_path / "a.csv"), book)
    assert result.rc == 2
    assert "contiene già 1 riga: usate --replace per sostituirla" in result.err
    assert cli("import-csv", _write_csv(tmp_path / "a.csv"), book, "--replace").rc == 0


def test_missing_address_column_warns(tmp_path, cli):
    csv_path = _write_csv(tmp_path / "a.csv", rows=[["Email", "Nome"], ["a@pec.test", "A"]])
    result = cli("import-csv", csv_path, tmp_path / "c.xlsx")
    assert result.rc == 0
    assert "Il CSV non ha la colonna «PEC» (Colonna indirizzo)" in result.err


def test_reserved_headers_refused(tmp_path, cli):
    csv_path = _write_csv(tmp_path / "a.csv", rows=[["PEC", "Stato invio"], ["a@pec.test", "x"]])
    result = cli("import-csv", csv_path, tmp_path / "c.xlsx")
    assert result.rc == 2
    assert "intestazioni riservate" in result.err and "Stato invio" in result.err


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_csv(content, tmp_path, cli):
    (tmp_path / "a.csv").write_bytes(content)
    result = cli("import-csv", tmp_path / "a.csv", tmp_path / "c.xlsx")
    assert result.rc == 2
    assert "è vuoto" in result.err or "non ha righe" in result.err


def test_missing_csv(tmp_path, cli):
    result = cli("import-csv", tmp_path / "manca.csv", tmp_path / "c.xlsx")
    assert result.rc == 2
    assert "Non riesco a leggere il file CSV" in result.err
    assert not (tmp_path / "c.xlsx").exists()


def test_import_refused_while_open_in_excel(tmp_path, cli):
    book = tmp_path / "campagna.xlsx"
    cli("new", book)
    (tmp_path / "~$campagna.xlsx").write_bytes(b"x")
    before = book.read_bytes()
    result = cli("import-csv", _write_csv(tmp_path / "a.csv"), book, "--replace")
    assert result.rc == 2 and "aperta in Excel" in result.err
    assert book.read_bytes() == before


def test_imported_list_checks_clean(tmp_path, cli):
    book = tmp_path / "campagna.xlsx"
    cli("import-csv", _write_csv(tmp_path / "a.csv", ";"), book)
    wb = load_workbook(book)
    for row in wb[c.SHEET_MESSAGE].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = "Avviso {{ Nome }} {{ Cognome }}"
        elif row[0].value == c.MSG_TEXT:
            row[1].value = "CAP {{ CAP }} {{ Città }}"
    wb.save(book)
    result = cli("check", book, "--json")
    assert (result.rc, result.json) == (0, {"rows": 3, "problems": []})
    assert cli("preview", book, "--row", 4, "--json").json["subject"] == "Avviso Luca D'Angelo"


def test_imported_amounts_and_dates_are_aligned_but_stay_text(tmp_path, cli):
    """Issue 14.8: after an import amounts and dates were left-aligned text; a CAP stays plain text."""
    rows = [["PEC", "Importo", "Scadenza", "CAP", "Nota"],
            ["mario@pec.test", "1.500,00", "31/12/2026", "00184", "prima"],
            ["anna@pec.test", "89,90", "01/02/2027", "20121", "1.5"]]
    book = tmp_path / "campagna.xlsx"
    assert cli("import-csv", _write_csv(tmp_path / "a.csv", ";", rows=rows), book).rc == 0
    ws = load_workbook(book)[c.SHEET_LIST]
    for row in (2, 3):
        assert ws.cell(row, 2).alignment.horizontal == "right" and ws.cell(row, 2).data_type == "s"
        assert ws.cell(row, 3).alignment.horizontal == "center" and ws.cell(row, 3).data_type == "s"
        assert ws.cell(row, 4).alignment.horizontal is None  # leading zeros: a code, not an amount
        assert ws.cell(row, 5).alignment.horizontal is None  # "1.5" is not an Italian number
    assert ws.column_dimensions["B"].alignment.horizontal == "right"  # rows typed later too
    assert ws["B2"].value == "1.500,00"  # printed as written
