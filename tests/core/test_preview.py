"""`pecmass preview`: the exact message of one row, as JSON, as text and as an .eml parsed back."""

from __future__ import annotations

import email
import re
from email import policy

from pecmass_xl.workbook import contract as c

from .books import CAMPAIGN, ROW

SUBJECT = "Avviso per {{ Nome }} — Città di {{ Cognome }}"
NAMES = {
    "Fattura n° 12 è già pagata.pdf": ("application", "pdf"),
    "Atto firmato.pdf.p7m": ("application", "pkcs7-mime"),
    "dati_ÀÉÌ.xml": ("application", "xml"),
    "Relazione finale.docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
}


def _attachments(folder):
    sizes = {}
    for i, name in enumerate(NAMES):
        data = bytes(range(256)) * (i * 7 + 1) + name.encode("utf-8")
        (folder / name).write_bytes(data)
        sizes[name] = len(data)
    return sizes


def _book(make_book, tmp_path, **message):
    sizes = _attachments(tmp_path)
    names = list(NAMES)
    path = make_book(rows=[[ROW[0], "Niccolò", "Forlì", "; ".join(names[1:])]],
                     message={c.MSG_SUBJECT: SUBJECT, c.MSG_COMMON_ATTACHMENTS: names[0], **message},
                     settings={c.SET_MAILBOX: "ufficio@pec.comune.test"})
    return path, sizes


def test_preview_json(make_book, cli, tmp_path):
    path, sizes = _book(make_book, tmp_path)
    result = cli("preview", path, "--row", 2, "--json")
    assert result.rc == 0
    doc = result.json
    assert list(doc) == ["row", "to", "subject", "text", "attachments", "size"]
    assert doc["row"] == 2 and doc["to"] == "mario.rossi@pec.test"
    assert doc["subject"] == "Avviso per Niccolò — Città di Forlì"
    assert doc["text"] == "Gentile Niccolò Forlì,\nle scriviamo per l'avviso.\n\nCordiali saluti"
    assert doc["attachments"] == [{"name": name, "size": size} for name, size in sizes.items()]
    eml = tmp_path / "m.eml"
    assert cli("preview", path, "--row", 2, "--json", "--eml", eml).json["size"] == eml.stat().st_size


def test_preview_eml_parsed_back(make_book, cli, tmp_path):
    path, sizes = _book(make_book, tmp_path, **{c.MSG_RECEIPT_TYPE: "breve"})
    eml = tmp_path / "riga 2.eml"
    result = cli("preview", path, "--row", 2, "--eml", eml)
    assert result.rc == 0
    raw = eml.read_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"\r\n" in raw and all(b.isascii() for b in [raw])  # 7-bit clean on the wire
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["From"] == "ufficio@pec.comune.test"
    assert msg.get_all("To") == ["mario.rossi@pec.test"]
    for absent in ("Cc", "Bcc", "Reply-To"):
        assert msg[absent] is None
    assert msg["Subject"] == "Avviso per Niccolò — Città di Forlì"
    assert msg["X-TipoRicevuta"] == "breve"
    assert msg["Message-ID"] == f"<pecmass.{CAMPAIGN}.ANTEPRIMA.0@pec.comune.test>"
    assert msg["Date"] is not None and msg["Date"].datetime is not None
    body = msg.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    assert body.get_content().replace("\r\n", "\n").startswith("Gentile Niccolò Forlì,\n")
    parts = list(msg.iter_attachments())
    assert [p.get_filename() for p in parts] == list(NAMES)
    for part in parts:
        name = part.get_filename()
        assert (part.get_content_maintype(), part.get_content_subtype()) == NAMES[name]
        data = part.get_payload(decode=True)
        assert len(data) == sizes[name]
        assert data == (tmp_path / name).read_bytes()


def test_preview_text_output(make_book, cli, tmp_path):
    path, sizes = _book(make_book, tmp_path)
    result = cli("preview", path, "--row", 2)
    assert result.rc == 0
    out = result.out
    assert "Riga 2\n" in out
    assert "A:        mario.rossi@pec.test\n" in out
    assert "Oggetto:  Avviso per Niccolò — Città di Forlì\n" in out
    assert "Fattura n° 12 è già pagata.pdf (" in out
    assert re.search(r"Dimensione del messaggio codificato: [\d,]+ KB", out)
    assert "Message-ID mostra un segnaposto" in out
    assert "Gentile Niccolò Forlì," in out


def test_preview_of_a_row_with_an_id_uses_it(make_book, cli, tmp_path):
    def sent(wb):
        wb[c.SHEET_LIST].cell(2, 5).value = "RABCDEF23"
    path = make_book(edit=sent)
    eml = tmp_path / "m.eml"
    result = cli("preview", path, "--row", 2, "--eml", eml)
    assert result.rc == 0
    assert "segnaposto" not in result.out
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Message-ID"] == f"<pecmass.{CAMPAIGN}.RABCDEF23.0@pec.sandbox.test>"


def test_preview_of_a_row_with_errors(make_book, cli, tmp_path):
    path = make_book(rows=[ROW, ["anna@", "Anna", None, None]])
    eml = tmp_path / "m.eml"
    result = cli("preview", path, "--row", 3, "--eml", eml)
    assert result.rc == 1
    assert "La riga 3 ha errori e non verrebbe inviata:" in result.out
    assert "«anna@» non è un indirizzo PEC valido" in result.out
    assert not eml.exists()
    doc = cli("preview", path, "--row", 3, "--json").json
    assert doc["row"] == 3
    assert [(p["code"], p["row"], p["column"]) for p in doc["problems"]] == [
        ("address_invalid", 3, "PEC"), ("template_empty_value", 3, "Cognome"), ("template_empty_value", 3, "Cognome")]
    # the good row still previews
    assert cli("preview", path, "--row", 2, "--json").rc == 0


def test_preview_blocked_by_a_general_error(make_book, cli):
    path = make_book(settings={c.SET_MAILBOX: None})
    result = cli("preview", path, "--row", 2, "--json")
    assert result.rc == 1
    assert [p["code"] for p in result.json["problems"]] == ["setting_missing"]


def test_preview_shows_warnings(make_book, cli, tmp_path):
    (tmp_path / "vuoto.pdf").write_bytes(b"")
    path = make_book(rows=[ROW[:3] + ["vuoto.pdf"]])
    result = cli("preview", path, "--row", 2)
    assert result.rc == 0
    assert "Avviso (riga 2, colonna «Allegati»): L'allegato «vuoto.pdf» è vuoto (0 byte)." in result.out


def test_preview_eml_to_an_unwritable_place(make_book, cli, tmp_path):
    result = cli("preview", make_book(), "--row", 2, "--eml", tmp_path / "manca" / "m.eml")
    assert result.rc == 2
    assert "Non riesco a scrivere" in result.err


def test_text_only_message_is_single_part(make_book, cli, tmp_path):
    eml = tmp_path / "m.eml"
    assert cli("preview", make_book(), "--row", 2, "--eml", eml).rc == 0
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg.get_content_type() == "text/plain"
    assert msg["X-TipoRicevuta"] == "completa"
