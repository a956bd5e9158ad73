"""The streaming package reader gives the values openpyxl's read-only, data-only mode gives, on
workbooks written by openpyxl and on hand-written sheet XML of the kinds other writers produce."""

from __future__ import annotations

import datetime as dt
import subprocess
import zipfile

import pytest
from fixture_files import require_tool
from openpyxl import load_workbook

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.read import read_workbook
from pecmass_xl.workbook.xlsx_stream import XlsxError, XlsxPackage

from .books import SHEET_NS, build_book, replace_list_sheet


def _openpyxl_rows(path):
    wb = load_workbook(path, read_only=True, data_only=True)
    rows = []
    for position, row in enumerate(wb[c.SHEET_LIST].iter_rows(), start=1):
        cells = [(i, cell.value, cell.number_format) for i, cell in enumerate(row, start=1) if cell.value is not None]
        if cells:
            rows.append((position, cells))
    wb.close()
    return rows


def _stream_rows(path):
    package = XlsxPackage(path)
    try:
        return list(package.rows(c.SHEET_LIST)), package
    finally:
        package.archive.close()


VALUES = ["testo & <simboli> \"virgolette\" 'apici'", "a capo\nseconda riga", "Città è più", "  spazi  ", 42, -7,
          3.25, 1e-7, 12345678901234, True, False, dt.datetime(2026, 2, 3, 4, 5, 6), dt.datetime(1900, 3, 1),
          "=1+2", "#N/D"]


def test_same_values_as_openpyxl(tmp_path):
    formats = {"C2": "0.00", "D2": "00000", "F2": "#,##0.00 €", "L2": "dd/mm/yyyy hh:mm", "M2": "dd/mm/yyyy"}
    path = build_book(tmp_path / "v.xlsx", headers=[f"H{i}" for i in range(len(VALUES))],
                      rows=[VALUES, VALUES[::-1]], formats=formats, results=False)
    rows, _ = _stream_rows(path)
    assert rows == _openpyxl_rows(path)


def test_hand_written_sheet_with_shared_strings(tmp_path):
    path = build_book(tmp_path / "h.xlsx", results=False)
    shared = ["<t>PEC</t>", "<t>Nome</t>", '<t xml:space="preserve"> Cognome </t>',
              "<r><rPr><b/></rPr><t>Ma</t></r><r><t>rio</t></r>",  # rich text: runs joined
              "<t>山田</t><rPh sb=\"0\" eb=\"2\"><t>ヤマダ</t></rPh>",  # phonetic run left out
              "<t>a &amp; b &lt;c&gt; &#224;</t>", "<t/>", "<t>mario@pec.test</t>"]
    sheet = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>'
        '<c r="D1" t="inlineStr"><is><t>Extra</t></is></c></row>'
        '<row r="2" spans="1:4" x14ac:dyDescent="0.25" xmlns:x14ac="urn:x14ac">'
        '<c r="A2" t="s"><v>7</v></c><c r="B2" t="s"><v>3</v></c><c r="C2" t="s"><v>4</v></c>'
        '<c r="D2" t="s"><v>5</v></c></row>'
        '<row r="3"><c r="A3" t="s" s="0"><v>7</v></c><c r="B3"/><c r="C3" t="str"><f>UPPER("x")</f><v>X &amp; Y</v></c>'
        '<c r="D3" t="b"><v>1</v></c></row>'
        '<row r="5"><c t="inlineStr"><is><t>senza-rif@pec.test</t></is></c><c t="inlineStr"><is><t>B</t></is></c>'
        '<c/><c t="n"><v>2.5</v></c></row>'  # cells without references: counted in order
        '<row><c r="A6" t="e"><v>#N/A</v></c><c r="B6"><f t="shared" si="0"/></c>'
        '<c r="C6" t="d"><v>2026-04-05T00:00:00</v></c><c r="D6"><v></v></c></row>'
        '<row r="7" s="3" customFormat="1"/>'
    )
    replace_list_sheet(path, sheet, shared_strings=shared, dimension="A1:D7")
    rows, _ = _stream_rows(path)
    expected = _openpyxl_rows(path)
    assert rows == expected
    # openpyxl trusts <dimension>; the stream reads what is there
    other = build_book(tmp_path / "h2.xlsx", results=False)
    replace_list_sheet(other, sheet, shared_strings=shared, dimension="A1")
    assert _stream_rows(other)[0] == expected
    values = {(r, col): v for r, cells in rows for col, v, _ in cells}
    assert values[(2, 2)] == "Mario" and values[(2, 3)] == "山田" and values[(2, 4)] == "a & b <c> à"
    assert values[(3, 3)] == "X & Y" and values[(3, 4)] is True
    assert values[(5, 1)] == "senza-rif@pec.test" and values[(5, 4)] == 2.5
    assert values[(6, 1)] == "#N/A" and values[(6, 3)] == dt.datetime(2026, 4, 5)


def test_formulas_without_value_are_found(tmp_path):
    path = build_book(tmp_path / "f.xlsx", results=False)
    sheet = ('<row r="1"><c r="A1" t="inlineStr"><is><t>PEC</t></is></c></row>'
             '<row r="2"><c r="A2"><f>B2</f><v></v></c><c r="B2"><f t="shared" ref="B2:B3" si="0">C2</f></c></row>'
             '<row r="3"><c r="B3"><f t="shared" si="0"/></c><c r="C3"><f>1</f><v>1</v></c></row>')
    replace_list_sheet(path, sheet)
    package = XlsxPackage(path)
    rows = package.rows(c.SHEET_LIST)
    assert list(rows) == [(1, [(1, "PEC", "General")]), (3, [(3, 1, "General")])]
    assert rows.formulas_without_value == {(2, 1), (2, 2), (3, 2)}


