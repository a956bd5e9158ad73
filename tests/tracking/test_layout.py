"""On screen and on paper (issue 14.8): a finished demo workbook opened as a user would — with
openpyxl for what is stored, and through LibreOffice for how it prints."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pecmass_xl.core.vocabulary import STATUS_COLOURS
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.riepilogo import NEUTRAL_COLOUR

ROME = zoneinfo.ZoneInfo("Europe/Rome")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`pecmass demo` run once, in a process on UTC (like a server), as the user runs it."""
    folder = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, TZ="UTC", PECMASS_DATA_DIR=str(folder / "dati"), PECMASS_SANDBOX_DIR=str(folder / "sb"))
    result = subprocess.run([sys.executable, "-m", "pecmass_xl", "demo", "--dir", str(folder / "run"), "--json"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    return folder / "run" / "demo.xlsx"


def test_every_sheet_prints_landscape_one_page_wide_with_its_header(demo):
    wb = load_workbook(demo)
    visible = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert [ws.title for ws in visible] == [c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS, c.SHEET_SUMMARY]
    for ws in visible:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth == 1, ws.title
    assert wb[c.SHEET_LIST].print_title_rows == "$1:$1"
    assert wb[c.SHEET_LIST].page_setup.fitToHeight == 0  # as many pages tall as the list needs
    assert wb[c.SHEET_SUMMARY].page_setup.fitToHeight == 1  # Riepilogo on one page


def test_headers_bold_and_frozen_widths_fitted_detail_wrapped_dates_centred(demo):
    ws = load_workbook(demo)[c.SHEET_LIST]
    headers = {cell.value: cell for cell in ws[1] if cell.value}
    assert all(cell.font.b for cell in headers.values())
    assert ws.freeze_panes in ("A2", "B2")
    width = {name: ws.column_dimensions[cell.column_letter].width for name, cell in headers.items()}
    longest = max(len(str(ws.cell(r, headers["PEC"].column).value)) for r in range(2, ws.max_row + 1))
    assert width["PEC"] >= longest  # long addresses are not cut off
    assert all(w <= 60 for w in width.values())  # a cap: no column wider than a screen
    detail = ws.cell(2, headers[c.COL_DETAIL].column)
    assert ws.column_dimensions[headers[c.COL_DETAIL].column_letter].alignment.wrap_text
    assert any(ws.cell(r, detail.column).alignment.wrap_text for r in range(2, ws.max_row + 1) if ws.cell(r, detail.column).value)
    for name in c.DATE_RESULT_COLUMNS:
        cells = [ws.cell(r, headers[name].column) for r in range(2, ws.max_row + 1)]
        dated = [cell for cell in cells if isinstance(cell.value, dt.datetime)]
        assert dated and all(cell.alignment.horizontal == "center" for cell in dated), name
        assert width[name] >= len("31/12/2026 23:59:59")


def test_one_set_of_colour_rules_over_the_whole_status_column(demo):
    ws = load_workbook(demo)[c.SHEET_LIST]
    status = next(cell.column_letter for cell in ws[1] if cell.value == c.COL_STATUS)
    ranges = [str(cf.sqref) for cf in ws.conditional_formatting]
    assert ranges == [f"{status}2:{status}1048576"]
    rules = [rule for cf in ws.conditional_formatting for rule in cf.rules]
    assert sorted(rule.formula[0].strip('"') for rule in rules) == sorted(STATUS_COLOURS)


def test_riepilogo_in_rome_time_and_a_chart_of_the_non_empty_states(demo):
    wb = load_workbook(demo)
    ws = wb[c.SHEET_SUMMARY]
    stamp = dt.datetime.strptime(ws["A2"].value.split("Aggiornato il ")[1][:16], "%d/%m/%Y %H:%M")
    rome_now = dt.datetime.now(ROME).replace(tzinfo=None)
    assert abs((rome_now - stamp).total_seconds()) < 600, "Aggiornato il must be Italian time, not the machine's UTC"
    table = []
    row = 7
    while ws.cell(row, 1).value != "Totale":
        table.append((ws.cell(row, 1).value, ws.cell(row, 2).value))
        row += 1
    assert sorted(s for s, _ in table) == sorted(c.ALL_STATES)  # the table still lists every state
    shown = [s for s, n in table if n]
    assert table[: len(shown)] == [(s, n) for s, n in table if n]  # states with rows first
    chart = ws._charts[0]
    series = chart.series[0]
    assert series.val.numRef.f.endswith(f"$B$7:$B${6 + len(shown)}")
    assert (series.cat.numRef or series.cat.strRef).f.endswith(f"$A$7:$A${6 + len(shown)}")
    colours = [str(getattr(point.graphicalProperties.solidFill.srgbClr, "val", point.graphicalProperties.solidFill.srgbClr)) for point in series.dPt]
    assert colours == [STATUS_COLOURS.get(s, NEUTRAL_COLOUR) for s in shown]
    assert chart.x_axis.scaling.orientation == "maxMin"  # top to bottom in the table's order


def test_the_demo_prints_on_few_landscape_pages(demo, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdfinfo") is None:
        pytest.skip("soffice o pdfinfo non installati")
    profile = (tmp_path / "profile").resolve().as_uri()
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(demo)], capture_output=True, timeout=180, check=True)
    info = subprocess.run(["pdfinfo", str(tmp_path / "demo.pdf")], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))
    width, height = (float(x) for x in next(line for line in info.splitlines() if line.startswith("Page size:")).split()[2:5:2])
    assert width > height  # landscape
    assert pages <= 4  # one page per visible sheet (it was 15 portrait pages, the chart cut across three)


def test_pictures_script_is_there_and_names_the_readme_pictures():
    script = Path(__file__).resolve().parents[2] / "tools" / "demo_pictures.py"
    text = script.read_text(encoding="utf-8")
    assert "demo-destinatari.png" in text and "demo-riepilogo.png" in text
    readme = (script.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/demo-destinatari.png" in readme and "docs/demo-riepilogo.png" in readme
