"""Exactly once, whatever happens (issue 10): racing sends, copies of a workbook, a lost journal, a
lost ledger, a lost `.eml` path, damaged local files.

Every scenario runs real `pecmass` processes against the sandbox, then logs in to every
recipient's mailbox over IMAP and counts the PEC transport envelopes there: each recipient must
hold exactly one, and the sheet must show every row's true state.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient

from pecmass_xl.journal.status import HANDED_OVER_STATUSES
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.file_workbook import FileWorkbook

from .conftest import make_campaign, sheet_rows, unique_local

IN_PROGRESS = "è già in corso un invio di questa campagna"
ROWS = 20


def addresses(n: int) -> list[str]:
    return [f"{unique_local('eo')}@studio.pec.test" for _ in range(n)]


def imap_envelopes(sb, address: str) -> int:
    """PEC transport envelopes in the recipient's INBOX, counted over IMAP as the recipient sees them."""
    conn = sb.connection
    client = IMAPClient(conn["imap_host"], port=conn["imap_port"], ssl=True,
                        ssl_context=ssl.create_default_context(cafile=conn["ca_file"]), timeout=15)
    try:
        client.login(address, conn["password"])
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        if not uids:
            return 0
        fetched = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (X-TRASPORTO)]"])
        return sum(1 for data in fetched.values()
                   if b"posta-certificata" in data[b"BODY[HEADER.FIELDS (X-TRASPORTO)]"].lower())
    finally:
        client.logout()


def assert_each_received_once(sb, recipients: list[str]) -> None:
    sb.wait_idle(20)
    counts = {a: imap_envelopes(sb, a) for a in recipients}
    wrong = {a: n for a, n in counts.items() if n != 1}
    assert not wrong, f"{len(wrong)} of {len(recipients)} recipients do not hold exactly one PEC: {wrong}"


def assert_sheet_shows_all_sent(path: Path, recipients: list[str]) -> list[dict]:
    rows = sheet_rows(path)
    assert [r["PEC"] for r in rows] == recipients
    assert all(r[c.COL_ID] for r in rows), "a row has no ID invio"
    statuses = [r[c.COL_STATUS] for r in rows]
    assert set(statuses) <= HANDED_OVER_STATUSES - {"Incerto"}, statuses
    return rows


