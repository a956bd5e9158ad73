"""`pecmass demo` end to end, and `pecmass receipts --background` ended by `pecmass stop`."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import time

from pecmass_xl.app.demo import RECIPIENTS
from pecmass_xl.core.paths import data_dir
from pecmass_xl.journal import Journal
from pecmass_xl.journal.archive import verify_manifest
from pecmass_xl.journal.signals import STOP_META, WORKER_META
from pecmass_xl.sending import background
from pecmass_xl.workbook import contract as c

from .conftest import campaign_of, make_campaign, run, sheet_rows, unique

# What each demo recipient must end as: (Stato invio, Esito, Firma), by the fate its row announces.
BY_FATE = {
    "consegnata": ("Consegnato", "Consegnata", "verificata"),
    "casella piena": ("Mancata consegna", "Casella piena", "verificata"),
    "indirizzo inesistente": ("Mancata consegna", "Indirizzo inesistente", "verificata"),
    "indirizzo inesistente (alla Aruba)": ("Mancata consegna", "Indirizzo inesistente", "verificata"),
    "dominio inesistente": ("Mancata consegna", "Dominio inesistente", "verificata"),
    "posta ordinaria (non PEC)": ("Accettato (non PEC)", "Destinatario non PEC", "verificata"),
    "posta ordinaria che rimbalza": ("Mancata consegna", "Indirizzo inesistente", "assente"),
    "consegna dopo 2 ore": ("Consegnato", "Consegnata", "verificata"),
    "allegato con virus di prova": ("Non accettato", "Virus", "verificata"),
    "nessuna consegna: preavvisi a 12 e 24 ore": ("Mancata consegna", "Tempo scaduto", "verificata"),
}


def test_the_demo_ends_every_row_as_its_recipient_announces(tmp_path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run("demo", "--dir", tmp_path / "demo", "--json") == 0
    doc = json.loads(out.getvalue())
    assert doc["test"] == "P1"
    assert [row["to"] for row in doc["rows"]] == [r[0] for r in RECIPIENTS]
    expected_counts: dict[str, int] = {}
    for row, (_address, _name, fate) in zip(doc["rows"], RECIPIENTS, strict=False):
        expected = BY_FATE[fate]
        assert (row["status"], row["esito"], row["firma"]) == expected, (row, fate)
        expected_counts[expected[0]] = expected_counts.get(expected[0], 0) + 1
    assert doc["counts"] == expected_counts
    # The files it names exist and agree with it.
    workbook = tmp_path / "demo" / "demo.xlsx"
    assert doc["workbook"] == str(workbook) and workbook.exists()
    assert [r[c.COL_STATUS] for r in sheet_rows(workbook)] == [row["status"] for row in doc["rows"]]
    report = open(doc["report"], encoding="utf-8-sig").read()
    lines = list(csv.reader(report.splitlines(), delimiter=";"))
    assert len(lines) == 1 + len(RECIPIENTS)
    archive = tmp_path / "demo" / "demo - archivio PEC"
    assert doc["archive"] == str(archive)
    for row in doc["rows"]:
        assert verify_manifest(archive / row["id"]) == []
        assert (archive / row["id"] / "inviato-1.eml").exists()


def test_receipts_in_background_runs_until_pecmass_stop(sb, tmp_path, capsys):
    # An ordinary address keeps the follow watching for a bounce: the worker only ends when told. The
    # window is measured on the sandbox's clock (100,000 times faster): 10^9 simulated seconds keep it open.
    path = make_campaign(tmp_path, [unique("sfondo"), unique("giorgio", "posta-ordinaria.example")])
    assert run("send", path, "--yes", "--backoff", "0.05") == 0
    sb.wait_idle(10)
    capsys.readouterr()
    assert run("receipts", path, "--background", "--poll", "0.2", "--bounce-window", "1e9") == 0
    printed = capsys.readouterr().out
    pid = int(re.search(r"processo (\d+)", printed).group(1))
    campaign = campaign_of(path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if background.worker_running(campaign) and _status(path) == ["Consegnato", "Accettato (non PEC)"]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the background worker did not update the sheet:\n" + _worker_logs())
        assert run("status", path, "--json") == 0
        assert json.loads(capsys.readouterr().out)["running"] is True
        # One reader per campaign: a second one is told, not started.
        assert run("receipts", path) == 2
        assert run("receipts", path, "--background") == 2
        assert f"già in corso (processo {pid})" in capsys.readouterr().err
        with Journal.for_campaign(campaign) as journal:
            assert journal.get_meta(WORKER_META) == str(pid)
        assert run("stop", path) == 0
        assert "arresto" in capsys.readouterr().out
        assert background.wait_for_exit(campaign, 20), _worker_logs()
        assert _reaped(pid, 10)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            if not _reaped(pid, 0):
                os.kill(pid, 9)
                os.waitpid(pid, 0)
    with Journal.for_campaign(campaign) as journal:
        assert journal.get_meta(STOP_META) is None and journal.get_meta(WORKER_META) is None
    assert run("stop", path) == 0
    assert "Nessun invio" in capsys.readouterr().out


def _status(path) -> list:
    try:
        return [r[c.COL_STATUS] for r in sheet_rows(path)]
    except Exception:  # noqa: BLE001 - the worker is replacing the file right now
        return []


def _reaped(pid: int, timeout: float) -> bool:
    """Whether the worker (our child) has exited; reaps it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _worker_logs() -> str:
    folder = data_dir() / "workers"
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(folder.glob("*.log"))) if folder.exists() else ""
