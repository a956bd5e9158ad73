"""The IMAP side of `pecmass receipts`: incremental by UID, headers first, UIDVALIDITY, dropped lines."""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter

import pytest

from pecmass_xl.journal.archive import MANIFEST, verify_manifest
from pecmass_xl.mailclient.imap_session import ImapSession
from pecmass_xl.tracking import sync as sync_module
from pecmass_xl.workbook import contract as c

from . import forge
from .conftest import (
    append,
    imap,
    journal_of,
    make_campaign,
    new_folder,
    receipt_events,
    receipts_for,
    run,
    sheet_rows,
    unique,
)
from .proxy import CuttingProxy

FAST_SEND = ("--backoff", "0.05", "--rate-limit-pause", "0.2")


def run_json(*args) -> tuple[int, dict]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = run(*args)
    return code, json.loads(buffer.getvalue())


@pytest.fixture
def spy(monkeypatch):
    """Counts what the sync asks the server for (calls and UIDs per method)."""
    calls: Counter = Counter()
    uids: Counter = Counter()

    def wrap(name):
        original = getattr(ImapSession, name)

        def wrapper(self, *args, **kwargs):
            calls[name] += 1
            if name in ("fetch_headers", "fetch_raw"):
                uids[name] += len(args[0])
            return original(self, *args, **kwargs)
        monkeypatch.setattr(ImapSession, name, wrapper)

    for name in ("examine", "uids_from", "fetch_headers", "fetch_raw", "search_reference"):
        wrap(name)

    class Spy:
        def reset(self):
            calls.clear()
            uids.clear()

    s = Spy()
    s.calls, s.uids = calls, uids
    return s


def campaign_with_receipts(sb, tmp_path, count: int, hold_back: int = 0, prefix: str = "s"):
    """`count` delivered rows whose receipts are copied into a folder of their own (all but the
    last `hold_back`); returns (path, folder, receipts held back)."""
    folder = new_folder(sb)
    path = make_campaign(tmp_path, [unique(prefix) for _ in range(count)], settings={c.SET_RECEIPT_FOLDERS: folder})
    assert run("send", path, "--yes", *FAST_SEND) == 0
    with journal_of(path) as journal:
        ids = [journal.latest_attempt(r[c.COL_ID]).message_id for r in sheet_rows(path)]
    receipts = []
    for message_id in ids:
        assert sb.wait_until(lambda: len(receipts_for(sb, message_id)) == 2)
        receipts += receipts_for(sb, message_id)
    kept = receipts[len(receipts) - hold_back:] if hold_back else []
    append(sb, folder, receipts[: len(receipts) - hold_back])
    return path, folder, kept


def test_a_second_sync_with_nothing_new_downloads_nothing(sb, tmp_path, spy):
    path, folder, _ = campaign_with_receipts(sb, tmp_path, 3)
    code, doc = run_json("receipts", path, "--json")
    assert doc["recorded"] == 6 and doc["scanned"] == 6
    assert spy.uids["fetch_raw"] == 6  # our receipts, and nothing else, downloaded whole

    spy.reset()
    code, doc = run_json("receipts", path, "--json")
    assert code == 0 and doc["recorded"] == 0 and doc["scanned"] == 0
    assert spy.calls["examine"] == 1
    assert spy.calls["uids_from"] == 0 and spy.calls["fetch_headers"] == 0 and spy.uids["fetch_raw"] == 0

    # New mail: a copy of a receipt already recorded, someone else's receipt, an anomaly envelope.
    ours = receipts_for(sb, _message_id(path, 0))[1]
    other = forge.strip_signature(forge.delivered(forge.provider_builder(sb.directory),
                                                  forge.submission("<altro.messaggio@esempio.test>", unique())))
    bounce = next(raw for raw in sb.mailbox_messages(sb.sender) if b"X-Trasporto: errore" in raw) \
        if any(b"X-Trasporto: errore" in raw for raw in sb.mailbox_messages(sb.sender)) else None
    new = [ours, other] + ([bounce] if bounce else [])
    append(sb, folder, new)
    spy.reset()
    code, doc = run_json("receipts", path, "--json")
    assert doc["recorded"] == 0 and doc["scanned"] == len(new)
    assert spy.uids["fetch_headers"] == len(new)
    # Headers first: the known receipt and the foreign one are never downloaded; only an anomaly
    # envelope is (it may hide a bounce of ours).
    assert spy.uids["fetch_raw"] == (1 if bounce else 0)
    assert len(receipt_events(path)) == 6


def _message_id(path, index: int) -> str:
    with journal_of(path) as journal:
        return journal.latest_attempt(sheet_rows(path)[index][c.COL_ID]).message_id


