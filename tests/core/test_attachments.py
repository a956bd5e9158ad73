"""Attachments: missing, directories, unreadable, refused types, sizes once encoded."""

from __future__ import annotations

import os

import pytest

from pecmass_xl.campaign.checks import run_checks
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.read import read_workbook

from .books import ROW, problems_with, run_subprocess


def _row(attachments):
    return ROW[:3] + [attachments]


def _write(folder, name, size=1000):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def test_missing_attachment_names_the_folder_searched(make_book, check, tmp_path):
    rc, found, doc = check(make_book(rows=[_row("documenti/manca.pdf")]))
    assert (rc, found) == (1, [("attachment_missing", 2, "Allegati")])
    assert doc["problems"][0]["message"] == f"L'allegato «documenti/manca.pdf» non esiste (cercato in {tmp_path / 'documenti'})."


def test_missing_absolute_attachment(make_book, check, tmp_path):
    missing = tmp_path / "altrove" / "x.pdf"
    rc, found, _ = check(make_book(rows=[_row(str(missing))]))
    assert found == [("attachment_missing", 2, "Allegati")]


def test_several_attachments_report_each_bad_one(make_book, check, tmp_path):
    _write(tmp_path, "uno.pdf")
    (tmp_path / "cartella").mkdir()
    rc, found, doc = check(make_book(rows=[_row("uno.pdf; due.pdf ;cartella; tre.exe")]))
    assert rc == 1
    assert found == [("attachment_missing", 2, "Allegati"), ("attachment_not_file", 2, "Allegati"),
                     ("attachment_forbidden_type", 2, "Allegati")]
    assert "«due.pdf»" in doc["problems"][0]["message"]


def test_directory_is_not_a_file(make_book, check, tmp_path):
    (tmp_path / "documenti.pdf").mkdir()
    rc, found, doc = check(make_book(rows=[_row("documenti.pdf")]))
    assert found == [("attachment_not_file", 2, "Allegati")]
    assert doc["problems"][0]["message"] == "«documenti.pdf» non è un file: è una cartella."


