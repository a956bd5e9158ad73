"""Hostile header values, end to end (issue 11, parts 1, 2 and 8): a list crafted to inject headers
is checked, sent through the sandbox, and what each recipient's mailbox holds is parsed: the
transport envelope and the original message inside it. Runs on any Python patch level: before the
fix for CVE-2024-6923 (3.11.7 here) the stdlib alone writes a decoded CR LF as a real header.
"""

from __future__ import annotations

import email
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from pecmass_xl.campaign.header_values import UnsafeHeaderValue
from pecmass_xl.campaign.mime import MessageDraft, build_message, message_bytes
from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.sending.engine import Reporter, SendOptions, SendRun
from pecmass_xl.sending.plan import plan_send
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.file_workbook import FileWorkbook

from .conftest import run, sheet_rows, unique_local

SPY = "spia@spia.pec.test"
INJECTION = f"=?utf-8?q?Anna=0D=0ABcc:_{SPY}?="
SUBJECT = "Avviso per {{ Nome }}"
TEXT = "Gentile {{ Nome }},\nnota: {{ Nota }}\nCordiali saluti"


def _book(folder: Path, rows: list[list]) -> Path:
    """A Sandbox workbook with headers PEC, Nome, Nota, Allegati."""
    wb = build_new_workbook("")
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(["PEC", "Nome", "Nota", "Allegati"] + list(c.RESULT_COLUMNS))
    for values in rows:
        ws.append(values)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # a value typed as text in Excel, not a formula
    for row in wb[c.SHEET_MESSAGE].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = SUBJECT
        elif row[0].value == c.MSG_TEXT:
            row[1].value = TEXT
    path = folder / "lista.xlsx"
    wb.save(path)
    return path


def _address() -> str:
    return f"{unique_local('h')}@studio.pec.test"


def originals(sb, address: str) -> list[tuple[EmailMessage, EmailMessage]]:
    """(transport envelope, original inside it) for every PEC that reached `address`."""
    found = []
    for raw in sb.mailbox_messages(address):
        envelope = email.message_from_bytes(raw, policy=policy.default)
        if envelope["X-Trasporto"] != "posta-certificata":
            continue
        inner = [part.get_content() for part in envelope.walk() if part.get_content_type() == "message/rfc822"]
        assert len(inner) == 1
        found.append((envelope, inner[0]))
    return found


def assert_clean_headers(original: EmailMessage, address: str, subject: str) -> None:
    """One recipient, no added header, the subject exactly as composed."""
    assert original.get_all("To") == [address]
    for name in ("Bcc", "Cc", "Reply-To"):
        assert original.get_all(name) is None, name
    assert original.get_all("X-TipoRicevuta") == ["completa"]
    assert original.get_all("Subject") == [subject]
    assert original.get_all("From") == ["mittente@pec.sandbox.test"]


