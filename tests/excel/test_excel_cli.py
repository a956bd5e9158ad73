"""`pecmass build-template` and `python -m pecmass_xl.excel.build` write the same template."""

from __future__ import annotations

import subprocess
import sys

from pecmass_xl.cli.main import main


def test_pecmass_build_template_writes_the_given_file(tmp_path, template_bytes, capsys):
    out = tmp_path / "modello.xlsm"
    assert main(["build-template", str(out)]) == 0
    assert out.read_bytes() == template_bytes
    assert "Creato il modello" in capsys.readouterr().out


def test_pecmass_build_template_refuses_a_non_xlsm_name_or_missing_folder(tmp_path, capsys):
    assert main(["build-template", str(tmp_path / "modello.xlsx")]) == 2
    assert main(["build-template", str(tmp_path / "manca" / "modello.xlsm")]) == 2
    err = capsys.readouterr().err
    assert ".xlsm" in err and "non esiste" in err
    assert not list(tmp_path.iterdir())


def test_module_entry_point_builds_the_same_bytes(tmp_path, template_bytes):
    out = tmp_path / "modello.xlsm"
    completed = subprocess.run([sys.executable, "-m", "pecmass_xl.excel.build", str(out)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert out.read_bytes() == template_bytes
