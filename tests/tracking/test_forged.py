"""Receipts are evidence: forgeries never pass silently, hostile XML never stops a sync, and text
from a provider or a user never runs as a formula (DESIGN §5.7, §5.8)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest

from pecmass_xl.workbook import contract as c

from . import forge
from .conftest import (
    append,
    journal_of,
    make_campaign,
    new_folder,
    receipt_events,
    receipts_for,
    run,
    set_cell,
    set_settings,
    sheet_cells,
    sheet_rows,
    unique,
)

FAST_SEND = ("--backoff", "0.05", "--rate-limit-pause", "0.2")


def run_json(*args) -> tuple[int, dict]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = run(*args)
    return code, json.loads(buffer.getvalue())


def sent_campaign(sb, tmp_path, recipients, existing=None):
    """Send, wait for every receipt in INBOX, read them; returns (path, folder, message ids)."""
    folder = new_folder(sb)
    path = existing or make_campaign(tmp_path, recipients)
    set_settings(path, {c.SET_RECEIPT_FOLDERS: f"INBOX; {folder}"})
    assert run("send", path, "--yes", *FAST_SEND) in (0, 1)
    rows = sheet_rows(path)
    with journal_of(path) as journal:
        ids = [journal.latest_attempt(r[c.COL_ID]).message_id for r in rows]
    for message_id in ids:
        assert sb.wait_until(lambda: len(receipts_for(sb, message_id)) >= 2)
    sb.wait_idle(10)
    run_json("receipts", path, "--json")
    return path, folder, ids


def test_forged_delivery_receipts_are_kept_listed_and_never_overrule_a_verified_failure(sb, tmp_path):
    recipients = [unique("inesistente.a"), unique("inesistente.b"), unique("inesistente.c"),
                  unique("inesistente.d"), unique("inesistente.e")]
    path, folder, ids = sent_campaign(sb, tmp_path, recipients)
    assert [r[c.COL_STATUS] for r in sheet_rows(path)] == ["Mancata consegna"] * 5
    directory = sb.directory
    genuine = forge.provider_builder(directory)
    forged = [
        # 0: no signature at all
        forge.strip_signature(forge.delivered(genuine, forge.submission(ids[0], recipients[0]))),
        # 1: signed with the sandbox's TLS key (same CA, not the provider's signing certificate)
        forge.delivered(forge.tls_key_builder(directory), forge.submission(ids[1], recipients[1])),
        # 2: a certificate shaped like the provider's, from another CA
        forge.delivered(forge.foreign_ca_builder(), forge.submission(ids[2], recipients[2])),
        # 3: a genuine signature, with the classifying header changed afterwards
        forge.delivered(genuine, forge.submission(ids[3], recipients[3])).replace(
            b"X-Riferimento-Message-ID: " + ids[4].encode(), b"X-Riferimento-Message-ID: " + ids[3].encode()),
    ]
    # 4: a genuine receipt of row 4 whose signed daticert names row 4, re-addressed in the header to row 3
    moved = forge.delivered(genuine, forge.submission(ids[4], recipients[4])).replace(
        b"X-Riferimento-Message-ID: " + ids[4].encode(), b"X-Riferimento-Message-ID: " + ids[3].encode())
    append(sb, folder, forged + [moved])
    code, doc = run_json("receipts", path, "--json")
    assert code == 1
    rows = sheet_rows(path)
    # Issue 12: a verified failure is never replaced by an unverified delivery (row 3 did get a
    # genuinely signed delivery receipt of its own: the strongest verified event wins there).
    assert [(r[c.COL_STATUS], r[c.COL_SIGNATURE]) for r in rows] == [
        ("Mancata consegna", "verificata")] * 3 + [("Consegnato", "verificata"), ("Mancata consegna", "verificata")]
    assert len(receipt_events(path)) == 10 + 5, "every forgery is kept in the journal"
    listed = {a["id"]: a for a in doc["anomalies"]}
    for row in rows[:4]:
        assert row[c.COL_ID] in listed, "a forged delivery is listed as an anomaly"
        assert "ricevuta non verificata: ignorata" in listed[row[c.COL_ID]]["reason"]
    out = tmp_path / "r.csv"
    run("report", path, "-o", out)
    lines = list(csv.reader(out.read_text("utf-8-sig").splitlines(), delimiter=";"))
    col = {name: i for i, name in enumerate(lines[0])}
    flagged = {line[col[c.COL_ID]]: line[col["Anomalia"]] for line in lines[1:]}
    for row in rows[:4]:
        assert "ricevuta non verificata: ignorata" in flagged[row[c.COL_ID]], flagged[row[c.COL_ID]]


def test_a_receipt_inside_a_transport_envelope_is_never_a_receipt(sb, tmp_path):
    recipients = [unique("inesistente.busta")]
    path, folder, ids = sent_campaign(sb, tmp_path, recipients)
    before = len(receipt_events(path))
    genuine = forge.provider_builder(sb.directory)
    inner = forge.delivered(genuine, forge.submission(ids[0], recipients[0]))
    envelope = forge.inside_transport_envelope(genuine, inner, ids[0])
    assert b"X-Trasporto: posta-certificata" in envelope and ids[0].encode() in envelope
    # A receipt that also claims to be a transport envelope is not a receipt either.
    both = inner.replace(b"X-Ricevuta: ", b"X-Trasporto: posta-certificata\r\nX-Ricevuta: ", 1)
    append(sb, folder, [envelope, both])
    code, doc = run_json("receipts", path, "--json")
    assert doc["recorded"] == 0
    assert len(receipt_events(path)) == before
    row = sheet_rows(path)[0]
    assert (row[c.COL_STATUS], row[c.COL_SIGNATURE]) == ("Mancata consegna", "verificata")


def test_the_sandbox_preset_trusts_only_the_sandbox_ca_whatever_certificato_ca_says(sb, tmp_path):
    builder, foreign_pem = forge.foreign_ca()
    # A CA bundle that also holds another CA: it may widen whom TLS trusts, never who signs receipts.
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(Path(sb.connection["ca_file"]).read_bytes() + foreign_pem)
    recipients = [unique("inesistente.bundle")]
    path = make_campaign(tmp_path, recipients, settings={c.SET_CA_FILE: "bundle.pem"})
    path, folder, ids = sent_campaign(sb, tmp_path, recipients, existing=path)
    append(sb, folder, [forge.delivered(builder, forge.submission(ids[0], recipients[0]))])
    code, doc = run_json("receipts", path, "--json")
    row = sheet_rows(path)[0]
    # Signed by a CA of the TLS bundle only: unverified, so it cannot overrule the verified failure.
    assert (row[c.COL_STATUS], row[c.COL_SIGNATURE]) == ("Mancata consegna", "verificata")
    assert "ricevuta non verificata: ignorata" in doc["anomalies"][0]["reason"]
    events = receipt_events(path)
    assert sorted(e.signature for e in events) == ["non verificata", "verificata", "verificata"]


@pytest.mark.parametrize("xml", [forge.BILLION_LAUGHS, forge.EXTERNAL_ENTITY, forge.QUADRATIC],
                         ids=["billion-laughs", "external-entity", "quadratic"])
def test_hostile_xml_in_the_mailbox_never_stops_a_sync(sb, tmp_path, xml):
    recipients = [unique("bomba"), unique("vicino")]
    folder = new_folder(sb)
    path = make_campaign(tmp_path, recipients, settings={c.SET_RECEIPT_FOLDERS: folder})
    assert run("send", path, "--yes", *FAST_SEND) == 0
    rows = sheet_rows(path)
    with journal_of(path) as journal:
        ids = [journal.latest_attempt(r[c.COL_ID]).message_id for r in rows]
    for message_id in ids:
        assert sb.wait_until(lambda: len(receipts_for(sb, message_id)) == 2)
    bomb = forge.hostile_receipt(xml, ids[0])
    # The bomb sits between genuine receipts: those before and after it are still read.
    append(sb, folder, receipts_for(sb, ids[0])[:1] + [bomb] + receipts_for(sb, ids[1]) + receipts_for(sb, ids[0])[1:])
    code, doc = run_json("receipts", path, "--json")
    rows = sheet_rows(path)
    assert [r[c.COL_STATUS] for r in rows] == ["Consegnato", "Consegnato"]
    assert rows[0][c.COL_SIGNATURE] == "verificata"
    # The hostile message counts for nothing certified: its daticert was refused, it is not verified,
    # and the row it names is listed for the user to look at.
    assert code == 1 and [a["id"] for a in doc["anomalies"]] == [rows[0][c.COL_ID]]
    assert doc["anomalies"][0]["reason"] == "ricevuta non verificata: ignorata"
    for event in receipt_events(path):
        assert "root:" not in (event.detail or "") and "lol" not in (event.detail or "")
        assert len(event.detail or "") < 10_000


def test_formulas_from_users_and_providers_stay_text(sb, tmp_path):
    payload = "=cmd|' /C calc'!A0"
    recipients = [unique("silenzio.formula"), unique("formula")]
    path = make_campaign(tmp_path, recipients)
    set_cell(path, 0, "Nome", payload, as_text=True)
    set_cell(path, 1, "Nome", "+SUM(1;2)", as_text=True)
    path, folder, ids = sent_campaign(sb, tmp_path, recipients, existing=path)
    genuine = forge.provider_builder(sb.directory)
    words = {0: payload, 1: "@SUM(A1:A9)"}
    later = sb.now().timestamp()
    receipts = [forge.not_delivered(genuine, forge.submission(ids[i], recipients[i]), words[i], later) for i in (0, 1)]
    append(sb, folder, receipts)
    run_json("receipts", path, "--json")
    rows = sheet_rows(path)
    # Row 1 was delivered: a later failure notice does not beat it; row 0 shows the provider's words.
    assert rows[0][c.COL_DETAIL] == payload
    detail_cells = sheet_cells(path, c.COL_DETAIL)
    assert detail_cells[0].data_type == "s" and detail_cells[0].value == payload
    out = tmp_path / "r.csv"
    run("report", path, "-o", out)
    text = out.read_text("utf-8-sig")
    lines = list(csv.reader(text.splitlines(), delimiter=";"))
    col = {name: i for i, name in enumerate(lines[0])}
    cells = [cell for line in lines[1:] for cell in line]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells), "no cell starts a formula"
    by_name = {line[col["Nome"]]: line for line in lines[1:]}
    assert "'" + payload in by_name and "'+SUM(1;2)" in by_name
    assert by_name["'" + payload][col[c.COL_DETAIL]] == "'" + payload