def test_injection_through_values_is_refused_and_the_other_rows_arrive_clean(sb, tmp_path, capsys):
    first, soft, body_only, last = (_address() for _ in range(4))
    hostile_name = tmp_path / f"{INJECTION}.pdf"
    hostile_name.write_bytes(b"%PDF-1.4 ostile")
    (tmp_path / "ok.pdf").write_bytes(b"%PDF-1.4 buono")
    rows = [
        [first, "Mario", "niente", None],
        [_address(), f"Sig. {INJECTION}", "x", None],  # encoded word in the subject
        [_address(), "Anna\u2028Bcc: " + SPY, "x", None],  # line separator
        [_address(), "Anna\u0085Bcc: " + SPY, "x", None],  # NEL
        [_address(), "Anna\u202eanna", "x", None],  # bidi override
        [_address(), "Luca", "x", hostile_name.name],  # encoded word in an attachment's file name
        [f"=?utf-8?q?x=0D=0ABcc=3A_spia=40spia.pec.test?=@{first.split('@')[1]}", "Rita", "x", None],  # in the address
        [soft, "Ma\u00adria\u200b", "x", "ok.pdf"],  # invisible characters: removed, sent
        [body_only, "Elena", f"{INJECTION} \u2028 \u0085 \u202e fine", None],  # body only: anything goes
        [last, "Ultimo", "x", None],
    ]
    path = _book(tmp_path, rows)

    assert run("check", path, "--json") == 1
    found = [(p["code"], p["row"], p["column"]) for p in json.loads(capsys.readouterr().out)["problems"]]
    assert found == [
        ("header_value_encoded_word", 3, c.MSG_SUBJECT),
        ("header_value_control", 4, c.MSG_SUBJECT),
        ("header_value_control", 5, c.MSG_SUBJECT),
        ("header_value_control", 6, c.MSG_SUBJECT),
        ("header_value_encoded_word", 7, "Allegati"),
        ("header_value_encoded_word", 8, "PEC"),
        ("header_value_invisible", 9, c.MSG_SUBJECT),
    ]

    assert run("send", path, "--yes", "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"][c.ST_INVALID] == 6
    assert sum(n for state, n in doc["counts"].items() if state != c.ST_INVALID) == 4
    sb.wait_idle(10)

    assert sb.mailbox_messages(SPY) == []
    expected = {first: "Avviso per Mario", soft: "Avviso per Maria", body_only: "Avviso per Elena", last: "Avviso per Ultimo"}
    for address, subject in expected.items():
        delivered = originals(sb, address)
        assert len(delivered) == 1, address
        envelope, original = delivered[0]
        assert envelope.get_all("To") == [address] and envelope["Bcc"] is None
        assert_clean_headers(original, address, subject)
    body = originals(sb, body_only)[0][1].get_body(("plain",)).get_content()
    assert f"nota: {INJECTION} \u2028 \u0085 \u202e fine" in body
    soft_original = originals(sb, soft)[0][1]
    assert [part.get_filename() for part in soft_original.iter_attachments()] == ["ok.pdf"]

    states = {r["PEC"]: (r[c.COL_STATUS], r[c.COL_ID], r[c.COL_DETAIL]) for r in sheet_rows(path)}
    for row in rows[1:7]:
        status, row_id, detail = states[row[0]]
        assert (status, row_id) == (c.ST_INVALID, None)
    assert "U+2028 (separatore di riga)" in states[rows[2][0]][2]
    assert "U+0085" in states[rows[3][0]][2] and "U+202E" in states[rows[4][0]][2]
    assert "=?utf-8?q?" in states[rows[1][0]][2] and "parola codificata" in states[rows[1][0]][2]


@pytest.mark.parametrize("field, value", [
    ("subject", f"Sig. {INJECTION}"),
    ("subject", "Anna\u2028Bcc: spia@spia.pec.test"),
    ("subject", "Anna\r\nBcc: spia@spia.pec.test"),
    ("subject", "Anna\u2066nascosto"),
    ("to", "=?utf-8?q?x=0D=0ABcc=3A_spia=40spia.pec.test?=@studio.pec.test"),
])
def test_the_mime_builder_refuses_on_its_own(field, value):
    """Whatever the checks missed and whatever the Python patch level, no such header is written."""
    values = {"to": "mario@studio.pec.test", "subject": "Avviso", "text": "Testo"}
    values[field] = value
    with pytest.raises(UnsafeHeaderValue) as raised:
        build_message(MessageDraft(values["to"], values["subject"], values["text"]), "mittente@pec.sandbox.test", "<m@x>", "completa")
    assert "intestazion" in str(raised.value) or "parola codificata" in str(raised.value)


def test_the_mime_builder_refuses_an_encoded_word_file_name(tmp_path):
    from pecmass_xl.campaign.attachments import inspect

    (tmp_path / "documento.pdf").write_bytes(b"%PDF")
    attachment, _, _ = inspect("documento.pdf", tmp_path)
    hostile = type(attachment)(attachment.path, f"{INJECTION}.pdf", attachment.size)
    with pytest.raises(UnsafeHeaderValue):
        build_message(MessageDraft("m@studio.pec.test", "Avviso", "Testo", [hostile]), "s@pec.sandbox.test", "<m@x>", "completa")


def test_values_in_the_body_only_build_as_they_are():
    text = f"{INJECTION}\u2028\u0085\u202e\u00ad"
    msg = build_message(MessageDraft("m@studio.pec.test", "Avviso", text), "s@pec.sandbox.test", "<m@x>", "completa")
    parsed = email.message_from_bytes(message_bytes(msg), policy=policy.default)
    assert parsed.get_all("Bcc") is None and parsed.get_content().rstrip("\r\n") == text


