"""The commands as a user runs them: `new`, `check`, exit codes (0 warnings only, 1 errors, 2 could
not run), and a few end-to-end runs of the real console entry point in a child process."""

from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook

from pecmass_xl.cli.main import main
from pecmass_xl.workbook import contract as c

from .books import ROW, build_book, run_subprocess, zip_names


# ------------------------------------------------------------------------------------------- new
def test_new_creates_a_workbook_that_checks_clean(tmp_path, cli):
    path = tmp_path / "campagna.xlsx"
    result = cli("new", path)
    assert result.rc == 0
    assert f"Creata la cartella di lavoro {path}." in result.out
    wb = load_workbook(path)
    assert wb.sheetnames == [c.SHEET_LIST, c.SHEET_MESSAGE, c.SHEET_SETTINGS, c.SHEET_SUMMARY, c.SHEET_MARKER]
    assert wb[c.SHEET_MARKER].sheet_state == "veryHidden"
    assert wb[c.SHEET_MARKER]["B1"].value == c.CONTRACT_VERSION
    assert wb[c.SHEET_MARKER]["B2"].value.startswith("C")
    header = [cell.value for cell in wb[c.SHEET_LIST][1]]
    assert header[-len(c.RESULT_COLUMNS):] == list(c.RESULT_COLUMNS)
    # the result columns are styled apart from the parameters
    assert wb[c.SHEET_LIST].cell(1, 1).fill.fgColor.rgb != wb[c.SHEET_LIST].cell(1, header.index(c.COL_ID) + 1).fill.fgColor.rgb
    labels = [row[0] for row in wb[c.SHEET_SETTINGS].iter_rows(values_only=True) if row[0]]
    for label in (c.SET_MAILBOX, c.SET_USER, c.SET_PROVIDER, c.SET_SMTP_HOST, c.SET_SMTP_PORT, c.SET_SMTP_SECURITY,
                  c.SET_IMAP_HOST, c.SET_IMAP_PORT, c.SET_IMAP_SECURITY, c.SET_PACE, c.SET_TEST_RECIPIENT,
                  c.SET_RECEIPT_FOLDERS, c.SET_ARCHIVE_FOLDER, c.SET_MAX_SIZE, c.SET_CA_FILE, c.SET_ADDRESS_COLUMN):
        assert label in labels
    validations = wb[c.SHEET_SETTINGS].data_validations.dataValidation
    assert any("Aruba,Legalmail,Poste,Namirial,Register,Sandbox,Personalizzato" in (v.formula1 or "") for v in validations)
    check = cli("check", path, "--json")
    assert (check.rc, check.json) == (0, {"rows": 1, "problems": []})
    two = cli("new", tmp_path / "altra.xlsx")
    assert load_workbook(tmp_path / "altra.xlsx")[c.SHEET_MARKER]["B2"].value != wb[c.SHEET_MARKER]["B2"].value
    assert two.rc == 0


def test_new_refuses_to_overwrite(tmp_path, cli):
    path = tmp_path / "campagna.xlsx"
    path.write_bytes(b"dati preziosi")
    result = cli("new", path)
    assert result.rc == 2
    assert "esiste già" in result.err
    assert path.read_bytes() == b"dati preziosi"


@pytest.mark.parametrize("name, words", [("campagna.csv", ".xlsx"), ("manca/campagna.xlsx", "non esiste")])
def test_new_bad_paths(name, words, tmp_path, cli):
    result = cli("new", tmp_path / name)
    assert result.rc == 2 and words in result.err


def test_new_xlsm_without_the_template_is_an_italian_error(tmp_path, cli, monkeypatch):
    from pecmass_xl.app import new as new_case
    monkeypatch.setattr(new_case, "TEMPLATE_XLSM", tmp_path / "non-esiste.xlsm")
    result = cli("new", tmp_path / "campagna.xlsm")
    assert result.rc == 2
    assert "Il modello .xlsm" in result.err
    assert not (tmp_path / "campagna.xlsm").exists()


# ------------------------------------------------------------------------------------ exit codes
def test_exit_0_with_warnings_only(make_book, cli):
    path = make_book(rows=[ROW, ROW])
    result = cli("check", path)
    assert result.rc == 0
    assert "Avviso (riga 3, colonna «PEC»)" in result.out
    assert "2 righe: 2 pronte, 0 con errori; 0 errori, 1 avviso." in result.out


def test_exit_1_with_errors(make_book, cli):
    path = make_book(rows=[ROW, ["x", "A", "B", None]])
    result = cli("check", path)
    assert result.rc == 1
    assert "Errore (riga 3, colonna «PEC»): «x» non è un indirizzo PEC valido" in result.out
    assert "2 righe: 1 pronta, 1 con errori; 1 errore, 0 avvisi." in result.out


