"""Hostile workbook packages (issue 11 part 5): a DTD anywhere in any part is refused before a
parser sees it, and every XML part has a cap on its uncompressed size, read from the zip directory
before anything is inflated. The messages are Italian and say what is wrong."""

from __future__ import annotations

import zipfile

import pytest

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.workbook.read import read_workbook
from pecmass_xl.workbook.xlsx_stream import MAX_OTHER_PART

from .books import SHEET_NS, build_book, list_member, replace_list_sheet, rewrite_member

LAUGHS = ('<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>')
LONG_COMMENT = "<!--" + "x" * 10_000 + "-->"


def _insert_after_declaration(data: bytes, inserted: str) -> bytes:
    text = data.decode("utf-8")
    if text.startswith("<?xml"):
        end = text.index("?>") + 2
        return (text[:end] + inserted + text[end:]).encode("utf-8")
    return (inserted + text).encode("utf-8")


def _with_dtd(path, member):
    rewrite_member(path, member, lambda data, out: out.write(_insert_after_declaration(data, LONG_COMMENT + LAUGHS)))


def _refused(path, cli, words):
    with pytest.raises(CannotRun) as raised:
        read_workbook(path)
    assert words in str(raised.value), str(raised.value)
    result = cli("check", path)
    assert result.rc == 2 and words in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("member", ["list", "xl/sharedStrings.xml", "xl/styles.xml", "xl/workbook.xml",
                                    "xl/_rels/workbook.xml.rels", "docProps/core.xml", "[Content_Types].xml"])
def test_a_dtd_after_a_long_comment_is_refused_in_any_part(member, tmp_path, cli):
    path = build_book(tmp_path / "dtd.xlsx")
    member = list_member(path) if member == "list" else member
    if member == "xl/sharedStrings.xml":  # what Excel writes (openpyxl writes inline strings)
        replace_list_sheet(path, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared_strings=["<t>PEC</t>"])
    _with_dtd(path, member)
    _refused(path, cli, "dichiarazione DTD")


def test_a_dtd_in_a_part_encoded_as_utf16_is_refused(tmp_path, cli):
    path = build_book(tmp_path / "utf16.xlsx")
    text = f'<?xml version="1.0" encoding="UTF-16"?>{LONG_COMMENT}{LAUGHS}<worksheet xmlns="{SHEET_NS}"><sheetData/></worksheet>'
    rewrite_member(path, "docProps/app.xml", lambda data, out: out.write(text.encode("utf-16")))
    _refused(path, cli, "dichiarazione DTD")


def test_a_dtd_across_a_chunk_boundary_of_a_big_sheet_is_refused(tmp_path, cli):
    path = build_book(tmp_path / "big.xlsx")
    comment = "<!--" + "y" * ((1 << 20) - 10) + "-->"  # the marker straddles the 1 MiB scan chunk
    rewrite_member(path, list_member(path), lambda data, out: out.write(_insert_after_declaration(data, comment + LAUGHS)))
    _refused(path, cli, "dichiarazione DTD")


def test_an_xml_part_beyond_its_cap_is_refused_before_it_is_inflated(tmp_path, cli):
    path = build_book(tmp_path / "bomba.xlsx")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("customXml/item1.xml", "w", force_zip64=True) as stream:
            stream.write(b"<a>")
            block = b" " * (1 << 20)
            for _ in range(MAX_OTHER_PART // len(block) + 1):
                stream.write(block)
            stream.write(b"</a>")
    assert path.stat().st_size < 2_000_000  # a small file that would inflate to more than the cap
    _refused(path, cli, "oltre il limite di 64 MiB")


def test_a_sheet_beyond_its_cap_is_refused(tmp_path, cli, monkeypatch):
    from pecmass_xl.workbook import xlsx_stream

    monkeypatch.setattr(xlsx_stream, "MAX_SHEET_PART", 1 << 20)  # a 1 GiB sheet is too slow to build in a test
    path = build_book(tmp_path / "grande.xlsx", rows=[["a@pec.test", "x" * 2000, "y", None]] * 600)
    _refused(path, cli, "oltre il limite di 1 MiB")


def test_check_write_on_a_sheet_formatted_to_the_last_row_refuses_with_advice(tmp_path, cli):
    from .books import ROW, add_formatted_empty_rows

    path = build_book(tmp_path / "milione.xlsx", rows=[ROW, ["anna@pec.test", "Anna", "Bianchi", None]])
    add_formatted_empty_rows(path, first=4)
    before = path.read_bytes()
    assert cli("check", path).rc == 0  # reading never loads the formatted rows
    result = cli("check", path, "--write", "--yes")
    assert result.rc == 2
    assert "celle, formattate fino alla riga 1.048.576. Eliminate le righe vuote" in result.err and "GB di memoria" in result.err
    assert path.read_bytes() == before
    listing = tmp_path / "lista.csv"
    listing.write_text("PEC;Nome;Cognome\nmario@pec.test;Mario;Rossi\n", encoding="utf-8")
    imported = cli("import-csv", listing, path, "--replace")
    assert imported.rc == 2 and "GB di memoria" in imported.err
    assert path.read_bytes() == before


def test_the_write_memory_estimate_is_not_below_what_openpyxl_takes(tmp_path):
    """The estimate must be conservative: a real load in a child process, its peak memory measured."""
    import subprocess
    import sys

    from pecmass_xl.workbook.write import estimate_write_memory

    from .books import ROW, add_formatted_empty_rows

    path = build_book(tmp_path / "misura.xlsx", rows=[ROW])
    add_formatted_empty_rows(path, first=3, last=150_000)
    probe = ("import resource, sys; from openpyxl import load_workbook; load_workbook(sys.argv[1]); "
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)")
    peak = int(subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True).stdout)
    assert estimate_write_memory(path).bytes >= peak


def test_a_sheet_holding_more_cells_than_memory_allows_is_refused(tmp_path, cli, monkeypatch):
    from pecmass_xl.workbook import xlsx_stream

    monkeypatch.setattr(xlsx_stream, "MAX_SHEET_CELLS", 50)  # 3,000,000 cells take minutes to build in a test
    path = build_book(tmp_path / "celle.xlsx", rows=[["a@pec.test", "Anna", "Bianchi", None]] * 20)
    _refused(path, cli, "più di 50 celle compilate")


@pytest.mark.parametrize("cell", ['<c r="XFE2" t="inlineStr"><is><t>x</t></is></c>', '<c r="A1048577" t="inlineStr"><is><t>x</t></is></c>'])
def test_a_cell_outside_excel_grid_is_refused(cell, tmp_path, cli):
    path = build_book(tmp_path / "griglia.xlsx")
    replace_list_sheet(path, '<row r="1"><c r="A1" t="inlineStr"><is><t>PEC</t></is></c></row>'
                             f'<row r="2">{cell}</row>')
    _refused(path, cli, "oltre la griglia di Excel")
