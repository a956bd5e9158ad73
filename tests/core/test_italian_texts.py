"""Everything a user reads is Italian (issue 14.3/14.4): argparse's own texts, a help for every option,
plurals and decimal commas, no Python or jinja English inside messages, no log lines on stderr."""

from __future__ import annotations

import argparse
import re

import pytest

from pecmass_xl.cli.main import build_parser, main
from pecmass_xl.core.italian import clause, describe_error, duration, format_number, plural
from pecmass_xl.workbook import contract as c

from .books import ROW, run_subprocess

ENGLISH = ["usage:", "positional arguments", "options:", "optional arguments", "show this help", "show program",
           "the following arguments", "invalid choice", "unrecognized", "expected one", "error:"]
ITALIAN_METAVARS = {"FILE", "CSV", "N", "SECONDI", "GRUPPI", "INDIRIZZO", "CARTELLA", "P", "F", "MB", "TIPO", "COMANDO"}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser, **action.choices}


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_help_of_every_command_is_italian_and_complete(command, capsys):
    parser = _subcommands()[command]
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"{command}: {action.option_strings or action.dest} has no help"
        if action.nargs != 0 and action.choices is None:
            assert (action.metavar or action.dest.upper()) in ITALIAN_METAVARS, (command, action.dest, action.metavar)
    with pytest.raises(SystemExit) as exc:
        main([command, "-h"] if command else ["-h"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("uso: pecmass")
    assert "opzioni:" in text and "mostra questo aiuto ed esce" in text
    for word in ENGLISH:
        assert word not in text, (command, word)


@pytest.mark.parametrize("argv, words", [
    (["send"], ["mancano questi argomenti: FILE"]),
    (["preview", "x.xlsx", "--row", "due"], ["argomento --row: valore non valido: 'due'"]),
    (["check", "x.xlsx", "--nonesiste"], ["argomenti non riconosciuti: --nonesiste"]),
    (["comando-inesistente"], ["scelta non valida: 'comando-inesistente'", "valori ammessi"]),
    (["report", "x.xlsx", "--delimiter", "|"], ["scelta non valida: '|'"]),
])
def test_argument_errors_in_italian_from_the_real_command(argv, words):
    result = run_subprocess(*argv)
    assert result.returncode == 2
    assert result.stderr.startswith("uso: pecmass")
    for word in words:
        assert word in result.stderr
    for word in ENGLISH:
        assert word not in result.stderr, word


def test_version_in_italian_help_and_real_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("pecmass ")


def test_argparse_is_left_in_english_for_others():
    """The translation is swapped in only while pecmass parses: other argparse users are untouched."""
    build_parser().format_help()
    other = argparse.ArgumentParser(prog="altro")
    assert other.format_help().startswith("usage: altro")


@pytest.mark.parametrize("count, noun, expected", [
    (0, "riga", "0 righe"), (1, "riga", "1 riga"), (2, "riga", "2 righe"), (1, "errore", "1 errore"),
    (3, "errore", "3 errori"), (1, "ricevuta nuova", "1 ricevuta nuova"), (5, "ricevuta nuova", "5 ricevute nuove"),
    (1, "secondo", "1 secondo"), (1, "PEC consegnata", "1 PEC consegnata"), (2, "PEC consegnata", "2 PEC consegnate"),
    (12345, "riga", "12.345 righe"),
])
def test_plural(count, noun, expected):
    assert plural(count, noun) == expected


def test_numbers_and_durations_use_the_decimal_comma():
    assert format_number(0.5) == "0,5" and format_number(12.0) == "12" and format_number(1234.56, 2) == "1.234,56"
    assert duration(1) == "1 secondo" and duration(45) == "45 secondi"
    assert duration(90) == "1,5 minuti" and duration(60) == "1 minuto" and duration(7200) == "2 ore"
    assert clause("Il file è aperto.") == "Il file è aperto"


def test_system_errors_are_described_in_italian(tmp_path):
    try:
        (tmp_path / "manca").read_bytes()
    except OSError as exc:
        assert describe_error(exc) == "file o cartella inesistente"
    assert describe_error(ConnectionRefusedError(111, "Connection refused")).startswith("connessione rifiutata")


def test_messages_of_the_commands_agree_with_their_numbers(make_book, cli):
    """Issue 14.4: "1 righe", "1 errori" were printed for one row with one error."""
    path = make_book(rows=[["x"] + ROW[1:]])  # one bad address: one error on one row
    result = cli("check", path)
    assert result.rc == 1
    assert "1 riga: 0 pronte, 1 con errori; 1 errore, 0 avvisi." in result.out
    two = make_book(name="due.xlsx", rows=[ROW, ["anna@pec.test", "Anna", "Bianchi", None]])
    assert "2 righe: 2 pronte, 0 con errori; 0 errori, 0 avvisi." in cli("check", two).out


def test_template_syntax_errors_are_italian(make_book, check):
    path = make_book(message={c.MSG_TEXT: "Gentile {{ Nome x }}\n{% if Nome %}"})
    rc, _, doc = check(path)
    message = doc["problems"][0]["message"]
    assert rc == 1 and "atteso «}}», trovato «x»" in message
    assert not re.search(r"expected|token|statement", message)
    path = make_book(name="b.xlsx", message={c.MSG_TEXT: "{% if Nome %}Gentile"})
    assert "manca {% elif %} o {% else %} o {% endif %}" in check(path)[2]["problems"][0]["message"]


def test_unreadable_csv_says_why_in_italian(tmp_path, cli):
    result = cli("import-csv", tmp_path / "manca.csv", tmp_path / "lista.xlsx")
    assert result.rc == 2
    assert "file o cartella inesistente" in result.err and "No such file" not in result.err


@pytest.mark.parametrize("verbose", [False, True])
def test_log_lines_reach_stderr_only_with_v(verbose, tmp_path):
    """Issue 14.3: `WARNING: result write skipped: CannotRun` appeared on a user's terminal."""
    import os
    import subprocess
    import sys

    code = ("from pecmass_xl.core.logging_setup import configure_logging; import logging; "
            f"configure_logging(verbose={verbose}); logging.getLogger('pecmass.send').warning('result write skipped: CannotRun')")
    env = dict(os.environ, PECMASS_DATA_DIR=str(tmp_path / "dati"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert ("result write skipped" in result.stderr) is verbose
    logs = list((tmp_path / "dati").rglob("*.log"))
    assert logs and "result write skipped" in logs[0].read_text(encoding="utf-8")  # kept for support


def test_an_empty_header_row_says_so_instead_of_an_empty_list():
    from pecmass_xl.campaign.templates import compile_template

    issue = compile_template("Testo", "{{ Nome }}", []).issues[0].message
    assert "Campi disponibili: ." not in issue and "non ha intestazioni" in issue