def test_a_changed_uidvalidity_reads_the_folder_again_without_doubling(sb, tmp_path, spy):
    from pecmass_xl.tracking.follow import FollowOptions, update_receipts
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    path, folder, held = campaign_with_receipts(sb, tmp_path, 3, hold_back=1)
    book = FileWorkbook(path)
    first = update_receipts(book, sb.password, FollowOptions())
    assert first.sync.recorded == 5
    with journal_of(path) as journal:
        before = journal.sync_state(folder)
    archive = tmp_path / "campagna - archivio PEC"
    files_before = sorted(p.relative_to(archive) for p in archive.rglob("*") if p.is_file())

    with imap(sb) as client:  # the server renumbers the folder: a new UIDVALIDITY
        client.rename_folder(folder, folder + "-tmp")
        client.rename_folder(folder + "-tmp", folder)
        validity = client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]
    assert validity != before.uidvalidity
    append(sb, folder, held)

    spy.reset()
    second = update_receipts(book, sb.password, FollowOptions())
    assert second.sync.reset_folders == [folder]
    assert second.sync.scanned == 6 and second.sync.recorded == 1
    assert spy.uids["fetch_raw"] == 1  # the five known receipts are recognised from their headers
    with journal_of(path) as journal:
        after = journal.sync_state(folder)
    assert after.uidvalidity == validity and after.last_uid >= 6
    events = receipt_events(path)
    assert len(events) == 6 and len({e.receipt_message_id for e in events}) == 6
    files_after = sorted(p.relative_to(archive) for p in archive.rglob("*") if p.is_file())
    assert len(files_after) == len(files_before) + 1
    assert all(r[c.COL_STATUS] == "Consegnato" for r in sheet_rows(path))


def test_a_connection_dropped_mid_sync_loses_and_doubles_nothing(sb, tmp_path, monkeypatch):
    path, folder, _ = campaign_with_receipts(sb, tmp_path, 6, prefix="cut")
    total = sum(len(raw) for raw in sb.mailbox_messages(sb.sender)[-12:])
    monkeypatch.setattr(sync_module, "BATCH", 3)
    target = (sb.connection["imap_host"], sb.connection["imap_port"])
    with CuttingProxy(target, cut_after=total // 2) as proxy:
        from .conftest import set_settings

        set_settings(path, {c.SET_IMAP_PORT: proxy.port})
        code, doc = run_json("receipts", path, "--json")
        assert code == 1
        assert doc["error"] and "interrott" in doc["error"]
        partial = len(receipt_events(path))
        assert 0 < partial < 12, partial  # the batches before the cut are kept
        # The next run resumes where the first one stopped.
        code, doc = run_json("receipts", path, "--json")
        assert code == 0 and not doc.get("error")
        assert doc["recorded"] == 12 - partial
    events = receipt_events(path)
    assert len(events) == 12 and len({e.receipt_message_id for e in events}) == 12
    archive = tmp_path / "campagna - archivio PEC"
    for row in sheet_rows(path):
        assert row[c.COL_STATUS] == "Consegnato"
        folder_path = archive / row[c.COL_ID]
        assert len(list(folder_path.glob("*.eml"))) == 3
        assert len((folder_path / MANIFEST).read_text("utf-8").splitlines()) == 3
        assert verify_manifest(folder_path) == []


def test_follow_survives_a_dropped_connection(sb, tmp_path, monkeypatch):
    path, folder, _ = campaign_with_receipts(sb, tmp_path, 4, prefix="segui")
    total = sum(len(raw) for raw in sb.mailbox_messages(sb.sender)[-8:])
    monkeypatch.setattr(sync_module, "BATCH", 2)
    target = (sb.connection["imap_host"], sb.connection["imap_port"])
    with CuttingProxy(target, cut_after=total // 2, cuts=2) as proxy:
        from .conftest import set_settings

        set_settings(path, {c.SET_IMAP_PORT: proxy.port})
        code, doc = run_json("receipts", path, "--follow", "--poll", "0.1", "--json")
        assert len(proxy.server_bytes) >= 3  # two cut connections, then a whole one
    assert code == 0 and doc["pending"] == 0
    assert [r[c.COL_STATUS] for r in sheet_rows(path)] == ["Consegnato"] * 4
    assert len(receipt_events(path)) == 8


def test_nothing_new_leaves_the_workbook_alone_unless_it_lost_results(sb, tmp_path):
    path, folder, _ = campaign_with_receipts(sb, tmp_path, 2, prefix="quieto")
    assert run_json("receipts", path, "--json")[1]["recorded"] == 4
    written = path.stat().st_mtime_ns
    assert run_json("receipts", path, "--json")[0] == 0
    assert path.stat().st_mtime_ns == written, "a run with nothing new does not rewrite the workbook"
    # Excel closed without saving: the results are gone from the file, the journal still has them.
    from .conftest import set_cell

    set_cell(path, 0, c.COL_STATUS, None)
    set_cell(path, 1, c.COL_DELIVERED_AT, None)
    assert run_json("receipts", path, "--json")[1]["recorded"] == 0
    rows = sheet_rows(path)
    assert [r[c.COL_STATUS] for r in rows] == ["Consegnato", "Consegnato"]
    assert rows[1][c.COL_DELIVERED_AT] is not None


def test_follow_watches_a_non_pec_row_for_a_bounce_then_ends(sb, tmp_path):
    # The window is measured on the sandbox's clock, published in connessione.json (100,000 simulated
    # seconds per real second: a window of 500,000 simulated seconds lasts about 5 real seconds).
    path = make_campaign(tmp_path, [unique("segue"), unique("giorgio", "posta-ordinaria.example")])
    assert run("send", path, "--yes", *FAST_SEND) == 0
    code, doc = run_json("receipts", path, "--follow", "--poll", "0.2", "--bounce-window", "500000", "--json")
    assert code == 0 and doc["pending"] == 0 and doc["rounds"] >= 2
    assert [r[c.COL_STATUS] for r in sheet_rows(path)] == ["Consegnato", "Accettato (non PEC)"]
