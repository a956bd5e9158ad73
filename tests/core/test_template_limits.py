"""Templates cannot eat the machine (issue 11 part 4): every runaway template ends quickly with an
Italian message on the row or the template, in `check`, `preview` and `PEC_ANTEPRIMA`, never a
traceback. No timings are asserted: a template that escaped its limits would hang this test."""

from __future__ import annotations

import pytest

from pecmass_xl.campaign.template_limits import MAX_STEPS
from pecmass_xl.campaign.templates import compile_template, render
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.cell_values import cell_text
from udfs import pecmass_udfs as u

from .books import ROW

LONG = "x" * 30_000

RUNAWAY = [
    ("{{ 9**(9**9) }}", "numero troppo grande"),  # folded by jinja at compile time before the fix
    ("{{ Nome * 10**8 }}", "oltre 1.000.000 caratteri"),  # 843 MB before the fix
    ("{{ (Nome ~ Nome) * 400000 }}", "oltre 1.000.000 caratteri"),
    ("{{ Nome|center(10**9) }}", "oltre il limite di 1.000"),
    ("{{ Nome|indent(10**8) }}", "oltre il limite di 1.000"),
    ("{{ Nome.ljust(999999999) }}", "oltre il limite di 1.000"),
    ("{{ Nome.zfill(10**9) }}", "oltre il limite di 1.000"),
    ("{{ '%999999999d' % 1 }}", "larghezza oltre il limite"),
    ("{{ '{:>999999999}'.format(Nome) }}", "larghezza oltre il limite"),
    ("{{ '%*d'|format(999999999, 1) }}", "larghezza oltre il limite"),
    ("{{ Cognome|replace('', Nome * 100000) }}", "oltre 1.000.000 caratteri"),
    ("{% macro m(n) %}{{ m(n) }}{{ m(n) }}{% endmacro %}{{ m(1) }}", "richiama se stesso"),
    ("{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}{{ m(Nome) }}", "oltre 1.000.000 caratteri"),  # `~` doubling
    ("{{ Nome|int + 'a' }}", "valori di tipo diverso"),
    ("{{ 1 / 0 }}", "divisione per zero"),
]


def _row(nome):
    return [ROW[0], nome, ROW[2], None]


@pytest.mark.parametrize("template, words", RUNAWAY)
def test_runaway_templates_end_with_an_italian_message_on_the_row(template, words, make_book, check, cli):
    path = make_book(message={c.MSG_TEXT: template})
    rc, found, doc = check(path)
    assert rc == 1 and found == [("template_render", 2, c.MSG_TEXT)]
    assert words in doc["problems"][0]["message"]
    preview = cli("preview", path, "--row", 2)
    assert preview.rc == 1 and words in preview.out and "Traceback" not in preview.out + preview.err


@pytest.mark.parametrize("template, words", RUNAWAY[:4])
def test_runaway_templates_in_the_subject_and_the_worksheet_function(template, words, make_book, check):
    rc, found, doc = check(make_book(message={c.MSG_SUBJECT: template}))
    assert found == [("template_render", 2, c.MSG_SUBJECT)] and words in doc["problems"][0]["message"]
    assert u.PEC_ANTEPRIMA(template, ["Nome"], ["Mario"]).startswith("#ERRORE: ")
    assert words in u.PEC_ANTEPRIMA(template, ["Nome"], ["Mario"])


def test_nested_loops_spend_a_bounded_budget(make_book, check):
    template = "{% for a in Nome %}{% for b in Nome %}{% for c in Nome %}{% endfor %}{% endfor %}{% endfor %}"
    rc, found, doc = check(make_book(rows=[_row(LONG)], message={c.MSG_TEXT: template + "Testo"}))
    assert found == [("template_render", 2, c.MSG_TEXT)]
    assert "troppe operazioni" in doc["problems"][0]["message"]


def test_the_output_stops_at_the_size_limit(make_book, check):
    template = "{% for a in Nome %}{{ Nome }}{% endfor %}"
    rc, found, doc = check(make_book(rows=[_row("y" * 2_000)], message={c.MSG_TEXT: template},
                                     settings={c.SET_MAX_SIZE: 1}))
    assert found == [("template_render", 2, c.MSG_TEXT)]
    assert "supera la dimensione massima (1 MB)" in doc["problems"][0]["message"]


@pytest.mark.parametrize("template", ["{% include 'altro' %}", "{% extends 'base' %}", "{% import 'm' as m %}",
                                      "{{ " + "(" * 400 + "1" + ")" * 400 + " }}"])
def test_template_level_errors_are_italian(template, make_book, check, cli):
    path = make_book(message={c.MSG_TEXT: template})
    rc, found, doc = check(path)
    assert rc == 1 and found == [("template_syntax", None, c.MSG_TEXT)]
    message = doc["problems"][0]["message"]
    assert "modello" in message and "Traceback" not in message


def test_ordinary_arithmetic_loops_and_recursion_still_work():
    template = ("{{ 2**10 }} {{ 1.5 * 2 }} {{ -3 }} {{ '%05.2f' % 3.14159 }} {{ '{:>7}'.format(Nome) }} "
                "{% for x in Nome %}{{ loop.index }}{% endfor %} {{ Nome * 2 }} "
                "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(50) }}fine")
    rendered = render(compile_template(c.MSG_TEXT, template, ["Nome"]), {"Nome": cell_text("Anna")})
    assert rendered.error is None
    assert rendered.text == "1024 3.0 -3 03.14    Anna 1234 AnnaAnna fine"


def test_the_budget_is_per_render():
    compiled = compile_template(c.MSG_TEXT, "{% for a in Nome %}.{% endfor %}", ["Nome"])
    value = {"Nome": cell_text("z" * (MAX_STEPS // 2))}
    for _ in range(3):  # three renders of half the budget each: none is refused
        assert render(compiled, value).error is None
