"""Broken and tricky templates: syntax errors with their line, unknown fields with the nearest header,
empty values with and without a guard, and attempts to leave the sandbox."""

from __future__ import annotations

import pytest

from pecmass_xl.workbook import contract as c

from .books import problems_with

HEADERS_WITH_SPACES = ["PEC", "Nome", "Cognome", "Data di nascita", "Codice fiscale", "Città"]
ROW_WITH_SPACES = ["mario@pec.test", "Mario", "Rossi", "01/02/1980", "RSSMRA80B01H501U", "Roma"]


@pytest.mark.parametrize("label, source, line", [
    (c.MSG_TEXT, "Gentile {{ Nome }\nSaluti", 1),
    (c.MSG_TEXT, "Gentile {{ Nome }},\n\nle scriviamo {{ Cognome }\nSaluti", 3),
    (c.MSG_TEXT, "Riga uno\nRiga due\n{% if Nome %}\nSenza fine", 3),  # the block left open
    (c.MSG_TEXT, "Uno\n{% for x in %}\n{% endfor %}", 2),
    (c.MSG_SUBJECT, "Avviso {{ Nome | }}", 1),
    (c.MSG_SUBJECT, "Avviso {% endif %}", 1),
])
def test_syntax_error_names_the_line(label, source, line, make_book, check):
    rc, found, doc = check(make_book(message={label: source}))
    assert rc == 1
    hits = problems_with(doc, "template_syntax")
    assert [(p["row"], p["column"]) for p in hits] == [(None, label)]
    assert f"Errore di sintassi alla riga {line} del modello" in hits[0]["message"]
    # a broken template produces no per-row noise
    assert all(p["row"] is None for p in doc["problems"])


@pytest.mark.parametrize("source, unknown, nearest, syntax", [
    ("{{ nome }}", "nome", "Nome", "{{ Nome }}"),
    ("{{ Cogome }}", "Cogome", "Cognome", "{{ Cognome }}"),
    ('{{ riga["Data nascita"] }}', "Data nascita", "Data di nascita", '{{ riga["Data di nascita"] }}'),
    ('{{ riga["codice fiscale"] }}', "codice fiscale", "Codice fiscale", '{{ riga["Codice fiscale"] }}'),
    ("{{ Data_di_nascita }}", "Data_di_nascita", "Data di nascita", '{{ riga["Data di nascita"] }}'),
    ("{{ Citta }}", "Citta", "Città", "{{ Città }}"),
    ("{{ riga.Nom }}", "Nom", "Nome", "{{ Nome }}"),
])
def test_unknown_field_names_the_nearest_header(source, unknown, nearest, syntax, make_book, check):
    """The hint names the header and the syntax that works for it (issue 14.5: `riga["…"]` for spaces)."""
    path = make_book(headers=HEADERS_WITH_SPACES, rows=[ROW_WITH_SPACES], message={c.MSG_TEXT: source})
    rc, _, doc = check(path)
    assert rc == 1
    hits = problems_with(doc, "template_unknown_field")
    assert [(p["row"], p["column"]) for p in hits] == [(None, c.MSG_TEXT)]
    expected = f"Il campo «{unknown}» non è un'intestazione di Destinatari. Forse intendevate «{nearest}»: scrivete {syntax}."
    assert expected == hits[0]["message"]
    # the suggested syntax really works: the same template with it checks clean
    fixed = make_book(headers=HEADERS_WITH_SPACES, rows=[ROW_WITH_SPACES], message={c.MSG_TEXT: syntax}, name="fixed.xlsx")
    assert check(fixed)[0] == 0


def test_unknown_field_without_a_near_header_lists_the_fields(make_book, check):
    rc, _, doc = check(make_book(message={c.MSG_TEXT: "{{ Xyzzy }}"}))
    hits = problems_with(doc, "template_unknown_field")
    assert hits[0]["message"].endswith("Campi disponibili: PEC, Nome, Cognome, Allegati.")


def test_unknown_field_in_the_personal_attachment_template(make_book, check):
    rc, _, doc = check(make_book(message={c.MSG_PERSONAL_ATTACHMENT: "documenti/{{ Codice }}.pdf"}))
    assert rc == 1
    hits = problems_with(doc, "template_unknown_field")
    assert [(p["row"], p["column"]) for p in hits] == [(None, c.MSG_PERSONAL_ATTACHMENT)]


