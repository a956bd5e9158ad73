"""Receipts in any order, twice, late, or for an earlier attempt: each row still shows the right thing.

Receipts are put by hand (IMAP APPEND) into a receipts folder of the campaign's own, so the test
decides what the mailbox holds and in which order.
"""

from __future__ import annotations

import contextlib
import io
import json

from pecmass_xl.journal.archive import MANIFEST, verify_manifest
from pecmass_xl.workbook import contract as c

from .conftest import (
    append,
    journal_of,
    kinds,
    make_campaign,
    new_folder,
    receipt_events,
    receipts_for,
    run,
    set_cell,
    sheet_rows,
    unique,
)

FAST_SEND = ("--backoff", "0.05", "--rate-limit-pause", "0.2")


def run_json(*args) -> tuple[int, dict]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = run(*args)
    return code, json.loads(buffer.getvalue())


def latest_message_id(path, index: int = 0) -> str:
    rows = sheet_rows(path)
    with journal_of(path) as journal:
        return journal.latest_attempt(rows[index][c.COL_ID]).message_id


def by_kind(receipts: list[bytes], kind: str) -> list[bytes]:
    return [raw for raw, k in zip(receipts, kinds(receipts), strict=False) if k == kind]


def test_receipts_out_of_order_and_twice_are_counted_once(sb, tmp_path):
    folder = new_folder(sb)
    path = make_campaign(tmp_path, [unique("ordine")], settings={c.SET_RECEIPT_FOLDERS: folder})
    assert run("send", path, "--yes", *FAST_SEND) == 0
    message_id = latest_message_id(path)
    sb.wait_until(lambda: len(receipts_for(sb, message_id)) == 2)
    receipts = receipts_for(sb, message_id)
    accepted, delivered = by_kind(receipts, "accettazione")[0], by_kind(receipts, "avvenuta-consegna")[0]

    # The delivery receipt first, twice in the same read.
    append(sb, folder, [delivered, delivered])
    code, doc = run_json("receipts", path, "--json")
    assert code == 0 and doc["recorded"] == 1
    row = sheet_rows(path)[0]
    assert row[c.COL_STATUS] == "Consegnato" and row[c.COL_DELIVERED_AT] is not None
    assert row[c.COL_ACCEPTED_AT] is None

    # Then the acceptance, twice, and the delivery a third time: one more event, status unchanged.
    append(sb, folder, [accepted, delivered, accepted])
    code, doc = run_json("receipts", path, "--json")
    assert code == 0 and doc["recorded"] == 1
    row = sheet_rows(path)[0]
    assert (row[c.COL_STATUS], row[c.COL_OUTCOME], row[c.COL_SIGNATURE]) == ("Consegnato", "Consegnata", "verificata")
    assert row[c.COL_ACCEPTED_AT] is not None and row[c.COL_ACCEPTED_AT] <= row[c.COL_DELIVERED_AT]
    assert sorted(e.kind for e in receipt_events(path)) == ["accettazione", "avvenuta-consegna"]
    archive = tmp_path / "campagna - archivio PEC" / row[c.COL_ID]
    assert len(list(archive.glob("*.eml"))) == 3  # the sent message and two receipts
    assert len((archive / MANIFEST).read_text("utf-8").splitlines()) == 3
    assert verify_manifest(archive) == []


def test_the_12_hour_notice_shows_ritardo_then_the_final_one_mancata_consegna(sb, tmp_path):
    folder = new_folder(sb)
    path = make_campaign(tmp_path, [unique("silenzio.oscar")], settings={c.SET_RECEIPT_FOLDERS: folder})
    assert run("send", path, "--yes", *FAST_SEND) == 0
    message_id = latest_message_id(path)
    assert sb.wait_until(lambda: kinds(receipts_for(sb, message_id)).count("preavviso-errore-consegna") == 2,
                         timeout=20)
    receipts = receipts_for(sb, message_id)
    first, final = by_kind(receipts, "preavviso-errore-consegna")
    append(sb, folder, by_kind(receipts, "accettazione") + [first])
    assert run_json("receipts", path, "--json")[0] == 1  # Ritardo is an anomaly, not final
    row = sheet_rows(path)[0]
    assert row[c.COL_STATUS] == "Ritardo"
    assert not row[c.COL_OUTCOME]  # no Esito before the outcome is known
    assert "12 ore" in row[c.COL_DETAIL]
    assert row[c.COL_SIGNATURE] == "verificata"

    append(sb, folder, [final])
    run_json("receipts", path, "--json")
    row = sheet_rows(path)[0]
    assert (row[c.COL_STATUS], row[c.COL_OUTCOME]) == ("Mancata consegna", "Tempo scaduto")
    assert row[c.COL_DETAIL].startswith("5.4.1")


def test_the_final_notice_alone_or_before_the_first_is_still_the_final_one(sb, tmp_path):
    folder = new_folder(sb)
    path = make_campaign(tmp_path, [unique("silenzio.out")], settings={c.SET_RECEIPT_FOLDERS: folder})
    assert run("send", path, "--yes", *FAST_SEND) == 0
    message_id = latest_message_id(path)
    assert sb.wait_until(lambda: kinds(receipts_for(sb, message_id)).count("preavviso-errore-consegna") == 2,
                         timeout=20)
    receipts = receipts_for(sb, message_id)
    first, final = by_kind(receipts, "preavviso-errore-consegna")
    append(sb, folder, [final])
    run_json("receipts", path, "--json")
    assert sheet_rows(path)[0][c.COL_STATUS] == "Mancata consegna"
    append(sb, folder, [first] + by_kind(receipts, "accettazione"))
    run_json("receipts", path, "--json")
    row = sheet_rows(path)[0]
    assert (row[c.COL_STATUS], row[c.COL_OUTCOME]) == ("Mancata consegna", "Tempo scaduto")


