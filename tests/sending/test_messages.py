"""What the commands say after a send (issue 14.9): anomalies with row and address, `status` counting
every state, `report` on an empty list."""

from __future__ import annotations

import json

from openpyxl import load_workbook

from pecmass_xl.workbook import contract as c

from .conftest import make_campaign, run, sheet_rows, unique_local


def test_anomalies_name_the_excel_row_and_the_address(sb, tmp_path, capsys):
    good = f"{unique_local()}@studio.pec.test"
    full = f"piena.{unique_local()}@studio.pec.test"
    path = make_campaign(tmp_path, [good, full])
    assert run("send", path, "--yes") == 0
    sb.wait_idle(10)
    capsys.readouterr()
    assert run("receipts", path) == 1
    out = capsys.readouterr().out
    row_id = sheet_rows(path)[1][c.COL_ID]
    line = next(line for line in out.splitlines() if row_id in line)
    assert line.strip().startswith(f"riga 3, {full} ({row_id}): ")
    capsys.readouterr()
    assert run("receipts", path, "--json") == 1
    anomaly = json.loads(capsys.readouterr().out)["anomalies"][0]
    assert (anomaly["row"], anomaly["to"], anomaly["id"]) == (3, full, row_id)


def test_status_counts_every_state(sb, tmp_path, capsys):
    path = make_campaign(tmp_path, [f"{unique_local()}@studio.pec.test", "non-un-indirizzo", f"{unique_local()}@studio.pec.test"])
    capsys.readouterr()
    assert run("status", path, "--json") == 0  # nothing sent yet: the checks' states
    assert json.loads(capsys.readouterr().out)["counts"] == {c.ST_TO_SEND: 2, c.ST_INVALID: 1}
    assert run("send", path, "--yes", "--limit", "1") == 1  # the invalid row counts as failed
    sb.wait_idle(10)
    capsys.readouterr()
    assert run("status", path, "--json") == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts.get(c.ST_INVALID) == 1 and sum(counts.values()) == 3, counts
    assert run("status", path) == 0
    assert "  Dati non validi: 1" in capsys.readouterr().out


def test_report_of_an_empty_list_says_so_and_exits_1(sb, tmp_path, capsys):
    path = make_campaign(tmp_path, [])
    out = tmp_path / "report.csv"
    capsys.readouterr()
    assert run("report", path, "-o", out) == 1
    err = capsys.readouterr().err
    assert "Il foglio Destinatari non ha righe: nessun report scritto" in err
    assert not out.exists()
    wb = load_workbook(path)  # with a row the report is written
    wb[c.SHEET_LIST].append([f"{unique_local()}@studio.pec.test", "Anna", 1])
    wb.save(path)
    assert run("report", path, "-o", out) == 0 and out.exists()
