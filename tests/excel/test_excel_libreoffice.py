"""LibreOffice headless as a second, independent consumer of the template.

It opens the file, imports the VBA project (checked in the ODS it converts to), runs the VBA of the
Campi menu through the UNO bridge, and prints the sheets so that a person can look at them.
Skipped with a visible reason when LibreOffice is absent; PECMASS_REQUIRE_LIBREOFFICE=1 (CI) makes
the skips failures.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from fixture_files import in_ci, require_tool
from lxml import etree
from openpyxl import load_workbook

from pecmass_xl.campaign.templates import compile_template
from pecmass_xl.campaign.templates import render as render_template
from pecmass_xl.excel import build
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.cell_values import CellText
from tools import render_workbook as render

from .conftest import require_libreoffice

PROBE = Path(__file__).with_name("lo_probe.py")
UNO_PYTHONS = ("/usr/bin/python3", "/usr/lib/libreoffice/program/python")


def uno_python() -> str:
    """A Python with the UNO bridge (python3-uno), to drive LibreOffice."""
    require_libreoffice()
    candidates = [os.environ.get("PECMASS_UNO_PYTHON"), *UNO_PYTHONS]
    for candidate in filter(None, candidates):
        if Path(candidate).exists():
            check = subprocess.run([candidate, "-c", "import uno"], capture_output=True)
            if check.returncode == 0:
                return candidate
    reason = "nessun Python con il ponte UNO di LibreOffice: apt-get install python3-uno"
    if in_ci():
        pytest.fail(reason + " (.ci/run lo installa: qui deve esserci)")
    pytest.skip(reason)


def test_libreoffice_opens_the_template_and_imports_its_vba(template_path, tmp_path):
    require_libreoffice()
    ods = render.convert(template_path, "ods", tmp_path, tmp_path / "profilo")
    with zipfile.ZipFile(ods) as archive:
        basic = {Path(n).stem: archive.read(n).decode("utf-8") for n in archive.namelist()
                 if n.startswith("Basic/VBAProject/") and not n.endswith("script-lb.xml")}
        sheets = archive.read("content.xml").decode("utf-8")
    sources = {p.stem: p.read_text(encoding="utf-8") for p in build.VBA_DIR.iterdir() if p.suffix in (".bas", ".cls")}
    assert set(basic) == set(sources)
    for name, source in sources.items():
        imported = etree.fromstring(basic[name].encode()).text
        assert "Option VBASupport 1" in imported
        code_lines = [line.rstrip() for line in source.splitlines() if not line.startswith("Attribute ")]
        kept = [line.rstrip() for line in imported.splitlines()]
        position = 0
        for line in filter(None, code_lines):  # every source line, in order
            assert line in kept[position:], f"{name}: {line!r} missing from LibreOffice's import"
            position = kept.index(line, position) + 1
    for title in (c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS, c.SHEET_SUMMARY):
        assert f'table:name="{title}"' in sheets


HEADERS_TO_TRY = ["Nome", "Città", "Data di nascita", 'Ragione "sociale"', "1anno", "if", "riga",
                  "Codice_fiscale", "percorso\\file", "Età2"]


@pytest.fixture(scope="module")
def probe(tmp_path_factory, template_bytes):
    """Run the VBA of the template in LibreOffice once for this module's tests."""
    python = uno_python()
    work = tmp_path_factory.mktemp("lo-probe")
    workbook = work / "modello.xlsm"
    workbook.write_bytes(template_bytes)
    wb = load_workbook(workbook)
    message = wb[c.SHEET_MESSAGE]
    rows = {row[0].value: row[0].row for row in message.iter_rows(max_col=1)}
    text_cell = f"B{rows[c.MSG_TEXT]}"
    empty_cell = f"B{rows[c.MSG_COMMON_ATTACHMENTS]}"
    plan = {
        "calls": [["FieldMenuXml", []], ["AddinLoaded", []], ["AddinMissingMessage", []], ["HelpMessage", []]]
        + [["PlaceholderFor", [h]] for h in HEADERS_TO_TRY],
        "inserts": [[c.SHEET_MESSAGE, text_cell, "Nome"], [c.SHEET_MESSAGE, empty_cell, "Data di nascita"]],
    }
    (work / "piano.json").write_text(json.dumps(plan), encoding="utf-8")
    completed = subprocess.run(
        [python, str(PROBE), str(workbook), str(work / "profilo"), str(work / "piano.json"), str(work / "esito.json")],
        capture_output=True, text=True, timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((work / "esito.json").read_text(encoding="utf-8"))
    return {
        "result": result,
        "text_cell": f"{c.SHEET_MESSAGE}!{text_cell}",
        "empty_cell": f"{c.SHEET_MESSAGE}!{empty_cell}",
        "text_before": message[text_cell].value,
        "headers": [cell.value for cell in wb[c.SHEET_LIST][1] if cell.value],
    }


def test_vba_modules_are_loaded_by_libreoffice(probe):
    assert probe["result"]["modules"] == sorted(p.stem for p in build.VBA_DIR.iterdir() if p.suffix in (".bas", ".cls"))


def test_campi_menu_lists_the_parameter_headers_and_is_valid_ribbon_xml(probe, ribbon_schema):
    menu_xml = probe["result"]["calls"][0]
    menu = etree.fromstring(menu_xml.encode("utf-8"))
    assert ribbon_schema.validate(etree.ElementTree(menu)), ribbon_schema.error_log
    buttons = list(menu)
    parameters = [h for h in probe["headers"] if h not in c.RESULT_COLUMNS]
    assert [b.get("label") for b in buttons] == parameters
    assert [b.get("tag") for b in buttons] == parameters
    assert {b.get("onAction") for b in buttons} == {"PecMassiva.OnInserisciCampo"}
    assert len({b.get("id") for b in buttons}) == len(buttons)


def test_placeholders_from_vba_render_the_header_value_with_the_real_template_engine(probe):
    placeholders = probe["result"]["calls"][4:]
    assert len(placeholders) == len(HEADERS_TO_TRY)
    for header, placeholder in zip(HEADERS_TO_TRY, placeholders, strict=False):
        compiled = compile_template("Testo", placeholder, HEADERS_TO_TRY)
        assert not compiled.issues, (header, placeholder, compiled.issues)
        assert compiled.fields == {header}
        values = {h: CellText(f"valore di {h}", f"valore di {h}") for h in HEADERS_TO_TRY}
        assert render_template(compiled, values).text == f"valore di {header}", placeholder
    by_header = dict(zip(HEADERS_TO_TRY, placeholders, strict=False))
    assert by_header["Nome"] == "{{ Nome }}" and by_header["Città"] == "{{ Città }}"
    assert by_header["Data di nascita"] == '{{ riga["Data di nascita"] }}'
    assert by_header["if"].startswith("{{ riga[")  # a template keyword is never a bare name


def test_campi_inserts_the_placeholder_into_the_selected_cell(probe):
    cells = probe["result"]["cells"]
    assert cells[probe["text_cell"]] == probe["text_before"] + " {{ Nome }}"
    assert cells[probe["empty_cell"]] == '{{ riga["Data di nascita"] }}'


def test_missing_addin_is_detected_and_explained_in_italian(probe):
    loaded, message, help_text = probe["result"]["calls"][1:4]
    assert loaded is False
    assert "pecmass excel installa" in message and "non risulta caricato" in message
    assert "è quello" in message  # accents restored at run time from the ASCII source
    assert "Invia" in help_text and "`" not in help_text + message


def test_sheets_render_to_png(tmp_path):
    require_libreoffice()
    require_tool("pdftoppm", "poppler-utils")
    pictures = render.render_sheets(build.PACKAGE_TEMPLATE, tmp_path)
    assert list(pictures) == [c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS, c.SHEET_SUMMARY]
    for path in pictures.values():
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 50 and height > 20