def test_an_uncertain_row_is_upgraded_by_a_later_receipt(sb, tmp_path):
    folder = new_folder(sb)  # empty while the sender looks for the acceptance
    path = make_campaign(tmp_path, [unique("dubbio")], settings={c.SET_RECEIPT_FOLDERS: folder})
    sb.set_fault("drop-after-data-accepted", count=1)
    assert run("send", path, "--yes", "--in-doubt-wait", "0", *FAST_SEND) == 1
    row = sheet_rows(path)[0]
    assert (row[c.COL_STATUS], row[c.COL_OUTCOME]) == ("Incerto", "Esito incerto")
    message_id = latest_message_id(path)
    assert sb.wait_until(lambda: len(receipts_for(sb, message_id)) == 2)
    # The receipts turn up later (another folder, a slow provider): the row is upgraded.
    append(sb, folder, receipts_for(sb, message_id))
    code, doc = run_json("receipts", path, "--json")
    assert code == 0 and doc["recorded"] == 2 and doc["anomalies"] == []
    row = sheet_rows(path)[0]
    assert (row[c.COL_STATUS], row[c.COL_OUTCOME], row[c.COL_SIGNATURE]) == ("Consegnato", "Consegnata", "verificata")
    assert row[c.COL_SENT_AT] is not None and row[c.COL_ACCEPTED_AT] is not None
    with journal_of(path) as journal:
        assert len(journal.attempts_for_row(row[c.COL_ID])) == 1  # never resent


def test_a_resent_row_shows_its_latest_attempt_and_keeps_both(sb, tmp_path, capsys):
    wrong, right = unique("inesistente.mario"), unique("mario")
    path = make_campaign(tmp_path, [wrong, unique("altro")])
    assert run("send", path, "--yes", *FAST_SEND) == 0
    first_id = latest_message_id(path)
    assert sb.wait_until(lambda: "errore-consegna" in kinds(receipts_for(sb, first_id)))
    run("receipts", path)
    assert sheet_rows(path)[0][c.COL_STATUS] == "Mancata consegna"

    set_cell(path, 0, "PEC", right)  # the user fixes the address and resends the failed rows
    assert run("send", path, "--yes", "--resend", "failed", *FAST_SEND) == 0
    second_id = latest_message_id(path)
    assert second_id != first_id and second_id.endswith(".2@pec.sandbox.test>")
    assert sb.wait_until(lambda: "avvenuta-consegna" in kinds(receipts_for(sb, second_id)))
    sb.wait_idle(10)
    run("receipts", path)
    capsys.readouterr()
    rows = sheet_rows(path)
    row = rows[0]
    assert (row[c.COL_STATUS], row[c.COL_OUTCOME], row[c.COL_DETAIL]) == (
        "Consegnato", "Consegnata", "Contenuto consegnato identico all'inviato")
    # A late copy of the first attempt's failure changes nothing: the row shows its latest attempt.
    folder = new_folder(sb)
    from .conftest import set_settings

    set_settings(path, {c.SET_RECEIPT_FOLDERS: f"INBOX; {folder}"})
    append(sb, folder, receipts_for(sb, first_id))
    run("receipts", path)
    assert sheet_rows(path)[0][c.COL_STATUS] == "Consegnato"
    archive = tmp_path / "campagna - archivio PEC" / row[c.COL_ID]
    assert {p.name for p in archive.glob("inviato-*.eml")} == {"inviato-1.eml", "inviato-2.eml"}
    assert len(list(archive.glob("*.eml"))) == 2 + 4  # two sent, two receipts each
    assert verify_manifest(archive) == []
    out = tmp_path / "r.csv"
    assert run("report", path, "-o", out) == 0
    import csv

    lines = list(csv.reader(out.read_text("utf-8-sig").splitlines(), delimiter=";"))
    col = {name: i for i, name in enumerate(lines[0])}
    line = next(li for li in lines[1:] if li[col["PEC"]] == right)
    assert line[col["Tentativi"]] == "2" and line[col["Message-ID"]] == second_id
    assert line[col[c.COL_STATUS]] == "Consegnato" and not line[col["Anomalia"]]


def test_brief_and_synthetic_delivery_receipts_are_read_and_verified(sb, tmp_path):
    from .conftest import set_message

    for form in ("breve", "sintetica"):
        path = make_campaign(tmp_path, [unique(form)], name=f"{form}.xlsx")
        set_message(path, c.MSG_RECEIPT_TYPE, form)
        assert run("send", path, "--yes", *FAST_SEND) == 0
        message_id = latest_message_id(path)
        assert sb.wait_until(lambda: "avvenuta-consegna" in kinds(receipts_for(sb, message_id)))
        delivered = by_kind(receipts_for(sb, message_id), "avvenuta-consegna")[0]
        # `breve` carries the original with hashes instead of attachments, `sintetica` no original at all.
        assert (b"postacert.eml" in delivered) == (form == "breve")
        code, doc = run_json("receipts", path, "--json")
        row = sheet_rows(path)[0]
        assert (row[c.COL_STATUS], row[c.COL_OUTCOME], row[c.COL_SIGNATURE]) == ("Consegnato", "Consegnata", "verificata"), form