def test_check_json_document(make_book, cli):
    result = cli("check", make_book(rows=[ROW, ["x", "A", "B", None]], settings={c.SET_PACE: "x"}), "--json")
    assert result.rc == 1
    doc = result.json
    assert set(doc) == {"rows", "problems"} and doc["rows"] == 2
    for problem in doc["problems"]:
        assert set(problem) == {"row", "column", "code", "severity", "message"}
        assert problem["severity"] in ("error", "warning")
    assert doc["problems"][0] == {"row": None, "column": c.SET_PACE, "code": "setting_invalid", "severity": "error",
                                  "message": "«x» non è valido: serve un numero intero tra 0 e 100000."}
    assert result.err == ""


@pytest.mark.parametrize("args", [
    ["check", "{tmp}/manca.xlsx"],
    ["check", "{tmp}/manca.xlsx", "--json"],
    ["preview", "{tmp}/manca.xlsx", "--row", "2"],
    ["check", "{tmp}/lista.csv"],
    ["check", "{tmp}/rotto.xlsx"],
])
def test_exit_2_when_it_cannot_run(args, tmp_path, cli):
    (tmp_path / "lista.csv").write_text("PEC\na@pec.test\n", encoding="utf-8")
    (tmp_path / "rotto.xlsx").write_text("non sono uno zip", encoding="utf-8")
    result = cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.rc == 2
    assert result.err.startswith("Errore: ")
    assert result.out == ""


@pytest.mark.parametrize("argv", [
    ["check"],
    ["preview", "x.xlsx"],
    ["preview", "x.xlsx", "--row", "due"],
    ["check", "x.xlsx", "--nonesiste"],
    ["comando-inesistente"],
])
def test_exit_2_on_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "errore negli argomenti" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMANDO" in capsys.readouterr().err


@pytest.mark.parametrize("row", [1, 0, -3, 99])
def test_preview_of_a_row_that_does_not_exist(row, make_book, cli):
    result = cli("preview", make_book(), "--row", row)
    assert result.rc == 2
    assert "è vuota o non esiste" in result.err


# ------------------------------------------------------------------------ end to end, real process
def test_end_to_end_new_check_preview(tmp_path):
    path = tmp_path / "prova.xlsx"
    assert run_subprocess("new", path).returncode == 0
    check = run_subprocess("check", path, "--json")
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout) == {"rows": 1, "problems": []}
    eml = tmp_path / "riga2.eml"
    preview = run_subprocess("preview", path, "--row", "2", "--eml", eml)
    assert preview.returncode == 0, preview.stderr
    assert "A:        mario.rossi@esempio.pec.test" in preview.stdout
    assert "segnaposto" in preview.stdout
    assert "1.234,50 €" in preview.stdout and "31/12/2026" in preview.stdout
    assert eml.stat().st_size > 0


def test_end_to_end_write_refused_without_terminal(tmp_path):
    """A user's chart on Destinatari, no terminal to confirm on: exit 2, file untouched; --yes goes on."""
    from openpyxl.chart import LineChart, Reference

    def chart(wb):
        ws = wb[c.SHEET_LIST]
        line = LineChart()
        line.add_data(Reference(ws, min_col=2, min_row=1, max_row=2))
        ws.add_chart(line, "Q3")
    path = build_book(tmp_path / "grafico.xlsx", edit=chart)
    assert any(name.startswith("xl/charts/") for name in zip_names(path))
    before = path.read_bytes()
    refused = run_subprocess("check", path, "--write")
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert path.read_bytes() == before
    done = run_subprocess("check", path, "--write", "--yes")
    assert done.returncode == 0, done.stderr
    assert load_workbook(path)[c.SHEET_LIST].cell(2, 6).value == c.ST_TO_SEND


def test_end_to_end_exit_codes(tmp_path):
    assert run_subprocess("check", tmp_path / "manca.xlsx").returncode == 2
    assert run_subprocess("check").returncode == 2
    bad = build_book(tmp_path / "errori.xlsx", rows=[["x", "A", "B", None]])
    assert run_subprocess("check", bad).returncode == 1


def test_an_unforeseen_error_is_italian_words_not_a_traceback(make_book, monkeypatch, capsys, caplog):
    """A defect of ours must not put Python's words in front of the user: Italian text, the log's path,
    exit 1 (something may already have happened); the log gets the type and frames, never the message."""
    import pecmass_xl.cli.workbook as workbook_commands

    def explode(args):
        address = "mario.rossi@" + args.path.suffix.strip(".") + ".pec.test"  # data, not source text
        raise KeyError(address)

    monkeypatch.setattr(workbook_commands, "cmd_check", explode)
    assert main(["check", str(make_book())]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Errore imprevisto: l'operazione non è stata completata.")
    assert "Traceback" not in err and "KeyError" not in err and "mario.rossi" not in err
    assert "file di registro di pecmass" in err
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "unexpected KeyError" in logged and "explode" in logged and "mario.rossi" not in logged