def send_command(path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pecmass_xl", "send", str(path), "--yes", "--in-doubt-wait", "2", *extra]


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out + err


# --- 1. one send per campaign, across processes and fronts -------------------------------------------
@pytest.mark.parametrize("round_", range(3))  # timing-dependent: the race is run several times
def test_two_racing_cli_sends_of_a_never_sent_workbook_send_each_pec_once(sb, tmp_path, round_):
    recipients = addresses(ROWS)
    path = make_campaign(tmp_path, recipients)
    assert not FileWorkbook(path).read().campaign_id  # never sent, no campaign yet
    first, second = start(send_command(path)), start(send_command(path))
    results = [finish(first), finish(second)]
    codes = sorted(code for code, _ in results)
    assert_each_received_once(sb, recipients)
    losers = [text for code, text in results if code == 2]
    assert all(IN_PROGRESS in text and "Traceback" not in text for text in losers), results
    assert codes in ([0, 0], [0, 2]), results  # a late second run finds nothing left to send
    assert_sheet_shows_all_sent(path, recipients)


def test_a_cli_send_racing_the_excel_worker_sends_each_pec_once(sb, tmp_path):
    from openpyxl import load_workbook

    from pecmass_xl.excel import ribbon_actions, worker
    from pecmass_xl.excel.live_workbook import ExcelWorkbook
    from tests.excel.fake_xlwings import FakeApp, FakeApps, workbook_from_openpyxl

    recipients = addresses(ROWS)
    path = make_campaign(tmp_path, recipients, name="campagna.xlsm")
    wb = load_workbook(path)  # 5 a second (shared by both processes): the two runs overlap
    for row in wb[c.SHEET_SETTINGS].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.SET_PACE:
            row[1].value = 300
    wb.save(path)
    app = FakeApp()
    fake = workbook_from_openpyxl(load_workbook(path), str(path), app)
    apps = FakeApps(app)
    book = ExcelWorkbook(fake)
    worker_codes: list[int] = []
    cli: list[subprocess.Popen] = []

    def spawn(arguments):
        # The Invia button's worker and a CLI send of the same file start at the same moment.
        cli.append(start(send_command(path)))
        time.sleep(0.4)  # about a Python start-up: both claim at nearly the same moment
        thread = threading.Thread(target=lambda: worker_codes.append(worker.main(arguments, apps=apps)))
        thread.start()
        thread.join(300)
        return 0

    from tests.excel.test_excel_ribbon import RecordingUi

    ui = RecordingUi(answers=[True])
    ribbon_actions.invia(book, ui, spawn=spawn)
    assert ui.errors == []
    cli_code, cli_text = finish(cli[0])
    assert_each_received_once(sb, recipients)
    if cli_code == 2:
        assert IN_PROGRESS in cli_text and "Traceback" not in cli_text
    if worker_codes[0] == 2:  # the worker lost: Excel shows the same message in a dialog
        assert any(IN_PROGRESS in a["prompt"] for a in app.alerts), app.alerts
    assert sorted([cli_code, worker_codes[0]]) == [0, 2], (cli_code, worker_codes, cli_text)
    if cli_code == 0:  # the CLI sent: the file shows every row
        assert_sheet_shows_all_sent(path, recipients)
    else:  # the worker sent: the workbook open in Excel shows every row
        sheet = fake.sheets.items[0]
        headers = [sheet.peek(1, col) for col in range(1, 20)]
        statuses = [sheet.peek(r, headers.index(c.COL_STATUS) + 1) for r in range(2, ROWS + 2)]
        assert set(statuses) <= HANDED_OVER_STATUSES - {"Incerto"}, statuses



def test_the_invia_button_refuses_at_once_while_a_send_holds_the_workbook(sb, tmp_path):
    from openpyxl import load_workbook

    from pecmass_xl.excel import ribbon_actions
    from pecmass_xl.excel.live_workbook import ExcelWorkbook
    from pecmass_xl.journal.locks import SendClaim
    from tests.excel.fake_xlwings import FakeApp, workbook_from_openpyxl
    from tests.excel.test_excel_ribbon import RecordingUi

    recipients = addresses(2)
    path = make_campaign(tmp_path, recipients, name="campagna.xlsm")  # never sent: no campaign id yet
    book = ExcelWorkbook(workbook_from_openpyxl(load_workbook(path), str(path), FakeApp()))
    spawned: list = []
    claim = SendClaim(path)  # a CLI send of the same file has claimed it, its campaign id not yet written
    try:
        ui = RecordingUi(answers=[True])
        assert ribbon_actions.invia(book, ui, spawn=spawned.append) is None
    finally:
        claim.release()
    assert spawned == [] and IN_PROGRESS in ui.errors[-1]
    assert [imap_envelopes(sb, a) for a in recipients] == [0, 0]

# --- 2. the hand-over guard in the mailbox ledger -------------------------------------------------------
def test_two_copies_of_a_never_sent_workbook_racing_send_each_pec_once(sb, tmp_path):
    recipients = addresses(ROWS)
    path = make_campaign(tmp_path, recipients)
    copy = tmp_path / "copia.xlsx"
    shutil.copyfile(path, copy)  # never sent: no campaign id, so each copy becomes its own campaign
    first, second = start(send_command(path)), start(send_command(copy))
    results = [finish(first), finish(second)]
    assert [code for code, _ in results] == [0, 0], results
    assert_each_received_once(sb, recipients)
    rows = [assert_sheet_shows_all_sent(p, recipients) for p in (path, copy)]
    assert FileWorkbook(path).read().campaign_id != FileWorkbook(copy).read().campaign_id
    adopted = [r for sheet in rows for r in sheet if str(r[c.COL_DETAIL] or "").startswith("Già inviata")]
    assert len(adopted) == ROWS, "every PEC was handed over by one copy and re-adopted by the other"


def test_two_identical_rows_of_one_list_are_one_pec(sb, tmp_path):
    from openpyxl import load_workbook

    recipients = addresses(2)
    path = make_campaign(tmp_path, [recipients[0], recipients[0], recipients[1]])
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    ws.cell(3, 2).value, ws.cell(3, 3).value = ws.cell(2, 2).value, ws.cell(2, 3).value  # same Nome, same N
    wb.save(path)
    code = subprocess.run(send_command(path), env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert code.returncode == 0, code.stderr
    assert_each_received_once(sb, recipients)
    rows = sheet_rows(path)
    assert rows[1][c.COL_STATUS] in HANDED_OVER_STATUSES and rows[1][c.COL_ID] != rows[0][c.COL_ID]
    assert rows[1][c.COL_DETAIL].startswith("Già inviata") and "riga 2" in rows[1][c.COL_DETAIL]


def test_an_explicit_resend_says_when_the_identical_pec_was_handed_over(sb, tmp_path):
    recipients = addresses(1)
    path = make_campaign(tmp_path, recipients)
    assert subprocess.run(send_command(path), env=dict(os.environ), capture_output=True, timeout=300).returncode == 0
    again = subprocess.run(send_command(path, "--resend", "sent"), env=dict(os.environ), capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "una PEC identica è stata affidata al gestore il" in again.stdout
    sb.wait_idle(20)
    assert imap_envelopes(sb, recipients[0]) == 2  # asked for explicitly


def test_the_guard_looks_back_only_as_far_as_the_window(tmp_path):
    from datetime import UTC, datetime, timedelta

    from pecmass_xl.journal import Ledger

    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        common = dict(mailbox="studio@pec.it", recipient="a@pec.it", content_hash="h" * 64)
        assert ledger.claim_handover(**common, campaign_id="C1", row_id="R1", message_id="<m1@x>",
                                     when=datetime.now(UTC) - timedelta(days=40)) is None
        ledger.set_outcome("<m1@x>", "sent")
        assert ledger.claim_handover(**common, campaign_id="C2", row_id="R2", message_id="<m2@x>",
                                     window_days=30) is None  # next quarter's reminder is not blocked
        ledger.set_outcome("<m2@x>", "refused")  # a refused PEC did not leave: it blocks nothing
        refused = ledger.claim_handover(**common, campaign_id="C3", row_id="R3", message_id="<m3@x>", window_days=60)
        assert refused is not None and refused.message_id == "<m1@x>" and refused.handed_over
        pending = ledger.claim_handover(**common, campaign_id="C4", row_id="R4", message_id="<m4@x>", window_days=1)
        assert pending is None  # m3 was refused by the guard: nothing recorded for it
        assert ledger.claim_handover(**common, campaign_id="C5", row_id="R5", message_id="<m5@x>",
                                     window_days=1).message_id == "<m4@x>"  # pending, no answer: blocks
        assert ledger.claim_handover(**common, campaign_id="C4", row_id="R4", message_id="<m6@x>",
                                     window_days=1) is None  # the same row's own retry is exempt
        assert ledger.claim_handover(**common, campaign_id="C7", row_id="R7", message_id="<m7@x>",
                                     window_days=1, allow_identical=True) is None  # explicit resend


# --- 3. a lost journal never causes a resend ----------------------------------------------------------
def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pecmass_xl", *args], env=dict(os.environ), capture_output=True,
                          text=True, timeout=300)


def delete_journal(path: Path) -> None:
    from pecmass_xl.core.paths import journals_dir

    campaign = FileWorkbook(path).read().campaign_id
    removed = [p for p in journals_dir().glob(f"{campaign}.sqlite*")]
    assert removed
    for p in removed:
        p.unlink()


def delete_ledger(sb) -> None:
    for p in Path(sb.connection["dir"]).glob("ledger.sqlite*"):
        p.unlink()


def test_a_deleted_journal_never_causes_a_resend(sb, tmp_path):
    recipients = addresses(5)
    path = make_campaign(tmp_path, recipients)
    assert cli("send", str(path), "--yes").returncode == 0
    sb.wait_idle(20)
    ids = [r[c.COL_ID] for r in sheet_rows(path)]
    delete_journal(path)  # a cleaned profile; the ledger still lists every hand-over
    status = cli("status", str(path))
    assert "5 righe hanno un ID invio che il registro della campagna non conosce" in status.stdout, status.stdout
    again = cli("send", str(path), "--yes", "--in-doubt-wait", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 PEC consegnate al gestore" in again.stdout
    assert_each_received_once(sb, recipients)
    rows = assert_sheet_shows_all_sent(path, recipients)
    assert [r[c.COL_ID] for r in rows] == ids
    status = cli("status", str(path), "--json")
    assert '"Inviato": 5' in status.stdout or "Consegnato" in status.stdout, status.stdout
    assert cli("receipts", str(path)).returncode == 0
    assert {r[c.COL_STATUS] for r in sheet_rows(path)} == {"Consegnato"}


def test_a_lost_journal_and_ledger_are_restored_from_the_mailbox(sb, tmp_path):
    recipients = addresses(4)
    path = make_campaign(tmp_path, recipients)
    assert cli("send", str(path), "--yes").returncode == 0
    sb.wait_idle(20)
    delete_journal(path)
    delete_ledger(sb)
    receipts = cli("receipts", str(path))  # on an empty data folder: every outcome comes back
    assert receipts.returncode == 0, receipts.stdout + receipts.stderr
    rows = sheet_rows(path)
    assert {r[c.COL_STATUS] for r in rows} == {"Consegnato"}, rows
    archive = path.parent / f"{path.stem} - archivio PEC"
    assert all(any(p.name.endswith(".eml") and "consegna" in p.name for p in (archive / r[c.COL_ID]).iterdir())
               for r in rows)
    again = cli("send", str(path), "--yes", "--in-doubt-wait", "2")
    assert again.returncode == 0 and "0 PEC consegnate al gestore" in again.stdout, again.stdout + again.stderr
    assert_each_received_once(sb, recipients)


def test_a_lost_row_with_nothing_in_the_mailbox_becomes_uncertain_not_sent(sb, tmp_path):
    from openpyxl import load_workbook

    recipients = addresses(3)
    path = make_campaign(tmp_path, recipients)
    assert cli("send", str(path), "--yes", "--limit", "2").returncode == 0
    sb.wait_idle(20)
    wb = load_workbook(path)  # the third row carries an ID invio no record knows (its journal is gone)
    ws = wb[c.SHEET_LIST]
    col = [cell.value for cell in ws[1]].index(c.COL_ID) + 1
    ws.cell(4, col).value = "RAAAAAAAA"
    wb.save(path)
    delete_journal(path)
    delete_ledger(sb)
    again = cli("send", str(path), "--yes", "--in-doubt-wait", "2")
    assert again.returncode == 1, again.stdout + again.stderr  # an uncertain row is reported
    sb.wait_idle(20)
    assert [imap_envelopes(sb, a) for a in recipients] == [1, 1, 0]
    rows = sheet_rows(path)
    assert rows[2][c.COL_STATUS] == "Incerto" and "--resend uncertain" in rows[2][c.COL_DETAIL]
    assert set(r[c.COL_STATUS] for r in rows[:2]) <= HANDED_OVER_STATUSES - {"Incerto"}
    resent = cli("send", str(path), "--yes", "--resend", "uncertain")  # on request only
    assert resent.returncode == 0, resent.stdout + resent.stderr
    sb.wait_idle(20)
    assert [imap_envelopes(sb, a) for a in recipients] == [1, 1, 1]


# --- 4. durable before it matters ---------------------------------------------------------------------
def test_a_lost_eml_path_after_a_hand_over_is_in_doubt_never_resent(sb, tmp_path):
    import sqlite3

    from pecmass_xl.core.paths import journals_dir

    recipients = addresses(3)
    path = make_campaign(tmp_path, recipients)
    assert cli("send", str(path), "--yes").returncode == 0
    sb.wait_idle(20)
    campaign = FileWorkbook(path).read().campaign_id
    # What a power cut right after the hand-over loses when those commits are not forced to disk:
    # the `.eml` path and the SMTP answer (the message itself had already left).
    db = sqlite3.connect(journals_dir() / f"{campaign}.sqlite")
    with db:
        db.execute("UPDATE attempts SET eml_path = NULL")
        db.execute("DELETE FROM events WHERE kind != 'in-invio'")
    db.close()
    again = cli("send", str(path), "--yes", "--in-doubt-wait", "10")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 PEC consegnate al gestore" in again.stdout
    assert_each_received_once(sb, recipients)
    assert_sheet_shows_all_sent(path, recipients)


# --- 5. damaged local files -----------------------------------------------------------------------------
def test_a_corrupt_journal_is_set_aside_and_rebuilt_without_a_resend(sb, tmp_path):
    from pecmass_xl.core.paths import journals_dir

    recipients = addresses(3)
    path = make_campaign(tmp_path, recipients)
    assert cli("send", str(path), "--yes").returncode == 0
    sb.wait_idle(20)
    campaign = FileWorkbook(path).read().campaign_id
    journal = journals_dir() / f"{campaign}.sqlite"
    for p in journals_dir().glob(f"{campaign}.sqlite-*"):
        p.unlink()
    journal.write_bytes(b"questo non e' un database SQLite " * 200)
    again = cli("send", str(path), "--yes", "--in-doubt-wait", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Traceback" not in again.stderr and "era danneggiato: messo da parte" in again.stdout
    kept = list(journals_dir().glob(f"{campaign}.sqlite.danneggiato-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"questo non")  # set aside, never deleted
    assert_each_received_once(sb, recipients)
    assert_sheet_shows_all_sent(path, recipients)


def test_a_corrupt_ledger_is_set_aside_and_rebuilt_so_the_guard_still_holds(sb, tmp_path):
    recipients = addresses(3)
    path = make_campaign(tmp_path, recipients)
    copy = tmp_path / "copia.xlsx"
    shutil.copyfile(path, copy)  # never sent: the copy becomes another campaign
    assert cli("send", str(path), "--yes").returncode == 0
    sb.wait_idle(20)
    ledger = Path(sb.connection["dir"]) / "ledger.sqlite"
    for p in Path(sb.connection["dir"]).glob("ledger.sqlite*"):
        p.unlink()
    ledger.write_bytes(b"\x00garbage" * 500)
    done = cli("send", str(copy), "--yes", "--in-doubt-wait", "10")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert "danneggiato" in done.stdout and "0 PEC consegnate al gestore" in done.stdout
    kept = list(ledger.parent.glob("ledger.sqlite.danneggiato-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"\x00garbage")  # set aside, never deleted
    assert_each_received_once(sb, recipients)
    rows = assert_sheet_shows_all_sent(copy, recipients)
    assert all(r[c.COL_DETAIL].startswith("Già inviata") for r in rows)


def _make_read_only(folder: Path) -> None:
    if os.geteuid() == 0:  # root ignores permission bits: the immutable flag stops it too
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a folder read-only for root here (chattr)")
    else:
        folder.chmod(0o555)


def _make_writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    else:
        folder.chmod(0o755)


@pytest.mark.skipif(os.name != "posix", reason="read-only folders are made with POSIX tools")
def test_a_read_only_data_folder_sends_nothing_and_names_the_folder(sb, tmp_path, monkeypatch):
    recipients = addresses(2)
    path = make_campaign(tmp_path, recipients)
    data = tmp_path / "dati"
    data.mkdir()
    monkeypatch.setenv("PECMASS_DATA_DIR", str(data))
    before = path.read_bytes()
    _make_read_only(data)
    try:
        done = cli("send", str(path), "--yes")
    finally:
        _make_writable(data)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and str(data) in done.stderr and "sola lettura" in done.stderr
    assert path.read_bytes() == before  # nothing half-written
    sb.wait_idle(5)
    assert [imap_envelopes(sb, a) for a in recipients] == [0, 0]


@pytest.mark.skipif(os.name != "posix", reason="read-only folders are made with POSIX tools")
def test_a_read_only_workbook_folder_sends_nothing_and_names_the_folder(sb, tmp_path):
    recipients = addresses(2)
    folder = tmp_path / "condivisa"
    folder.mkdir()
    path = make_campaign(folder, recipients)
    before = path.read_bytes()
    _make_read_only(folder)
    try:
        done = cli("send", str(path), "--yes")
    finally:
        _make_writable(folder)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and str(folder) in done.stderr and "sola lettura" in done.stderr
    assert path.read_bytes() == before
    sb.wait_idle(5)
    assert [imap_envelopes(sb, a) for a in recipients] == [0, 0]


def test_sent_copies_restore_the_hand_over_and_the_archived_eml(sb, tmp_path):
    from openpyxl import load_workbook

    recipients = addresses(2)
    path = make_campaign(tmp_path, recipients)
    wb = load_workbook(path)
    for row in wb[c.SHEET_SETTINGS].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.SET_SAVE_SENT_COPY:
            row[1].value = "Sì"
    wb.save(path)
    conn = sb.connection
    client = IMAPClient(conn["imap_host"], port=conn["imap_port"], ssl=True,
                        ssl_context=ssl.create_default_context(cafile=conn["ca_file"]))
    client.login(conn["user"], conn["password"])
    if not client.folder_exists("Sent"):
        client.create_folder("Sent")
    client.logout()
    assert cli("send", str(path), "--yes").returncode == 0
    sb.wait_idle(20)
    archive = path.parent / f"{path.stem} - archivio PEC"
    sent_before = {r[c.COL_ID]: (archive / r[c.COL_ID] / "inviato-1.eml").read_bytes() for r in sheet_rows(path)}
    delete_journal(path)
    delete_ledger(sb)
    shutil.rmtree(archive)  # a new PC: only the workbook and the mailbox are left
    assert cli("receipts", str(path)).returncode == 0
    rows = sheet_rows(path)
    assert {r[c.COL_STATUS] for r in rows} == {"Consegnato"}
    for row_id, data in sent_before.items():
        restored = (archive / row_id / "inviato-1.eml").read_bytes()
        assert b"<pecmass." in restored
        assert data.split(b"\r\n\r\n", 1)[1].strip() in restored  # the same body the recipient got
    assert_each_received_once(sb, recipients)


def test_a_read_only_workbook_file_sends_nothing_and_names_the_file(sb, tmp_path):
    recipients = addresses(1)
    path = make_campaign(tmp_path, recipients)
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        done = cli("send", str(path), "--yes")
    finally:
        path.chmod(0o644)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and str(path) in done.stderr and "sola lettura" in done.stderr
    assert path.read_bytes() == before
    sb.wait_idle(5)
    assert imap_envelopes(sb, recipients[0]) == 0


def test_two_copies_of_a_workbook_with_a_campaign_are_one_campaign(sb, tmp_path):
    recipients = addresses(ROWS)
    path = make_campaign(tmp_path, recipients)
    assert cli("check", str(path), "--write").returncode == 0  # the workbook gets its campaign id
    copy = tmp_path / "copia.xlsx"
    shutil.copyfile(path, copy)
    assert FileWorkbook(copy).read().campaign_id == FileWorkbook(path).read().campaign_id
    first, second = start(send_command(path)), start(send_command(copy))
    results = [finish(first), finish(second)]
    assert sorted(code for code, _ in results) in ([0, 0], [0, 2]), results
    assert all(IN_PROGRESS in text for code, text in results if code == 2)
    assert_each_received_once(sb, recipients)
    winner = path if results[0][0] == 0 else copy
    assert_sheet_shows_all_sent(winner, recipients)


def test_a_resend_of_a_failed_row_passes_the_guard_even_if_another_campaign_sent_it(sb, tmp_path):
    recipient = f"inesistente{unique_local('eo')}@studio.pec.test"  # the sandbox: delivery fails
    path = make_campaign(tmp_path, [recipient])
    copy = tmp_path / "copia.xlsx"
    shutil.copyfile(path, copy)  # never sent: another campaign
    assert cli("send", str(path), "--yes").returncode == 0
    sb.wait_idle(20)
    adopted = cli("send", str(copy), "--yes", "--in-doubt-wait", "10")
    assert "0 PEC consegnate al gestore" in adopted.stdout, adopted.stdout + adopted.stderr
    cli("receipts", str(copy))
    assert sheet_rows(copy)[0][c.COL_STATUS] == "Mancata consegna", sheet_rows(copy)
    again = cli("send", str(copy), "--yes", "--resend", "failed")  # the user asks: the guard lets it through
    assert "1 PEC consegnata al gestore" in again.stdout, again.stdout + again.stderr
    assert "una PEC identica è stata affidata al gestore il" in again.stdout