def test_headers_with_spaces_through_riga(make_book, check, cli):
    text = 'Nato il {{ riga["Data di nascita"] }} a {{ Città }}, CF {{ riga["Codice fiscale"] }}'
    path = make_book(headers=HEADERS_WITH_SPACES, rows=[ROW_WITH_SPACES], message={c.MSG_TEXT: text})
    assert check(path)[:2] == (0, [])
    assert cli("preview", path, "--row", 2, "--json").json["text"] == "Nato il 01/02/1980 a Roma, CF RSSMRA80B01H501U"


# ------------------------------------------------------------------------------------ empty values
UNGUARDED = [
    "Gentile {{ Cognome }}",
    "Gentile {{ riga['Cognome'] }}",
    "Gentile {{ Cognome|upper }}",
    "Gentile {{ Cognome|trim }}",
    "Gentile {{ Cognome ~ '!' }}",
    "Gentile {{ '%s'|format(Cognome) }}",
    "Gentile {{ Nome + Cognome }}",
    "Gentile {{ Cognome|euro }}",
    "Gentile {{ Cognome|data }}",
    "Gentile {{ Cognome|numero }}",
]
GUARDED = [
    ("Gentile{% if Cognome %} {{ Cognome }}{% endif %}", "Gentile"),
    ("Gentile {{ Cognome or 'cliente' }}", "Gentile cliente"),
    ("Gentile {{ Cognome|default('cliente', true) }}", "Gentile cliente"),
    ("Gentile {% if riga['Cognome'] %}{{ riga['Cognome'] }}{% else %}cliente{% endif %}", "Gentile cliente"),
    ("Gentile {{ Nome }}{% if not Cognome %} (cognome mancante){% endif %}", "Gentile Mario (cognome mancante)"),
]


@pytest.mark.parametrize("source", UNGUARDED)
def test_unguarded_empty_value_is_an_error(source, make_book, check):
    rows = [["mario@pec.test", "Mario", None, None]]
    rc, found, doc = check(make_book(rows=rows, message={c.MSG_SUBJECT: "Avviso", c.MSG_TEXT: source}))
    assert rc == 1
    assert found == [("template_empty_value", 2, "Cognome")]
    assert "{% if Cognome %}" in doc["problems"][0]["message"]
    assert "«Testo»" in doc["problems"][0]["message"]


@pytest.mark.parametrize("source, expected", GUARDED)
def test_guarded_empty_value_is_fine(source, expected, make_book, check, cli):
    path = make_book(rows=[["mario@pec.test", "Mario", None, None]], message={c.MSG_SUBJECT: "Avviso", c.MSG_TEXT: source})
    assert check(path)[:2] == (0, [])
    assert cli("preview", path, "--row", 2, "--json").json["text"] == expected


def test_empty_value_in_a_column_the_templates_do_not_use(make_book, check):
    rows = [["mario@pec.test", "Mario", "Rossi", None]]
    assert check(make_book(rows=rows))[:2] == (0, [])


def test_empty_value_with_spaces_in_the_header_hint(make_book, check):
    headers = ["PEC", "Nome", "Data di nascita"]
    path = make_book(headers=headers, rows=[["mario@pec.test", "Mario", None]],
                     message={c.MSG_SUBJECT: "Avviso", c.MSG_TEXT: 'Nato il {{ riga["Data di nascita"] }}'})
    rc, found, doc = check(path)
    assert found == [("template_empty_value", 2, "Data di nascita")]
    assert "{% if riga[\"Data di nascita\"] %}" in doc["problems"][0]["message"]


def test_every_row_reported_not_only_the_first(make_book, check):
    rows = [["a@pec.test", "A", None, None], ["b@pec.test", "B", "Bi", None], ["c@pec.test", "C", None, None]]
    rc, found, doc = check(make_book(rows=rows))
    # the subject and the text both use Cognome: one problem for each, naming the template
    assert found == [("template_empty_value", 2, "Cognome")] * 2 + [("template_empty_value", 4, "Cognome")] * 2
    assert ["«Oggetto»" in p["message"] for p in doc["problems"]] == [True, False, True, False]


