"""The row's evidence page (issue 12, part 6), printed by a real browser: headless Chromium makes
the PDF a lawyer would print, and the test reads the text of its first page."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from fixture_files import require_tool

from pecmass_xl.campaign import results
from pecmass_xl.journal.archive import EVIDENCE_PAGE
from pecmass_xl.workbook import contract as c

from . import forge
from .conftest import append, journal_of, receipts_for, run, set_cell, sheet_rows, unique
from .test_forged import FAST_SEND, run_json
from .test_trust import quiet_campaign


def print_to_pdf(page: Path, out: Path) -> None:
    """Print as a user would: Debian's chromium, headless (skips without it; fails under .ci/run)."""
    chromium = require_tool("chromium", "chromium", "chromium-browser")
    require_tool("pdftotext", "poppler-utils")
    profile = out.parent / "chromium-profile"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
         f"--user-data-dir={profile}", f"--print-to-pdf={out}", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert out.exists() and out.read_bytes().startswith(b"%PDF")


def pdf_text(pdf: Path, first: int, last: int | None = None) -> str:
    args = ["pdftotext", "-layout", "-f", str(first)] + (["-l", str(last)] if last else []) + [str(pdf), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_the_evidence_page_prints_its_summary_on_the_first_a4_page(sb, tmp_path):
    # A failed first attempt, the address fixed, a resend delivered (with a forged delivery ignored).
    wrong, right = unique("inesistente.prova"), unique("prova.pagina")
    path, folder, ids = quiet_campaign(sb, tmp_path, [wrong])
    assert sb.wait_until(lambda: len(receipts_for(sb, ids[0])) >= 2)
    append(sb, folder, receipts_for(sb, ids[0]))
    run_json("receipts", path, "--json")
    set_cell(path, 0, "PEC", right)
    assert run("send", path, "--yes", "--resend", "failed", *FAST_SEND) == 0
    with journal_of(path) as journal:
        second = journal.latest_attempt(sheet_rows(path)[0][c.COL_ID]).message_id
    assert sb.wait_until(lambda: len(receipts_for(sb, second)) >= 2)
    append(sb, folder, receipts_for(sb, second) + [
        forge.strip_signature(forge.not_delivered(forge.provider_builder(sb.directory),
                                                  forge.submission(second, right), "5.1.1 <script>alert(1)</script>"))])
    run_json("receipts", path, "--json")

    row = sheet_rows(path)[0]
    assert row[c.COL_STATUS] == "Consegnato"
    page = tmp_path / "campagna - archivio PEC" / row[c.COL_ID] / EVIDENCE_PAGE
    assert page.is_file()
    assert row[c.COL_RECEIPTS] == f'=HYPERLINK("campagna - archivio PEC/{row[c.COL_ID]}/{EVIDENCE_PAGE}","Apri ricevute")'

    pdf = tmp_path / "prova.pdf"
    print_to_pdf(page, pdf)
    first = pdf_text(pdf, 1, 1)
    for expected in ("Prova di invio PEC", "Riepilogo", right, "Comunicazione 1", "Consegnato", "Consegnata",
                     "verificata", "Contenuto consegnato identico all'inviato", "identico", second,
                     row[c.COL_ID]):
        assert expected in first, (expected, first)
    assert "Cronologia" not in first, "the details start on a new page"
    assert pdf_pages(pdf) >= 2
    everything = " ".join(pdf_text(pdf, 1).split())
    # The timeline shows both attempts; each receipt its verdict; every file its SHA-256.
    for expected in ("Tentativo 1", "Tentativo 2", "Avviso di mancata consegna", "Ricevuta di avvenuta consegna",
                     "Firmatario: posta-certificata@pec.sandbox.test", "Data della firma",
                     "Catena di certificati: valida fino a un'autorità di fiducia",
                     "ignorata", "nessuna firma S/MIME", "inviato-1.eml", "inviato-2.eml"):
        assert expected in everything, expected
    sent = page.parent / "inviato-2.eml"
    digest = hashlib.sha256(sent.read_bytes()).hexdigest()
    html_text = page.read_text("utf-8")
    assert digest in html_text
    # Provider text is shown, never run: the page has no script of its own or of a forger.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text and "<script" not in html_text


def test_the_link_is_absolute_when_the_archive_is_on_another_drive(tmp_path, monkeypatch):
    folder = tmp_path / "archivio" / "R1"
    folder.mkdir(parents=True)
    (folder / EVIDENCE_PAGE).write_text("<html></html>")
    assert results.receipts_link(folder, tmp_path) == f'=HYPERLINK("archivio{os.sep}R1{os.sep}prova.html","Apri ricevute")'

    def other_drive(path, start=None):
        raise ValueError("path is on mount 'D:', start on mount 'C:'")  # what ntpath.relpath raises

    monkeypatch.setattr(results.os.path, "relpath", other_drive)
    assert results.receipts_link(folder, tmp_path) == f'=HYPERLINK("{folder / EVIDENCE_PAGE}","Apri ricevute")'