def test_namespace_prefixed_sheet(tmp_path):
    """Some generators write `<x:row>`: read through the XML parser like any other sheet."""
    path = build_book(tmp_path / "p.xlsx")
    root = (f'<x:worksheet xmlns:x="{SHEET_NS}"><x:sheetData>'
            '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>PEC</x:t></x:is></x:c>'
            '<x:c r="B1" t="inlineStr"><x:is><x:t>Nome</x:t></x:is></x:c>'
            '<x:c r="C1" t="inlineStr"><x:is><x:t>Cognome</x:t></x:is></x:c></x:row>'
            '<x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:t>mario@pec.test</x:t></x:is></x:c>'
            '<x:c r="B2" t="inlineStr"><x:is><x:t>Mario</x:t></x:is></x:c>'
            '<x:c r="C2" t="inlineStr"><x:is><x:t>Rossi</x:t></x:is></x:c></x:row>'
            '</x:sheetData><x:mergeCells><x:mergeCell ref="D1:E1"/></x:mergeCells></x:worksheet>')
    replace_list_sheet(path, "", root=root)
    sheet = read_workbook(path)
    assert [h.name for h in sheet.headers] == ["PEC", "Nome", "Cognome"]
    assert [(r.number, r.values["PEC"], r.values["Cognome"]) for r in sheet.rows] == [(2, "mario@pec.test", "Rossi")]
    assert sheet.merged_header_ranges == ["D1:E1"]


def test_date_1904_epoch(tmp_path):
    path = build_book(tmp_path / "d.xlsx", headers=["PEC", "Data"], rows=[["a@pec.test", dt.datetime(2026, 1, 2)]],
                      formats={"B2": "dd/mm/yyyy"}, results=False)
    base = _openpyxl_rows(path)
    # the same serial number read with the 1904 epoch is four years and a day later, as in Excel for Mac
    with zipfile.ZipFile(path) as archive:
        original = archive.read("xl/worksheets/sheet1.xml").decode()
    replace_list_sheet(path, "", root=original, date1904=True)
    rows, _ = _stream_rows(path)
    assert rows == _openpyxl_rows(path)
    assert rows[1][1][1][1] == base[1][1][1][1] + dt.timedelta(days=1462)


@pytest.mark.parametrize("evil", [
    '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]><worksheet xmlns="{ns}"><sheetData/></worksheet>',
    '<?xml version="1.0"?><!DOCTYPE w SYSTEM "file:///etc/passwd"><worksheet xmlns="{ns}"><sheetData/></worksheet>',
])
def test_parts_declaring_a_dtd_are_refused(evil, tmp_path, cli):
    path = build_book(tmp_path / "e.xlsx")
    replace_list_sheet(path, "", root=evil.format(ns=SHEET_NS))
    with pytest.raises(CannotRun, match="dichiarazione DTD"):
        read_workbook(path)
    assert cli("check", path).rc == 2


def test_broken_files_cannot_run(tmp_path, cli):
    path = build_book(tmp_path / "b.xlsx")
    replace_list_sheet(path, "", root=f'<worksheet xmlns="{SHEET_NS}"><sheetData><row r="1"><c r="A1"><v>1</v>')
    result = cli("check", path)
    assert result.rc == 2 and "non è una cartella di lavoro Excel leggibile" in result.err
    truncated = tmp_path / "t.xlsx"
    truncated.write_bytes(build_book(tmp_path / "ok.xlsx").read_bytes()[:3000])
    assert cli("check", truncated).rc == 2
    with pytest.raises(XlsxError):
        XlsxPackage(tmp_path / "manca.xlsx")


def test_workbook_saved_by_libreoffice(tmp_path, cli):
    """Another writer (shared strings, its own styles and dimension): same values as openpyxl reads."""
    require_tool("soffice", "libreoffice-calc-nogui", "libreoffice")
    rows = [["mario@pec.test", "Mario", "Rossi", None, 184, 1234.5, dt.datetime(2026, 1, 2), True, "a & b <c>\nriga"],
            ["anna@pec.test", "Anna", "Bianchi", None, 20121, -3, dt.datetime(2026, 2, 3, 10, 30), False, "Città"]]
    source = build_book(tmp_path / "sorgente.xlsx", headers=["PEC", "Nome", "Cognome", "Allegati", "CAP", "Importo", "Data",
                                                             "Flag", "Nota"], rows=rows,
                        formats={"E2": "00000", "E3": "00000", "F2": "#,##0.00", "G2": "dd/mm/yyyy", "G3": "dd/mm/yyyy hh:mm"},
                        message={c.MSG_TEXT: "CAP {{ CAP }}, {{ Importo }}, {{ Data }}, {{ Flag }}, {{ Nota }}"})
    out = tmp_path / "lo"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'profilo'}", "--headless", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=180)
    saved = out / "sorgente.xlsx"
    rows_read, _ = _stream_rows(saved)
    assert rows_read == _openpyxl_rows(saved)
    result = cli("preview", saved, "--row", 2, "--json")
    assert result.rc == 0
    assert result.json["text"] == "CAP 00184, 1.234,50, 02/01/2026, Sì, a & b <c>\nriga"