# ------------------------------------------------------------------------------- sandbox escapes
@pytest.mark.parametrize("source", [
    "{{ Nome.__class__ }}",
    "{{ Nome.__class__.__mro__[1].__subclasses__() }}",
    "{{ Nome.upper.__globals__ }}",
    "{{ Nome.format.__self__ }}",
    "{{ riga.__class__ }}",
    "{{ riga.items.__self__.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self.__init__.__globals__ }}",
    "{{ range(10)|list }}",
    "{{ namespace() }}",
    "{{ Nome|attr('__class__') }}",
])
def test_sandbox_escape_attempts_fail_cleanly(source, make_book, check, cli):
    path = make_book(message={c.MSG_TEXT: source})
    rc, found, doc = check(path)
    assert rc == 1
    codes = {code for code, _, _ in found}
    assert codes and codes <= {"template_unknown_field", "template_render"}, found
    for p in doc["problems"]:
        for leak in ("<class", "object", "unsafe", "undefined", "os."):
            assert leak not in p["message"], p["message"]
    result = cli("preview", path, "--row", 2, "--json")
    assert result.rc == 1
    assert "<class" not in result.out


def test_sandbox_messages_are_italian(make_book, check):
    _, _, doc = check(make_book(message={c.MSG_TEXT: "{{ Nome.__class__ }}"}))
    assert problems_with(doc, "template_render")[0]["message"] == (
        "Il modello non si compone per questa riga: operazione non consentita nel modello (accesso a «__class__»).")
    _, _, doc = check(make_book(name="b.xlsx", message={c.MSG_TEXT: "{{ Nome.upper.__globals__ }}"}))
    assert problems_with(doc, "template_render")[0]["message"] == (
        "Il modello non si compone per questa riga: «__globals__» non esiste per questo valore.")


def test_filter_error_reports_the_value(make_book, check):
    rows = [["mario@pec.test", "Mario", "Rossi", None, "centouno"], ["anna@pec.test", "Anna", "Bianchi", None, 101]]
    path = make_book(headers=["PEC", "Nome", "Cognome", "Allegati", "Importo"], rows=rows,
                     message={c.MSG_TEXT: "Importo {{ Importo|euro }}"})
    rc, found, doc = check(path)
    assert found == [("template_render", 2, c.MSG_TEXT)]
    assert "«centouno» non è un importo" in doc["problems"][0]["message"]


def test_date_filter_on_text_that_is_no_date(make_book, check):
    rows = [["mario@pec.test", "Mario", "Rossi", None, "domani"]]
    path = make_book(headers=["PEC", "Nome", "Cognome", "Allegati", "Scadenza"], rows=rows,
                     message={c.MSG_TEXT: "Entro il {{ Scadenza|data }}"})
    rc, found, doc = check(path)
    assert found == [("template_render", 2, c.MSG_TEXT)]
    assert "«domani» non è una data" in doc["problems"][0]["message"]


def test_template_variables_set_inside_the_template(make_book, check, cli):
    text = "{% set saluto = 'Gentile' %}{{ saluto }} {{ Nome }}{% for x in [1, 2] %}.{% endfor %}"
    path = make_book(message={c.MSG_TEXT: text})
    assert check(path)[:2] == (0, [])
    assert cli("preview", path, "--row", 2, "--json").json["text"] == "Gentile Mario.."


def test_unknown_field_is_said_once_not_on_every_row(make_book, check, cli):
    rows = [["a@pec.test", "A", "Uno", None], ["b@pec.test", "B", "Due", None], ["c@pec.test", "C", "Tre", None]]
    path = make_book(rows=rows, message={c.MSG_TEXT: "Gentile {{ Cognom }}"})
    rc, found, doc = check(path)
    assert (rc, found) == (1, [("template_unknown_field", None, c.MSG_TEXT)])
    result = cli("check", path)
    assert "3 righe: 0 pronte, 3 con errori; 1 errore, 0 avvisi." in result.out
    preview = cli("preview", path, "--row", 3, "--json")
    assert preview.rc == 1 and [p["code"] for p in preview.json["problems"]] == ["template_unknown_field"]
