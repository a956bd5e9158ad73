"""Header injection attempts: a value that would end up in a message header never adds a header."""

from __future__ import annotations

import email
from email import policy

import pytest

from pecmass_xl.workbook import contract as c

from .books import HEADERS, ROW, problems_with


def _row(**changes):
    values = list(ROW)
    for name, value in changes.items():
        values[HEADERS.index(name)] = value
    return values


@pytest.mark.parametrize("value", [
    "Mario\r\nBcc: spia@pec.esempio.it",
    "Mario\nBcc: spia@pec.esempio.it",
    "Mario\rBcc: spia@pec.esempio.it",
    "Mario\n",  # a trailing line break inside the subject (Cognome follows)
])
def test_line_break_in_a_value_used_in_the_subject(value, make_book, check, cli, tmp_path):
    path = make_book(rows=[_row(Nome=value)])
    rc, found, doc = check(path)
    assert rc == 1
    assert found == [("subject_multiline", 2, c.MSG_SUBJECT)]
    eml = tmp_path / "out.eml"
    result = cli("preview", path, "--row", 2, "--eml", eml)
    assert result.rc == 1
    assert "più righe" in result.out
    assert not eml.exists()


def test_control_character_in_the_subject(make_book, check):
    rc, found, _ = check(make_book(rows=[_row(Nome="Mario\tRossi")]))
    assert (rc, found) == (1, [("header_value_control", 2, c.MSG_SUBJECT)])


def test_line_break_in_the_subject_template_itself(make_book, check):
    rc, found, _ = check(make_book(message={c.MSG_SUBJECT: "Avviso per\n{{ Nome }}"}))
    assert (rc, found) == (1, [("subject_multiline", 2, c.MSG_SUBJECT)])


def test_line_breaks_around_the_subject_are_trimmed(make_book, check, cli):
    path = make_book(message={c.MSG_SUBJECT: "Avviso per {{ Nome }}\n"})
    assert check(path)[:2] == (0, [])
    assert cli("preview", path, "--row", 2, "--json").json["subject"] == "Avviso per Mario"


@pytest.mark.parametrize("address, code", [
    ("mario@pec.test\r\nBcc: spia@pec.test", "address_multiple"),
    ("mario@pec.test\nX-Ricevuta: accettazione", "header_value_control"),
    ("mario\n@pec.test", "header_value_control"),
    ("mario@pec.test\tX", "header_value_control"),
])
def test_line_break_in_the_address(address, code, make_book, check):
    rc, found, _ = check(make_book(rows=[_row(PEC=address)]))
    assert rc == 1
    assert (code, 2, "PEC") in found


@pytest.mark.parametrize("reference", [
    "documento\r\nContent-Type: text/html.pdf",
    "doc\n.pdf",
    "doc\t1.pdf",
])
def test_line_break_in_an_attachment_name(reference, make_book, check):
    rc, found, doc = check(make_book(rows=[_row(Allegati=reference)]))
    assert rc == 1
    assert found == [("header_value_control", 2, "Allegati")]
    assert "non ammesso nelle intestazioni" in doc["problems"][0]["message"]
    assert "U+00" in doc["problems"][0]["message"]  # the offending code point is named


def test_line_break_reaching_the_personal_attachment_template(make_book, check, tmp_path):
    (tmp_path / "documenti").mkdir()
    (tmp_path / "documenti" / "Rossi.pdf").write_bytes(b"%PDF-1.4 prova")
    message = {c.MSG_PERSONAL_ATTACHMENT: "documenti/{{ Cognome }}.pdf"}
    rows = [ROW, ["anna@pec.test", "Anna", "Rossi\nX-Evil: 1", None]]
    rc, found, _ = check(make_book(rows=rows, message=message))
    assert rc == 1
    assert found == [("subject_multiline", 3, c.MSG_SUBJECT),
                     ("header_value_control", 3, c.MSG_PERSONAL_ATTACHMENT)]


@pytest.mark.parametrize("header", ["Nome\r\nBcc", "Nome\ncompleto", "Nome\tcompleto"])
def test_line_break_in_a_header(header, make_book, check):
    headers = HEADERS + [header]
    rc, found, doc = check(make_book(headers=headers, rows=[ROW + ["x"]]))
    assert rc == 1
    hits = problems_with(doc, "header_line_break")
    assert len(hits) == 1 and hits[0]["row"] is None
    assert "\n" not in hits[0]["column"]