def test_unreachable_attachment_symlink_loop(make_book, check, tmp_path):
    (tmp_path / "ciclo.pdf").symlink_to(tmp_path / "ciclo.pdf")
    rc, found, doc = check(make_book(rows=[_row("ciclo.pdf")]))
    assert found == [("attachment_unreadable", 2, "Allegati")]
    assert "non si può raggiungere" in doc["problems"][0]["message"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_attachment_permissions(make_book, check, tmp_path):
    path = _write(tmp_path, "segreto.pdf")
    path.chmod(0)
    try:
        rc, found, doc = check(make_book(rows=[_row("segreto.pdf")]))
    finally:
        path.chmod(0o600)
    assert found == [("attachment_unreadable", 2, "Allegati")]
    assert "permessi" in doc["problems"][0]["message"]


FORBIDDEN = ["exe", "bat", "cmd", "com", "scr", "js", "vbs", "ps1", "msi", "jar", "lnk", "hta", "EXE", "Js"]
ALLOWED = ["pdf", "p7m", "xml", "docx", "xlsx", "odt", "txt", "PDF", "jpg", "zip"]


@pytest.mark.parametrize("extension", FORBIDDEN)
def test_forbidden_types_even_when_the_file_exists(extension, make_book, check, tmp_path):
    _write(tmp_path, f"documento.pdf.{extension}")
    rc, found, doc = check(make_book(rows=[_row(f"documento.pdf.{extension}")]))
    assert found == [("attachment_forbidden_type", 2, "Allegati")]
    assert f"i file .{extension.lower()} sono rifiutati dai gestori PEC" in doc["problems"][0]["message"]


def test_allowed_types(make_book, check, tmp_path):
    names = [_write(tmp_path, f"documento.{ext}").name for ext in ALLOWED]
    rc, found, _ = check(make_book(rows=[_row("; ".join(names))], settings={c.SET_MAX_SIZE: 100}))
    assert (rc, found) == (0, [])


def test_empty_attachment_is_only_a_warning(make_book, check, tmp_path):
    _write(tmp_path, "vuoto.pdf", 0)
    rc, found, _ = check(make_book(rows=[_row("vuoto.pdf")]))
    assert (rc, found) == (0, [("attachment_empty", 2, "Allegati")])


def test_common_attachment_problems_are_general(make_book, check, tmp_path):
    _write(tmp_path, "informativa.pdf")
    message = {c.MSG_COMMON_ATTACHMENTS: "informativa.pdf; manca.pdf; script.js"}
    rc, found, _ = check(make_book(rows=[ROW, ["anna@pec.test", "Anna", "Bianchi", None]], message=message))
    assert rc == 1
    assert found == [("attachment_missing", None, c.MSG_COMMON_ATTACHMENTS),
                     ("attachment_forbidden_type", None, c.MSG_COMMON_ATTACHMENTS)]


def test_personal_attachment_template(make_book, check, cli, tmp_path):
    _write(tmp_path, "documenti/Rossi.pdf", 1234)
    message = {c.MSG_PERSONAL_ATTACHMENT: "documenti/{{ Cognome }}.pdf"}
    rows = [ROW, ["anna@pec.test", "Anna", "Bianchi", None]]
    path = make_book(rows=rows, message=message)
    rc, found, doc = check(path)
    assert found == [("attachment_missing", 3, c.MSG_PERSONAL_ATTACHMENT)]
    assert "«documenti/Bianchi.pdf»" in doc["problems"][0]["message"]
    preview = cli("preview", path, "--row", 2, "--json").json
    assert preview["attachments"] == [{"name": "Rossi.pdf", "size": 1234}]


def test_personal_attachment_template_with_empty_value(make_book, check):
    message = {c.MSG_PERSONAL_ATTACHMENT: "documenti/{{ Cognome }}.pdf"}
    rc, found, _ = check(make_book(rows=[ROW[:2] + [None, None]], message=message, settings={}))
    assert ("template_empty_value", 2, "Cognome") in found


def test_common_plus_personal_plus_template_attachments(make_book, cli, tmp_path):
    _write(tmp_path, "comune.pdf", 10)
    _write(tmp_path, "personale.xml", 20)
    _write(tmp_path, "documenti/Rossi.p7m", 30)
    path = make_book(rows=[_row("personale.xml")],
                     message={c.MSG_COMMON_ATTACHMENTS: "comune.pdf", c.MSG_PERSONAL_ATTACHMENT: "documenti/{{ Cognome }}.p7m"})
    preview = cli("preview", path, "--row", 2, "--json").json
    assert preview["attachments"] == [{"name": "comune.pdf", "size": 10}, {"name": "personale.xml", "size": 20},
                                      {"name": "Rossi.p7m", "size": 30}]


@pytest.mark.parametrize("size, too_large", [(600_000, False), (800_000, True)])
def test_size_limit_counts_the_encoded_message(size, too_large, make_book, check, tmp_path):
    """base64 adds a third: 800 kB of attachment is over a 1 MB limit, 600 kB is not."""
    _write(tmp_path, "allegato.pdf", size)
    rc, found, doc = check(make_book(rows=[_row("allegato.pdf")], settings={c.SET_MAX_SIZE: 1}))
    if too_large:
        assert (rc, found) == (1, [("message_too_large", 2, "Allegati")])
        assert "oltre il limite di 1 MB" in doc["problems"][0]["message"]
    else:
        assert (rc, found) == (0, [])


def test_size_estimate_is_never_below_the_real_message(make_book, cli, tmp_path):
    """The check's estimate must not let through a message the provider would refuse."""
    names = ["Fattura n° 12 è già pagata.pdf", "a.xml", "dati.bin"]
    sizes = [1, 70_001, 333_333]
    for name, size in zip(names, sizes, strict=False):
        _write(tmp_path, name, size)
    rows = [_row(name) for name in names] + [_row("; ".join(names))] * 4
    nomi = ["Jürgen ", "Jürgen " * 40, "€" * 500, "x" + "=" * 500, "a" * 3000, "è " * 800, " " * 200 + "x"]
    for i, row in enumerate(rows):
        rows[i] = [f"r{i}@pec.test", nomi[i], *row[2:]]
    text = "Città: {{ Nome }}\n" * 30 + "{{ Nome }} \n" * 50
    path = make_book(rows=rows, message={c.MSG_TEXT: text, c.MSG_SUBJECT: "{{ Nome|trim }}"}, settings={c.SET_MAX_SIZE: 100})
    report = run_checks(read_workbook(path))
    assert [p.code for p in report.problems] == []
    for prepared in report.rows:
        real = cli("preview", path, "--row", prepared.number, "--json").json["size"]
        assert prepared.draft.estimated_size() >= real


def test_relative_paths_are_relative_to_the_workbook_not_the_current_folder(make_book, tmp_path):
    _write(tmp_path, "documenti/a.pdf")
    path = make_book(rows=[_row("documenti/a.pdf")])
    elsewhere = tmp_path / "altrove"
    elsewhere.mkdir()
    result = run_subprocess("check", path, "--json", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert '"problems": []' in result.stdout


def test_receipts_volume_warning_depends_on_receipt_type(make_book, check, tmp_path):
    big = tmp_path / "grande.pdf"
    with big.open("wb") as handle:
        handle.truncate(110_000_000)
    rows = [ROW, ["anna@pec.test", "Anna", "Bianchi", None], ["luca@pec.test", "Luca", "Verdi", None]]
    settings = {c.SET_MAX_SIZE: 500}
    message = {c.MSG_COMMON_ATTACHMENTS: "grande.pdf"}
    rc, found, doc = check(make_book(rows=rows, settings=settings, message=message))
    assert (rc, found) == (0, [("receipts_volume", None, c.MSG_RECEIPT_TYPE)])
    assert "circa 330 MB" in problems_with(doc, "receipts_volume")[0]["message"]
    for receipt_type in ("breve", "sintetica"):
        path = make_book(name=f"{receipt_type}.xlsx", rows=rows, settings=settings,
                         message={**message, c.MSG_RECEIPT_TYPE: receipt_type})
        assert check(path)[:2] == (0, [])
    # below the threshold: two rows only
    assert check(make_book(name="due.xlsx", rows=rows[:2], settings=settings, message=message))[:2] == (0, [])
