"""Every code of the published catalogue is produced by a real workbook, at the expected place.

`CASES` maps each code to a workbook that triggers it and the (row, column) the problem must name;
`test_every_catalogue_code_has_a_case` fails when a code is added to the catalogue without a case.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pecmass_xl.campaign.problems import CATALOGUE, ERROR
from pecmass_xl.workbook import contract as c

from .books import HEADERS, REAL_PROVIDER, ROW, problems_with


def _row(**changes) -> list:
    """The default row with some columns changed by header name."""
    values = list(ROW)
    for name, value in changes.items():
        values[HEADERS.index(name)] = value
    return values


def _remove_sheet(name):
    def edit(wb):
        wb.remove(wb[name])
    return edit


def _append_label(sheet, label, value):
    def edit(wb):
        wb[sheet].append([label, value])
    return edit


def _merge(ref):
    def edit(wb):
        wb[c.SHEET_LIST].merge_cells(ref)
    return edit


def _file(tmp: Path, name: str, size: int, sparse: bool = False) -> str:
    path = tmp / name
    if sparse:
        with path.open("wb") as handle:
            handle.truncate(size)
    else:
        path.write_bytes(os.urandom(size))
    return name


# code -> (builder(tmp_path) -> make_book kwargs, expected row, expected column, key words of the message)
CASES = {
    "sheet_missing": (lambda tmp: dict(edit=_remove_sheet(c.SHEET_MESSAGE)), None, None, ["Messaggio", "pecmass new"]),
    "list_empty": (lambda tmp: dict(rows=[]), None, None, ["Destinatari"]),
    "label_duplicate": (lambda tmp: dict(edit=_append_label(c.SHEET_MESSAGE, c.MSG_SUBJECT, "Altro {{ Nome }}")),
                        None, c.MSG_SUBJECT, ["due volte", "Messaggio"]),
    "header_duplicate": (lambda tmp: dict(headers=HEADERS + ["NOME"], rows=[ROW + ["Maria"]]), None, "NOME", ["due volte", "Nome"]),
    "header_reserved": (lambda tmp: dict(headers=HEADERS + ["stato invio"], rows=[ROW + ["x"]]), None, "stato invio",
                        ["riservata", "Stato invio"]),
    "header_spaces": (lambda tmp: dict(headers=["PEC", " Nome ", "Cognome", "Allegati"]), None, "Nome", ["spazi"]),
    "header_line_break": (lambda tmp: dict(headers=HEADERS + ["Nome\ncompleto"], rows=[ROW + ["x"]]), None, "Nome completo",
                          ["a capo"]),
    "header_merged": (lambda tmp: dict(edit=_merge("B1:C1")), None, None, ["B1:C1", "unite"]),
    "header_missing": (lambda tmp: dict(rows=[ROW + [None] * len(c.RESULT_COLUMNS) + ["avanzo"]]), 2, None,
                       [f"colonna {len(HEADERS) + len(c.RESULT_COLUMNS) + 1}", "intestazione"]),
    "address_missing": (lambda tmp: dict(rows=[_row(PEC=None)]), 2, "PEC", ["vuoto"]),
    "address_invalid": (lambda tmp: dict(rows=[_row(PEC="mario.rossi@")]), 2, "PEC", ["mario.rossi@", "non è un indirizzo"]),
    "address_multiple": (lambda tmp: dict(rows=[_row(PEC="a@pec.test; b@pec.test")]), 2, "PEC", ["più indirizzi"]),
    "address_reserved_domain": (lambda tmp: dict(settings=REAL_PROVIDER), 2, "PEC", ["dominio di prova", "Sandbox"]),
    "address_duplicate": (lambda tmp: dict(rows=[ROW, _row(PEC="Mario.Rossi@PEC.test", Nome="Anna")]), 3, "PEC", ["riga 2"]),
    "address_column_missing": (lambda tmp: dict(settings={c.SET_ADDRESS_COLUMN: "Email"}), None, c.SET_ADDRESS_COLUMN, ["Email"]),
    "template_syntax": (lambda tmp: dict(message={c.MSG_TEXT: "Gentile\n{{ Nome }\nSaluti"}), None, c.MSG_TEXT, ["riga 2"]),
    "template_unknown_field": (lambda tmp: dict(message={c.MSG_SUBJECT: "Avviso per {{ Nomee }}"}), None, c.MSG_SUBJECT,
                               ["Nomee", "«Nome»"]),
    "template_empty_value": (lambda tmp: dict(rows=[_row(Cognome=None)]), 2, "Cognome", ["vuota", "{% if Cognome %}"]),
    "template_render": (lambda tmp: dict(message={c.MSG_TEXT: "Importo {{ Nome|euro }}"}), 2, c.MSG_TEXT, ["Mario", "importo"]),
    "number_ambiguous": (lambda tmp: dict(headers=HEADERS + ["Importo"], rows=[ROW + ["1,234.56"]],
                                          message={c.MSG_TEXT: "Importo {{ Importo|euro }}"}), 2, "Importo",
                         ["1,234.56", "1.234,56", "all'italiana"]),
    "subject_empty": (lambda tmp: dict(message={c.MSG_SUBJECT: "{% if Nome == 'Anna' %}Avviso{% endif %}"}), 2, c.MSG_SUBJECT,
                      ["vuoto"]),
    "subject_multiline": (lambda tmp: dict(rows=[_row(Nome="Mario\nBcc: altro@pec.test")]), 2, c.MSG_SUBJECT, ["più righe"]),
    "text_empty": (lambda tmp: dict(message={c.MSG_TEXT: "{% if Nome == 'Anna' %}Testo{% endif %}"}), 2, c.MSG_TEXT, ["vuoto"]),
    "header_value_control": (lambda tmp: dict(rows=[_row(Nome="Mario\u2028Rossi")]), 2, c.MSG_SUBJECT,
                             ["U+2028", "separatore di riga", "«Nome»"]),
    "header_value_encoded_word": (lambda tmp: dict(rows=[_row(Nome="Sig. =?utf-8?q?Anna=0D=0ABcc:_x@y.pec.test?=")]), 2, c.MSG_SUBJECT,
                                  ["=?utf-8?q?", "parola codificata", "«Nome»"]),
    "header_value_invisible": (lambda tmp: dict(rows=[_row(Nome="Ma\u00adrio")]), 2, c.MSG_SUBJECT, ["U+00AD", "tolti"]),
    "attachment_outside": (lambda tmp: dict(rows=[_row(Allegati="/etc/hostname")]), 2, "Allegati",
                           ["/etc/hostname", "Cartelle allegati", "fuori"]),
    "formula_no_value": (lambda tmp: dict(rows=[_row(Nome='=UPPER("mario")')]), 2, "Nome", ["F9"]),
    "attachment_missing": (lambda tmp: dict(rows=[_row(Allegati="manca.pdf")]), 2, "Allegati", ["manca.pdf", "non esiste"]),
    "attachment_not_file": (lambda tmp: (tmp / "documenti").mkdir() or dict(rows=[_row(Allegati="documenti")]), 2, "Allegati",
                            ["documenti", "non è un file"]),
    "attachment_unreadable": (lambda tmp: (tmp / "ciclo.pdf").symlink_to(tmp / "ciclo.pdf") or dict(rows=[_row(Allegati="ciclo.pdf")]),
                              2, "Allegati", ["ciclo.pdf", "non si può"]),
    "attachment_forbidden_type": (lambda tmp: dict(rows=[_row(Allegati="programma.exe")]), 2, "Allegati", ["programma.exe", ".exe"]),
    "attachment_empty": (lambda tmp: dict(rows=[_row(Allegati=_file(tmp, "vuoto.pdf", 0))]), 2, "Allegati", ["vuoto.pdf", "0 byte"]),
    "message_too_large": (lambda tmp: dict(rows=[_row(Allegati=_file(tmp, "grande.pdf", 20_000))],
                                           settings={c.SET_MAX_SIZE: 0.01}), 2, "Allegati", ["0,01 MB"]),
    "receipts_volume": (lambda tmp: dict(rows=[ROW, _row(PEC="anna@pec.test")],
                                         message={c.MSG_COMMON_ATTACHMENTS: _file(tmp, "enorme.pdf", 160_000_000, sparse=True)},
                                         settings={c.SET_MAX_SIZE: 1000}), None, c.MSG_RECEIPT_TYPE, ["320 MB", "breve"]),
    "setting_missing": (lambda tmp: dict(settings={c.SET_MAILBOX: None}), None, c.SET_MAILBOX, ["PEC del mittente"]),
    "setting_invalid": (lambda tmp: dict(settings={c.SET_SMTP_PORT: "porta"}), None, c.SET_SMTP_PORT, ["porta", "1 e 65535"]),
    "setting_uncertain": (lambda tmp: dict(settings={c.SET_PROVIDER: "Aruba", c.SET_MAILBOX: "studio@pec.esempio.it"}),
                          None, c.SET_PACE, ["Aruba", "verificatelo"]),
    "provider_notice": (lambda tmp: dict(settings={c.SET_PROVIDER: "Legalmail", c.SET_MAILBOX: "studio@pec.esempio.it"}),
                        None, c.SET_PROVIDER, ["6 messaggi al minuto"]),
    "row_already_sent": (lambda tmp: dict(rows=[_row(PEC="mario.rossi@") + ["RABCDEFGH"]]), 2, c.COL_ID, ["RABCDEFGH"]),
}


def test_every_catalogue_code_has_a_case():
    assert sorted(CASES) == sorted(CATALOGUE)


@pytest.mark.parametrize("code", sorted(CASES))
def test_catalogue_code_is_produced(code, tmp_path, make_book, check):
    builder, row, column, words = CASES[code]
    path = make_book(**builder(tmp_path))
    rc, _, doc = check(path)
    found = problems_with(doc, code)
    assert found, f"{code} not produced; got {[(p['code'], p['row'], p['column']) for p in doc['problems']]}"
    hit = found[0]
    assert (hit["row"], hit["column"]) == (row, column)
    severity = CATALOGUE[code][0]
    assert hit["severity"] == severity
    for word in words:
        assert word in hit["message"], (word, hit["message"])
    if severity == ERROR:
        assert rc == 1