@pytest.mark.parametrize("label, value", [
    (c.SET_MAILBOX, "studio@pec.test\r\nBcc: spia@pec.test"),
    (c.SET_MAILBOX, "studio@pec.test\nBcc: spia@pec.test"),
    (c.SET_TEST_RECIPIENT, "prova@pec.test\nBcc: spia@pec.test"),
])
def test_line_break_in_address_settings(label, value, make_book, check):
    rc, found, _ = check(make_book(settings={label: value}))
    assert rc == 1
    assert ("setting_invalid", None, label) in found


def test_header_lookalikes_on_one_line_stay_in_the_subject(make_book, check, cli, tmp_path):
    """`Bcc:` written inside a one-line value is just text: one recipient, no Cc or Bcc header."""
    path = make_book(rows=[_row(Nome="Mario Bcc: spia@pec.test, Cc: altro@pec.test")])
    assert check(path)[:2] == (0, [])
    eml = tmp_path / "out.eml"
    assert cli("preview", path, "--row", 2, "--eml", eml).rc == 0
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Bcc"] is None and msg["Cc"] is None
    assert msg.get_all("To") == ["mario.rossi@pec.test"]
    assert msg["Subject"] == "Avviso per Mario Bcc: spia@pec.test, Cc: altro@pec.test Rossi"


def test_header_lookalikes_in_the_text_stay_in_the_body(make_book, check, cli, tmp_path):
    rows = [_row(Nome="Mario"), ["anna@pec.test", "Anna", "Bianchi", None]]
    message = {c.MSG_TEXT: "Gentile {{ Nome }}\n\nBcc: spia@pec.test\n.\nFine"}
    path = make_book(rows=rows, message=message)
    assert check(path)[:2] == (0, [])
    eml = tmp_path / "out.eml"
    assert cli("preview", path, "--row", 2, "--eml", eml).rc == 0
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Bcc"] is None
    assert msg.get_content().replace("\r\n", "\n") == "Gentile Mario\n\nBcc: spia@pec.test\n.\nFine\n"


def test_cell_values_are_data_not_templates(make_book, check, cli):
    path = make_book(rows=[_row(Nome="{{ 7*7 }}", Cognome="{% if true %}X{% endif %}")])
    assert check(path)[:2] == (0, [])
    preview = cli("preview", path, "--row", 2, "--json").json
    assert preview["subject"] == "Avviso per {{ 7*7 }} {% if true %}X{% endif %}"


@pytest.mark.parametrize("value, code, words", [
    ("Anna\u2028Bcc: spia@pec.test", "header_value_control", "U+2028 (separatore di riga)"),
    ("Anna\u2029", "header_value_control", "U+2029 (separatore di paragrafo)"),
    ("Anna\x85Bcc: spia@pec.test", "header_value_control", "U+0085"),
    ("Anna\u202eanna", "header_value_control", "U+202E (controllo della direzione del testo)"),
    ("Sig. =?utf-8?q?Anna=0D=0ABcc:_spia@pec.test?=", "header_value_encoded_word", "=?utf-8?q?Anna"),
])
def test_separators_bidi_and_encoded_words_in_the_subject(value, code, words, make_book, check, cli, tmp_path):
    """Before issue 11 these passed `check`, then `preview` crashed and `send` stopped at the row."""
    path = make_book(rows=[_row(Nome=value)])
    rc, found, doc = check(path)
    assert (rc, found) == (1, [(code, 2, c.MSG_SUBJECT)])
    assert words in doc["problems"][0]["message"] and "«Nome»" in doc["problems"][0]["message"]
    eml = tmp_path / "out.eml"
    result = cli("preview", path, "--row", 2, "--eml", eml)
    assert result.rc == 1 and words in result.out and "Traceback" not in result.out + result.err
    assert not eml.exists()


def test_invisible_characters_are_removed_from_headers_with_a_warning(make_book, check, cli, tmp_path):
    (tmp_path / "doc\u200b.pdf").write_bytes(b"%PDF")
    path = make_book(rows=[_row(Nome="\ufeffMa\u00adrio\u200b", PEC="mario.rossi@pec.test\u200b", Allegati="doc\u200b.pdf")])
    rc, found, doc = check(path)
    assert rc == 0
    assert sorted(found) == [("header_value_invisible", 2, "Allegati"), ("header_value_invisible", 2, c.MSG_SUBJECT),
                             ("header_value_invisible", 2, "PEC")]
    eml = tmp_path / "out.eml"
    assert cli("preview", path, "--row", 2, "--eml", eml).rc == 0
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "Avviso per Mario Rossi" and msg["To"] == "mario.rossi@pec.test"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["doc.pdf"]
