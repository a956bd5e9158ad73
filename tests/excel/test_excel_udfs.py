"""Worksheet functions: plain Python behind thin xlwings wrappers (no-op decorators off Windows)."""

from __future__ import annotations

import datetime as dt

import pytest

from pecmass_xl.journal import Journal, new_campaign_id
from pecmass_xl.workbook import contract as c
from udfs import pecmass_udfs as u

from .fake_xlwings import FakeApp, FakeBook


@pytest.mark.parametrize("address, valid", [
    ("ufficio@pec.studiorossi.it", True),
    ("  ufficio@pec.studiorossi.it ", True),
    ("ufficio@pec", False),
    ("a@pec.it; b@pec.it", False),
    ("Mario <mario@pec.it>", False),
    ("prova@esempio.test", False),  # test domains only with the Sandbox preset
    (None, False),
    (42.0, False),
])
def test_pec_valida(address, valid):
    assert u.PEC_VALIDA(address) is valid
    assert u.pec_valida(address) is valid


def test_pec_anteprima_renders_like_a_send():
    headers = ["PEC", "Nome", "Data di nascita", "Importo", None]
    values = ["a@pec.it", "Anna", dt.datetime(1980, 1, 2), 1234.5, None]
    text = u.PEC_ANTEPRIMA('Gentile {{ Nome }}, nata il {{ riga["Data di nascita"] }}: {{ Importo|euro }}',
                           headers, values)
    assert text == "Gentile Anna, nata il 02/01/1980: 1.234,50 €"


@pytest.mark.parametrize("template, expected", [
    ("{{ Cognome }}", "#ERRORE: Il campo «Cognome» non è un'intestazione"),
    ("{{ Nome", "#ERRORE: Errore di sintassi"),
    ("Caro {{ Note }}", "#ERRORE: campi vuoti usati senza condizione: Note"),
])
def test_pec_anteprima_reports_errors_in_italian(template, expected):
    assert u.pec_anteprima(template, ["Nome", "Note"], ["Anna", None]).startswith(expected)


def test_pec_anteprima_edge_cases():
    assert u.pec_anteprima("", ["Nome"], ["Anna"]) == ""
    assert u.pec_anteprima("{{ Nome }}", ["Nome", "X"], ["Anna"]).startswith("#ERRORE")
    assert u.pec_anteprima("{% if Note %}{{ Note }}{% else %}-{% endif %}", ["Note"], [None]) == "-"


def _journal_with_one_row() -> tuple[str, str, str]:
    campaign = new_campaign_id()
    with Journal.for_campaign(campaign) as journal:
        row_id = journal.new_row_id(set())
        journal.add_rows([(row_id, "a@pec.it", 2)])
        status = journal.row_views()[row_id].status.stato
    return campaign, row_id, status


def test_pec_stato_reads_the_campaign_journal_without_creating_one():
    campaign, row_id, expected = _journal_with_one_row()
    u._status_cache.clear()
    assert u.pec_stato(row_id, campaign) == expected and expected
    assert u.pec_stato("RAAAAAAAA", campaign) == ""
    other = new_campaign_id()
    assert u.pec_stato(row_id, other) == ""
    from pecmass_xl.journal.store import journal_path

    assert not journal_path(other).exists()


def test_pec_stato_finds_the_campaign_of_the_calling_workbook():
    campaign, row_id, expected = _journal_with_one_row()
    book = FakeBook(FakeApp(), r"C:\Lavoro\campagna.xlsm")
    sheet = book.add_sheet(c.SHEET_LIST)
    marker = book.add_sheet(c.SHEET_MARKER)
    marker.put_rows([[c.MARKER_VERSION, 1], [c.MARKER_CAMPAIGN, campaign]])
    caller = sheet.range((2, 12))
    u._status_cache.clear()
    assert u.PEC_STATO(row_id, dt.datetime(2026, 1, 1), caller) == expected
    assert u._campaign_of(object()) == ""
