"""Attachments are regular files inside the workbook's folder (issue 11 part 3): traversal,
absolute paths, symlinks, /proc, FIFOs and devices are refused by `check` with the path and the
setting that would allow it; «Cartelle allegati» allows more folders."""

from __future__ import annotations

import os

import pytest

from pecmass_xl.workbook import contract as c

from .books import ROW


def _row(attachments):
    return ROW[:3] + [attachments]


@pytest.fixture
def outside(tmp_path):
    """A folder next to the workbook's own (`tmp_path/campagna`), with a document in it."""
    folder = tmp_path / "altrove"
    folder.mkdir()
    (folder / "riservato.pdf").write_bytes(b"%PDF riservato")
    return folder


@pytest.fixture
def book_in(tmp_path, make_book):
    folder = tmp_path / "campagna"
    folder.mkdir()

    def make(**kwargs):
        return make_book(name="campagna/lista.xlsx", **kwargs)
    return make


@pytest.mark.parametrize("reference", ["../altrove/riservato.pdf", "{outside}/riservato.pdf", "documenti/../../altrove/riservato.pdf"])
def test_paths_outside_the_workbook_folder_are_refused(reference, outside, book_in, check, tmp_path):
    (tmp_path / "campagna" / "documenti").mkdir()
    rc, found, doc = check(book_in(rows=[_row(reference.format(outside=outside))]))
    assert (rc, found) == (1, [("attachment_outside", 2, "Allegati")])
    message = doc["problems"][0]["message"]
    assert reference.format(outside=outside) in message and "«Cartelle allegati»" in message and str(outside) in message


def test_system_files_are_refused(book_in, check):
    for reference in ("/etc/passwd", "../../../../../../etc/passwd"):
        rc, found, doc = check(book_in(rows=[_row(reference)]))
        assert found == [("attachment_outside", 2, "Allegati")], reference


@pytest.mark.parametrize("reference", ["/proc/self/environ", "/proc/self/mem", "/dev/zero", "/dev/null", "/sys/kernel/mm/transparent_hugepage/enabled"])
def test_proc_sys_dev_are_never_attachments_even_when_allowed(reference, book_in, check):
    if not os.path.exists(reference):
        pytest.skip(f"{reference} not on this system")
    rc, found, doc = check(book_in(rows=[_row(reference)], settings={c.SET_ATTACHMENT_FOLDERS: "/"}))
    assert found == [("attachment_not_file", 2, "Allegati")]


def test_a_symlink_is_resolved_before_any_decision(outside, book_in, check, tmp_path):
    link = tmp_path / "campagna" / "innocuo.pdf"
    link.symlink_to(outside / "riservato.pdf")
    (tmp_path / "campagna" / "ambiente.pdf").symlink_to("/proc/self/environ")
    rc, found, doc = check(book_in(rows=[_row("innocuo.pdf; ambiente.pdf")]))
    assert found == [("attachment_outside", 2, "Allegati"), ("attachment_not_file", 2, "Allegati")]
    assert f"collegamento a {outside / 'riservato.pdf'}" in doc["problems"][0]["message"]
    assert "/proc/" in doc["problems"][1]["message"]


def test_a_symlink_inside_the_folder_is_fine_and_sent_under_its_own_name(book_in, check, cli, tmp_path):
    folder = tmp_path / "campagna"
    (folder / "originale.bin").write_bytes(b"%PDF dentro")
    (folder / "documento.pdf").symlink_to(folder / "originale.bin")
    path = book_in(rows=[_row("documento.pdf")])
    assert check(path)[:2] == (0, [])
    assert cli("preview", path, "--row", 2, "--json").json["attachments"] == [{"name": "documento.pdf", "size": 11}]


def test_fifos_and_folders_are_not_files(book_in, check, tmp_path):
    folder = tmp_path / "campagna"
    os.mkfifo(folder / "tubo.pdf")
    (folder / "cartella.pdf").mkdir()
    rc, found, doc = check(book_in(rows=[_row("tubo.pdf; cartella.pdf")]))
    assert found == [("attachment_not_file", 2, "Allegati")] * 2
    assert "pipe" in doc["problems"][0]["message"] and "cartella" in doc["problems"][1]["message"]


@pytest.mark.parametrize("setting", ["../altrove", "{outside}"])
def test_cartelle_allegati_allows_other_folders(setting, outside, book_in, check, tmp_path):
    reference = f"{outside}/riservato.pdf"
    rc, found, _ = check(book_in(rows=[_row(reference)], settings={c.SET_ATTACHMENT_FOLDERS: f"cartella-che-non-esiste; {setting.format(outside=outside)}"}))
    assert found == [("setting_invalid", None, c.SET_ATTACHMENT_FOLDERS)]  # only the missing folder is reported
    rc, found, _ = check(book_in(rows=[_row("../altrove/riservato.pdf")], settings={c.SET_ATTACHMENT_FOLDERS: setting.format(outside=outside)}))
    assert (rc, found) == (0, [])


def test_new_workbooks_have_the_setting(tmp_path, cli):
    from openpyxl import load_workbook

    path = tmp_path / "nuova.xlsx"
    assert cli("new", path).rc == 0
    labels = [row[0] for row in load_workbook(path)[c.SHEET_SETTINGS].iter_rows(values_only=True)]
    assert c.SET_ATTACHMENT_FOLDERS in labels