def test_a_row_whose_message_cannot_be_built_is_not_frozen_and_the_send_goes_on(sb, tmp_path):
    """Defence in depth (part 2): a draft the checks passed but the builder refuses."""
    addresses = [_address() for _ in range(3)]
    path = _book(tmp_path, [[a, f"Persona {i}", "x", None] for i, a in enumerate(addresses)])
    plan = plan_send(FileWorkbook(path))
    assert len(plan.due) == 3
    plan.due[1].draft.subject = f"Sig. {INJECTION}"  # as if a check had missed it
    outcome = SendRun(plan, sb.password, SendOptions(write_every=0)).run()
    sb.wait_idle(10)
    assert outcome.counts[c.ST_INVALID] == 1 and outcome.sent_now == 2
    assert sb.mailbox_messages(SPY) == []
    assert len(originals(sb, addresses[0])) == 1 and len(originals(sb, addresses[2])) == 1
    assert originals(sb, addresses[1]) == []
    rows = sheet_rows(path)
    assert rows[1][c.COL_STATUS] == c.ST_INVALID and rows[1][c.COL_ID] is None  # never frozen
    assert "parola codificata" in rows[1][c.COL_DETAIL]
    assert rows[0][c.COL_ID] and rows[2][c.COL_ID]


def test_an_attachment_changed_after_freezing_fails_its_row_only(sb, tmp_path):
    """The message is built before the attempt is recorded: no attempt, no ledger entry, the rest sent."""
    addresses = [_address() for _ in range(3)]
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4 originale")
    path = _book(tmp_path, [[addresses[0], "A", "x", None], [addresses[1], "B", "x", "doc.pdf"], [addresses[2], "C", "x", None]])
    plan = plan_send(FileWorkbook(path))

    class Meddler(Reporter):
        def start(self, total: int) -> None:  # after the rows are frozen, before the first hand-over
            (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4 cambiato, molto piu lungo")

    outcome = SendRun(plan, sb.password, SendOptions(write_every=0), reporter=Meddler()).run()
    sb.wait_idle(10)
    assert outcome.sent_now == 2 and outcome.counts[c.ST_INVALID] == 1
    assert [f["row"] for f in outcome.failed] == [3]
    assert originals(sb, addresses[1]) == []
    rows = sheet_rows(path)
    assert rows[1][c.COL_STATUS] == c.ST_INVALID and "cambiato dopo il controllo" in rows[1][c.COL_DETAIL]
    from pecmass_xl.campaign.files import open_journal, open_ledger
    with open_journal(plan.campaign_id) as journal:
        assert journal.attempts_for_row(rows[1][c.COL_ID]) == []
    with open_ledger(plan.settings) as ledger:
        assert sorted(e.recipient for e in ledger.entries_for_campaign(plan.campaign_id)) == sorted([addresses[0], addresses[2]])


@pytest.mark.parametrize("encoded", [
    "=?utf-8?q?Anna=0D=0ATo:_spia@spia.pec.test?=",  # a second To:
    "=?utf-8?q?Anna=0D=0AReply-To:_spia@spia.pec.test?=",
    "=?utf-8?q?Anna=0D=0AX-TipoRicevuta:_sintetica?=",  # a second receipt type
    "=?utf-8?q?Anna=0D=0A=0D=0AIl_testo_vero_=C3=A8_questo?=",  # ends the headers: the attacker's body
    "=?utf-8?b?QW5uYQ0KQmNjOiBzcGlhQHNwaWEucGVjLnRlc3Q=?=",  # the same in base64
])
def test_every_encoded_injection_is_refused_and_the_row_after_it_is_sent(encoded, sb, tmp_path, capsys):
    victim, after = _address(), _address()
    path = _book(tmp_path, [[victim, f"Sig. {encoded}", "x", None], [after, "Dopo", "x", None]])
    assert run("send", path, "--yes", "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"][c.ST_INVALID] == 1 and doc["failed"] == []
    sb.wait_idle(10)
    assert originals(sb, victim) == [] and sb.mailbox_messages(SPY) == []
    [(envelope, original)] = originals(sb, after)
    assert_clean_headers(original, after, "Avviso per Dopo")
    assert run("send", path, "--yes", "--json") == 1  # a second run: nothing new, no attempt piles up
    capsys.readouterr()
    rows = sheet_rows(path)
    assert rows[0][c.COL_STATUS] == c.ST_INVALID and rows[0][c.COL_ID] is None
    assert len(originals(sb, after)) == 1
