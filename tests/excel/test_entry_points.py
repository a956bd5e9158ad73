"""The three names every workbook already made relies on keep working (issue 9, part 2):
`import pecmass_xl.excel.handlers as h; h.<name>()`, `python -m pecmass_xl.excel.worker`, and the
worksheet functions' module `udfs.pecmass_udfs`."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pecmass_xl.excel

EXCEL_DIR = Path(pecmass_xl.excel.__file__).parent


def handler_names_in_the_vba() -> list[str]:
    """Every Python handler a VBA module of the template asks RunPython to call."""
    names: list[str] = []
    for source in sorted((EXCEL_DIR / "vba").glob("*.*")):
        names += re.findall(r'RunHandler "(\w+)"', source.read_text(encoding="utf-8"))
    return names


def test_every_handler_the_vba_calls_resolves_to_a_callable_without_arguments():
    names = handler_names_in_the_vba()
    ribbon_callbacks = re.findall(r'onAction="PecMassiva\.(\w+)"', (EXCEL_DIR / "ribbon" / "customUI.xml").read_text())
    assert len(names) >= 12 and len(ribbon_callbacks) >= len(names)  # the parse found the buttons
    for name in names:
        namespace: dict = {}
        exec(f"import pecmass_xl.excel.handlers as h; target = h.{name}", namespace)  # what RunPython runs
        assert callable(namespace["target"]), name
        assert inspect.signature(namespace["target"]).parameters == {}, name


def test_the_worker_module_runs_with_dash_m_and_answers_a_bad_call_with_its_usage():
    completed = subprocess.run([sys.executable, "-m", "pecmass_xl.excel.worker"], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 2
    assert "uso: python -m pecmass_xl.excel.worker send|receipts" in completed.stderr
    completed = subprocess.run([sys.executable, "-m", "pecmass_xl.excel.worker", "invia", "x.xlsm"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2 and "uso:" in completed.stderr


def test_the_ribbon_spawns_the_worker_module_by_its_stable_name():
    from pecmass_xl.excel import ribbon_actions

    assert ribbon_actions.WORKER_MODULE == "pecmass_xl.excel.worker"
    assert importlib.util.find_spec(ribbon_actions.WORKER_MODULE) is not None


def test_the_udfs_module_imports_and_offers_the_three_worksheet_functions():
    udfs = importlib.import_module("udfs.pecmass_udfs")
    for name in ("PEC_VALIDA", "PEC_ANTEPRIMA", "PEC_STATO"):
        assert callable(getattr(udfs, name)), name
    assert udfs.PEC_VALIDA("ufficio@pec.studiorossi.it") is True
    assert udfs.PEC_ANTEPRIMA("Gentile {{ Nome }}", ["Nome"], ["Anna"]) == "Gentile Anna"


def test_a_button_imports_only_its_own_use_case():
    """Excel is frozen while a button's Python starts: importing the ribbon's actions loads no use case,
    and a button loads the one it runs (Verifica does not pull in sending, IMAP or the sandbox)."""
    probe = ("import json, sys\nimport pecmass_xl.excel.ribbon_actions\nbefore = set(sys.modules)\n"
             "import pecmass_xl.app.check\nprint(json.dumps({'before': sorted(before), 'after': sorted(sys.modules)}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    loaded = json.loads(done.stdout)
    before, after = set(loaded["before"]), set(loaded["after"])
    assert not {m for m in before if m.startswith("pecmass_xl.app.")}, "ribbon_actions imported a use case"
    assert "pecmass_xl.app.check" in after
    for heavy in ("pecmass_xl.app.send", "pecmass_xl.sending.engine", "imapclient", "pecmass_xl.sandbox.server"):
        assert heavy not in after, heavy
