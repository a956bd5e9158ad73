"""Cell values rendered as the cell shows them (DESIGN §3), through a real workbook and preview."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.cell_values import display_text, format_decimal_it, parse_italian_number

# (value, number format, what the template prints)
CELLS = [
    (184, "00000", "00184"),
    (20121, "00000", "20121"),
    ("00184", "@", "00184"),
    (3.0, "General", "3"),
    (42, "General", "42"),
    (2.5, "General", "2,5"),
    (1234.5, "#,##0.00", "1.234,50"),
    (1234.5, "0.00", "1234,50"),
    (1234567.891, "#,##0", "1.234.568"),
    (-1234.5, "#,##0.00", "-1.234,50"),
    (0.25, "0%", "25%"),
    (0.125, "0.0%", "12,5%"),
    (1234.5, '#,##0.00 "€"', "1.234,50 €"),
    (1234.5, '#,##0.00\\ "€";[Red]\\-#,##0.00\\ "€"', "1.234,50 €"),
    (True, "General", "Sì"),
    (False, "General", "No"),
    (dt.datetime(2026, 12, 31), "dd/mm/yyyy", "31/12/2026"),
    (dt.datetime(2026, 1, 2), "yyyy-mm-dd", "02/01/2026"),
    (dt.datetime(2026, 1, 2, 9, 30), "dd/mm/yyyy hh:mm", "02/01/2026 09:30"),
    (dt.datetime(2026, 1, 2, 0, 0), "dd/mm/yyyy hh:mm", "02/01/2026"),
    ("testo libero", "General", "testo libero"),
]


def test_values_in_a_template_print_what_the_cell_shows(make_book, cli):
    headers = ["PEC"] + [f"V{i}" for i in range(len(CELLS))]
    row = ["mario@pec.test"] + [value for value, _, _ in CELLS]
    formats = {f"{chr(ord('B') + i)}2": fmt for i, (_, fmt, _) in enumerate(CELLS)}
    text = "\n".join(f"{{{{ V{i} }}}}" for i in range(len(CELLS)))
    path = make_book(headers=headers, rows=[row], formats=formats, results=False,
                     message={c.MSG_SUBJECT: "Valori", c.MSG_TEXT: text})
    result = cli("preview", path, "--row", 2, "--json")
    assert result.rc == 0, result.out
    assert result.json["text"].split("\n") == [shown for _, _, shown in CELLS]


FILTERS = [
    ("{{ Importo|euro }}", 1234.5, "General", "1.234,50 €"),
    ("{{ Importo|euro }}", 1234.567, "General", "1.234,57 €"),
    ("{{ Importo|euro }}", 0.005, "General", "0,01 €"),
    ("{{ Importo|euro }}", -7, "General", "-7,00 €"),
    ("{{ Importo|euro }}", 1000000, "#,##0", "1.000.000,00 €"),
    ("{{ Importo|euro }}", "1234,5", "@", "1.234,50 €"),
    ("{{ Importo|euro }}", "1.234,56 €", "@", "1.234,56 €"),
    ("{{ Importo|euro }}", "1.500", "@", "1.500,00 €"),  # issue 14.1: the dot groups thousands (was 1,50 €)
    ("{{ Importo|euro }}", "1.234.567,8", "@", "1.234.567,80 €"),
    ("{{ Importo|euro }}", "-12,5", "@", "-12,50 €"),
    ("{{ Importo|numero(0) }}", "12.000", "@", "12.000"),
    ("{% if Importo > 1000 %}alto{% else %}basso{% endif %}", "1.500", "@", "alto"),
    ("{% if Importo >= 1000 %}alto{% else %}basso{% endif %}", "999,99", "@", "basso"),
    ("{% if Importo < 10 %}poco{% endif %}", 3, "General", "poco"),
    ("{{ Importo|numero }}", 1234.5, "General", "1.234,50"),
    ("{{ Importo|numero(0) }}", 1234.5, "General", "1.235"),
    ("{{ Importo|data }}", dt.datetime(2026, 3, 4, 15, 0), "dd/mm/yyyy hh:mm", "04/03/2026"),
    ("{{ Importo|data(true) }}", dt.datetime(2026, 3, 4, 15, 0), "dd/mm/yyyy hh:mm", "04/03/2026 15:00"),
    ("{{ Importo|data }}", "2026-03-04", "@", "04/03/2026"),
    ("{{ Importo|data }}", "4.3.2026", "@", "04/03/2026"),
    ("{{ Importo|data }}", "04/03/2026", "@", "04/03/2026"),
    ("{{ Importo }}", dt.datetime(2026, 3, 4), "d/m/yy", "04/03/2026"),
]


@pytest.mark.parametrize("template, value, fmt, expected", FILTERS)
def test_filters(template, value, fmt, expected, make_book, cli):
    path = make_book(headers=["PEC", "Importo"], rows=[["mario@pec.test", value]], formats={"B2": fmt},
                     results=False, message={c.MSG_SUBJECT: "Valori", c.MSG_TEXT: template})
    result = cli("preview", path, "--row", 2, "--json")
    assert result.rc == 0, result.out
    assert result.json["text"] == expected


def test_euro_refuses_booleans(make_book, check):
    path = make_book(headers=["PEC", "Importo"], rows=[["mario@pec.test", True]], results=False,
                     message={c.MSG_SUBJECT: "Valori", c.MSG_TEXT: "{{ Importo|euro }}"})
    rc, found, doc = check(path)
    assert found == [("template_render", 2, c.MSG_TEXT)]
    assert "Sì/No non è un importo" in doc["problems"][0]["message"]


@pytest.mark.parametrize("value, fmt, expected", [(None, None, ""), (0, "00000", "00000"), (7, "000", "007"),
                                                  (dt.date(2026, 5, 6), None, "06/05/2026"), (dt.time(8, 5), None, "08:05")])
def test_display_text_edge_cases(value, fmt, expected):
    assert display_text(value, fmt) == expected


def test_italian_number_helpers():
    assert format_decimal_it(2.675, 2) == "2,68"  # half up, like Excel, not banker's rounding
    assert format_decimal_it(-0.5, 0) == "-1"
    assert parse_italian_number("1.234,56 €") == Decimal("1234.56")
    assert parse_italian_number("1.500") == Decimal("1500")
    assert parse_italian_number("1.5") is None and parse_italian_number("1,234.56") is None
    assert parse_italian_number("abc") is None and parse_italian_number("  ") is None


@pytest.mark.parametrize("value, read_as", [("1,234.56", "1.234,56"), ("1.5", "1,5"), ("12,345.6", "12.345,6"),
                                            ("1234.56", "1.234,56")])
@pytest.mark.parametrize("template", ["{{ Importo|euro }}", "{{ Importo|numero }}",
                                      "{% if Importo > 100 %}alto{% endif %}"])
def test_a_number_not_written_the_italian_way_is_a_check_problem(value, read_as, template, make_book, check):
    """Issue 14.1: never a silent misreading; the row's problem names the value and how it would be read."""
    path = make_book(headers=["PEC", "Importo"], rows=[["mario@pec.test", "1.500"], ["anna@pec.test", value]],
                     formats={"B2": "@", "B3": "@"}, results=False, message={c.MSG_SUBJECT: "Avviso", c.MSG_TEXT: template})
    rc, _, doc = check(path)
    assert rc == 1
    hits = [p for p in doc["problems"] if p["code"] == "number_ambiguous"]
    assert [(p["row"], p["column"]) for p in hits] == [(3, "Importo")]
    assert f"«{value}»" in hits[0]["message"] and read_as in hits[0]["message"]
    assert not any(p["row"] == 2 for p in doc["problems"])  # "1.500" is Italian: one thousand five hundred


def test_comparing_text_that_is_no_number_says_so_in_italian(make_book, check):
    path = make_book(headers=["PEC", "Importo"], rows=[["mario@pec.test", "mille"]], results=False,
                     message={c.MSG_SUBJECT: "Avviso", c.MSG_TEXT: "{% if Importo > 100 %}alto{% endif %}{{ 1 + Importo }}"})
    rc, _, doc = check(path)
    assert rc == 1
    message = doc["problems"][0]["message"]
    assert "«mille» non è un numero" in message
    assert "not supported" not in message and "instances" not in message
