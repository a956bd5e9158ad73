"""Workflows around the send: background worker and stop, Legalmail notice and pace, copy in Sent,
keyring login, re-importing a list that was already sent, periodic result writes."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time

from imapclient import IMAPClient
from openpyxl import load_workbook

from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.file_workbook import FileWorkbook

from .conftest import envelopes_for, make_campaign, run, sheet_rows, unique_local


def set_setting(path, label, value):
    wb = load_workbook(path)
    ws = wb[c.SHEET_SETTINGS]
    for row in ws.iter_rows(min_col=1, max_col=2):
        if row[0].value == label:
            row[1].value = value
            break
    else:
        ws.append([label, value])
    wb.save(path)


def imap_client(sb):
    conn = sb.connection
    client = IMAPClient(conn["imap_host"], port=conn["imap_port"], ssl=True,
                        ssl_context=ssl.create_default_context(cafile=conn["ca_file"]))
    client.login(conn["user"], conn["password"])
    return client


def test_background_send_can_be_followed_and_stopped(sb, tmp_path, capsys):
    recipients = [f"{unique_local('bg')}@studio.pec.test" for _ in range(40)]
    path = make_campaign(tmp_path, recipients)
    set_setting(path, c.SET_PACE, 120)  # one every half second: the worker runs for a while
    assert run("send", path, "--yes", "--background") == 0
    assert "background" in capsys.readouterr().out
    campaign = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        campaign = FileWorkbook(path).read().campaign_id
        if campaign and any(envelopes_for(sb, a) for a in recipients[:3]):
            break
        time.sleep(0.2)
    assert campaign, "the worker never froze the rows"
    assert run("status", path, "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["running"] is True
    assert run("stop", path) == 0
    from pecmass_xl.sending.background import wait_for_exit
    assert wait_for_exit(campaign, 30)
    sb.wait_idle(10)
    sent = sum(envelopes_for(sb, a) for a in recipients)
    assert 0 < sent < len(recipients)
    rows = sheet_rows(path)
    assert sum(1 for r in rows if r[c.COL_STATUS] == "Da inviare") == len(recipients) - sent
    assert max(envelopes_for(sb, a) for a in recipients) == 1


def test_legalmail_notice_is_shown_until_acknowledged_and_the_pace_warned(sb, tmp_path, capsys, monkeypatch):
    conn = sb.connection
    path = make_campaign(tmp_path, [f"{unique_local('lm')}@esempio-ordinario.it"])
    for label, value in ((c.SET_PROVIDER, "Legalmail"), (c.SET_SMTP_HOST, "localhost"), (c.SET_SMTP_PORT, conn["smtp_port"]),
                         (c.SET_IMAP_HOST, "localhost"), (c.SET_IMAP_PORT, conn["imap_port"]),
                         (c.SET_CA_FILE, conn["ca_file"]), (c.SET_PACE, 60)):
        set_setting(path, label, value)
    monkeypatch.setenv("PECMASS_PASSWORD", conn["password"])
    # No terminal and no --yes: a real provider is never sent to without confirmation.
    assert run("send", path) == 2
    out = capsys.readouterr()
    assert "ne consente 6" in out.out and "art. 5" in out.out and "--yes" in out.err
    assert run("send", path, "--yes") == 0
    out = capsys.readouterr().out
    assert "art. 5" in out  # shown, and acknowledged by --yes
    assert run("send", path, "--yes", "--resend", "sent") == 0
    assert "art. 5" not in capsys.readouterr().out  # once per mailbox


def test_copy_in_sent_folder(sb, tmp_path):
    client = imap_client(sb)
    if not client.folder_exists("Sent"):
        client.create_folder("Sent")
    before = client.select_folder("Sent", readonly=True)[b"EXISTS"]
    path = make_campaign(tmp_path, [f"{unique_local('cp')}@studio.pec.test" for _ in range(2)])
    set_setting(path, c.SET_SAVE_SENT_COPY, "Sì")
    assert run("send", path, "--yes") == 0
    after = client.select_folder("Sent", readonly=True)[b"EXISTS"]
    client.logout()
    assert after - before == 2


def test_login_stores_the_password_in_the_keyring_only(sb, tmp_path, monkeypatch):
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    keyring_file = tmp_path / "keyring.cfg"
    backend = PlaintextKeyring()
    backend.file_path = str(keyring_file)
    keyring.set_keyring(backend)
    monkeypatch.setenv("PECMASS_ALLOW_PLAINTEXT_KEYRING", "1")  # keyrings.alt keeps it in a plain file: opted in
    path = make_campaign(tmp_path, [f"{unique_local('kr')}@studio.pec.test"])
    set_setting(path, c.SET_PROVIDER, "Aruba")
    from pecmass_xl.campaign.settings import resolve_settings
    from pecmass_xl.mailclient.credentials import get_password, store_password
    sheet = FileWorkbook(path).read()
    settings, _ = resolve_settings(sheet.settings, sheet.message, sheet.folder)
    store_password(settings, "s3greta-di-prova")
    assert get_password(settings) == "s3greta-di-prova"
    assert b"s3greta-di-prova" not in path.read_bytes()
    monkeypatch.setenv("PECMASS_PASSWORD", "da-variabile")
    assert get_password(settings) == "da-variabile"  # automation wins over the keyring


def test_login_command_needs_a_terminal(sb, tmp_path, capsys):
    path = make_campaign(tmp_path, [f"{unique_local('lt')}@studio.pec.test"])
    set_setting(path, c.SET_PROVIDER, "Aruba")
    result = subprocess.run([sys.executable, "-m", "pecmass_xl", "login", str(path)], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "terminale" in result.stderr


def test_reimporting_an_already_sent_list_sends_nothing_twice(sb, tmp_path, capsys):
    recipients = [f"{unique_local('ri')}@studio.pec.test" for _ in range(3)]
    path = make_campaign(tmp_path, recipients)
    assert run("send", path, "--yes") == 0
    ids = [r[c.COL_ID] for r in sheet_rows(path)]
    csv_path = tmp_path / "lista.csv"
    csv_path.write_text("PEC;Nome;N\n" + "".join(f"{a};Persona {i};{i}\n" for i, a in enumerate(recipients, start=1)), encoding="utf-8")
    assert run("import-csv", csv_path, path) == 2  # refuses without --replace
    assert "--replace" in capsys.readouterr().err
    assert run("import-csv", csv_path, path, "--replace") == 0
    assert all(r[c.COL_ID] is None for r in sheet_rows(path))
    assert run("send", path, "--yes") == 0
    assert "3 righe riconosciute come già inviate" in capsys.readouterr().out
    assert [r[c.COL_ID] for r in sheet_rows(path)] == ids
    sb.wait_idle(10)
    assert all(envelopes_for(sb, a) == 1 for a in recipients)


def test_results_are_written_during_a_long_send(sb, tmp_path):
    from pecmass_xl.sending.engine import SendOptions, SendRun
    from pecmass_xl.sending.plan import plan_send

    path = make_campaign(tmp_path, [f"{unique_local('pw')}@studio.pec.test" for _ in range(5)])
    book = FileWorkbook(path)
    writes = []
    original = book.write

    def counting_write(*args, **kwargs):
        writes.append(1)
        return original(*args, **kwargs)

    book.write = counting_write
    plan = plan_send(book)
    SendRun(plan, sb.password, SendOptions(write_every=0)).run()
    assert len(writes) >= 5  # IDs first, then during the send, then at the end
    assert all(r[c.COL_STATUS] for r in sheet_rows(path))
