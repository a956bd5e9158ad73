"""`pecmass send` against the sandbox: exactly once, frozen rows, re-adoption, resends."""

from __future__ import annotations

import json

from openpyxl import load_workbook

from pecmass_xl.journal.archive import verify_manifest
from pecmass_xl.workbook import contract as c

from .conftest import envelopes_for, make_campaign, run, sheet_rows, unique_local


def addresses(n: int, domain: str = "studio.pec.test", prefix: str = "d") -> list[str]:
    return [f"{unique_local(prefix)}@{domain}" for _ in range(n)]


def test_send_hands_each_row_over_once_and_writes_results(sb, tmp_path, capsys):
    recipients = addresses(4)
    path = make_campaign(tmp_path, recipients)
    assert run("send", path, "--yes", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert sum(doc["counts"].values()) == 4 and doc["failed"] == []
    sb.wait_idle(10)
    for address in recipients:
        assert envelopes_for(sb, address) == 1
    rows = sheet_rows(path)
    ids = [r[c.COL_ID] for r in rows]
    assert all(i and i.startswith("R") and len(i) == 9 for i in ids) and len(set(ids)) == 4
    assert {r[c.COL_STATUS] for r in rows} <= {"Inviato", "Accettato", "Consegnato"}
    assert all(r[c.COL_SENT_AT] is not None for r in rows)
    archive = tmp_path / "campagna - archivio PEC"
    for row_id in ids:
        folder = archive / row_id
        assert (folder / "inviato-1.eml").exists()
        assert verify_manifest(folder) == []
        sent = (folder / "inviato-1.eml").read_bytes()
        assert b"<pecmass." in sent and f".{row_id}.1@pec.sandbox.test>".encode() in sent
    # The hidden marker now names the campaign; the second send finds nothing to do.
    assert run("send", path, "--yes", "--json") == 0
    doc2 = json.loads(capsys.readouterr().out)
    assert doc2["campaign"] == doc["campaign"]
    sb.wait_idle(10)
    for address in recipients:
        assert envelopes_for(sb, address) == 1


def test_rows_fixed_or_added_later_are_sent_by_the_next_send(sb, tmp_path, capsys):
    good, bad = addresses(2)
    path = make_campaign(tmp_path, [good, "non-un-indirizzo"])
    assert run("send", path, "--yes", "--json") == 1  # a row with errors: done, with errors
    capsys.readouterr()
    rows = sheet_rows(path)
    assert rows[1][c.COL_STATUS] == "Dati non validi" and rows[1][c.COL_ID] is None
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    ws["A3"] = bad
    ws.append([addresses(1)[0], "Nuova", 9])
    wb.save(path)
    assert run("send", path, "--yes", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert sum(doc["counts"].values()) == 3
    sb.wait_idle(10)
    assert envelopes_for(sb, good) == 1 and envelopes_for(sb, bad) == 1


def test_a_row_that_lost_its_id_readopts_the_earlier_attempt(sb, tmp_path, capsys):
    recipients = addresses(2)
    path = make_campaign(tmp_path, recipients)
    assert run("send", path, "--yes") == 0
    before = [r[c.COL_ID] for r in sheet_rows(path)]
    # Closing Excel without saving: the ID invio cells are gone, the marker (campaign) stays.
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    id_col = [cell.value for cell in ws[1]].index(c.COL_ID) + 1
    for row in range(2, 4):
        ws.cell(row, id_col).value = None
        ws.cell(row, id_col + 1).value = None
    wb.save(path)
    capsys.readouterr()
    assert run("send", path, "--yes") == 0
    out = capsys.readouterr().out
    assert "2 righe riconosciute come già inviate" in out
    after = [r[c.COL_ID] for r in sheet_rows(path)]
    assert after == before
    sb.wait_idle(10)
    for address in recipients:
        assert envelopes_for(sb, address) == 1


def test_resend_failed_makes_a_new_attempt_and_the_row_shows_it(sb, tmp_path, capsys):
    full = f"piena.{unique_local()}@studio.pec.test"
    ok = addresses(1)[0]
    path = make_campaign(tmp_path, [full, ok])
    assert run("send", path, "--yes") == 0
    sb.wait_idle(10)
    assert run("receipts", path) == 1  # an anomaly
    rows = sheet_rows(path)
    assert rows[0][c.COL_STATUS] == "Mancata consegna" and rows[0][c.COL_OUTCOME] == "Casella piena"
    capsys.readouterr()
    assert run("send", path, "--yes", "--json", "--resend", "failed") == 0  # the new attempt has not failed (yet)
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"].get("Inviato", 0) + doc["counts"].get("Accettato", 0) >= 1
    archive = tmp_path / "campagna - archivio PEC" / rows[0][c.COL_ID]
    assert (archive / "inviato-1.eml").exists() and (archive / "inviato-2.eml").exists()
    assert b".2@pec.sandbox.test>" in (archive / "inviato-2.eml").read_bytes()
    assert envelopes_for(sb, ok) == 1  # the delivered row was not resent
    sb.wait_idle(10)
    assert run("receipts", path) == 1
    assert sheet_rows(path)[0][c.COL_STATUS] == "Mancata consegna"  # latest attempt, same outcome


def test_resend_sent_is_a_deliberate_second_pec(sb, tmp_path):
    address = addresses(1)[0]
    path = make_campaign(tmp_path, [address])
    assert run("send", path, "--yes") == 0
    assert run("send", path, "--yes", "--resend", "sent") == 0
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == 2


def test_limit_sends_only_the_first_rows(sb, tmp_path):
    recipients = addresses(3)
    path = make_campaign(tmp_path, recipients)
    assert run("send", path, "--yes", "--limit", "1") == 0
    sb.wait_idle(10)
    assert [envelopes_for(sb, a) for a in recipients] == [1, 0, 0]
    rows = sheet_rows(path)
    assert rows[0][c.COL_ID] and rows[1][c.COL_ID] is None


def test_two_sends_of_the_same_workbook_at_once_are_refused(sb, tmp_path, capsys):
    from pecmass_xl.journal import hold_campaign_lock
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    path = make_campaign(tmp_path, addresses(1))
    assert run("check", path, "--write") == 0  # gives the workbook its campaign id
    campaign = FileWorkbook(path).read().campaign_id
    lock = hold_campaign_lock(campaign)
    try:
        assert run("send", path, "--yes") == 2
        assert "già in corso" in capsys.readouterr().err
    finally:
        lock.release()


def test_a_workbook_open_in_excel_is_not_sent(sb, tmp_path, capsys):
    address = addresses(1)[0]
    path = make_campaign(tmp_path, [address])
    (tmp_path / ("~$" + path.name)).write_bytes(b"x")
    assert run("send", path, "--yes") == 2
    assert "aperta in Excel" in capsys.readouterr().err
    sb.wait_idle(5)
    assert envelopes_for(sb, address) == 0


def test_a_row_sent_before_the_italian_number_reading_is_still_recognised(sb, tmp_path, capsys):
    """Issue 14.1: pecmass 0.1.0 printed text "1.500" as 1,50 €; the hash of that PEC must still match."""
    from pecmass_xl.campaign.templates import legacy_number_reading

    recipient = addresses(1)[0]
    path = make_campaign(tmp_path, [recipient], text="Importo dovuto: {{ N|euro }}.")
    wb = load_workbook(path)
    wb[c.SHEET_LIST]["C2"].value = "1.500"  # as import-csv stores it: text
    wb.save(path)
    with legacy_number_reading():  # the send as the previous version composed it
        assert run("send", path, "--yes") == 0
    old_id = sheet_rows(path)[0][c.COL_ID]
    sent = (tmp_path / "campagna - archivio PEC" / old_id / "inviato-1.eml").read_bytes()
    assert b"1,50" in sent
    capsys.readouterr()
    assert run("preview", path, "--row", 2) == 0
    assert "Importo dovuto: 1.500,00 €." in capsys.readouterr().out  # today's reading
    wb = load_workbook(path)  # the ID invio is lost (workbook closed without saving)
    ws = wb[c.SHEET_LIST]
    id_col = [cell.value for cell in ws[1]].index(c.COL_ID) + 1
    ws.cell(2, id_col).value = None
    ws.cell(2, id_col + 1).value = None
    wb.save(path)
    assert run("send", path, "--yes") == 0
    out = capsys.readouterr().out
    assert "1 riga riconosciuta come già inviata" in out
    assert "Riga 2: riconosciuta come già inviata" in out and "vecchia maniera" in out
    assert sheet_rows(path)[0][c.COL_ID] == old_id
    sb.wait_idle(10)
    assert envelopes_for(sb, recipient) == 1
