"""The receipts client against a second, independent IMAP server: Debian's Dovecot on loopback.

The receipts are real sandbox receipts, copied into Dovecot with APPEND; the workbook is switched
to the `Personalizzato` preset with Dovecot's host, port and `Certificato CA`. The sandbox CA is a
trust anchor for the `Sandbox` preset only, so here every certified receipt shows `non verificata`.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import ssl
from collections import Counter

import pytest
from fixture_files import require_tool
from imapclient import IMAPClient

from pecmass_xl.mailclient.imap_session import ImapSession
from pecmass_xl.workbook import contract as c

from .conftest import (
    header,
    journal_of,
    kinds,
    make_campaign,
    receipt_events,
    receipts_for,
    run,
    set_settings,
    sheet_rows,
    unique,
)
from .dovecot import Dovecot


@pytest.fixture(autouse=True)
def _dovecot_installed():
    """Dovecot is a second, independent IMAP server: skipped without it, required under .ci/run."""
    require_tool("dovecot", "dovecot-imapd", "/usr/sbin/dovecot")

PASSWORD = "segreta-di-prova-123"


def run_json(*args) -> tuple[int, dict]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = run(*args)
    return code, json.loads(buffer.getvalue())


def test_receipts_from_dovecot_end_in_the_sheet_and_nothing_is_marked_read(sb, tmp_path, monkeypatch):
    recipients = [unique("dove"), unique("inesistente.dove"), unique("silenzio.dove"),
                  unique("rimbalzo.dove", "posta-ordinaria.example")]
    path = make_campaign(tmp_path, recipients)
    assert run("send", path, "--yes", "--backoff", "0.05") == 0
    with journal_of(path) as journal:
        ids = [journal.latest_attempt(r[c.COL_ID]).message_id for r in sheet_rows(path)]
    assert sb.wait_until(lambda: kinds(receipts_for(sb, ids[2])).count("preavviso-errore-consegna") == 2, timeout=20)
    assert sb.wait_until(lambda: _bounce_for(sb, ids[3]) is not None, timeout=20)
    sb.wait_idle(10)
    ours = [raw for message_id in ids for raw in receipts_for(sb, message_id)]
    bounce = _bounce_for(sb, ids[3])
    foreign = [raw for raw in sb.mailbox_messages(sb.sender)
               if header(raw, "X-Ricevuta") and header(raw, "X-Riferimento-Message-ID") not in ids][:3]
    transport = [raw for raw in sb.mailbox_messages(sb.sender) if header(raw, "X-Trasporto") == "posta-certificata"][:1]

    with Dovecot(sb.sender, PASSWORD) as server:
        context = ssl.create_default_context(cafile=str(server.ca_file))
        with _client(server, context) as client:
            client.create_folder("Ricevute")
            # Out of order, a duplicate, foreign mail in between, spread over two folders.
            for raw in reversed(ours[:5]):
                client.append("INBOX", raw)
            for raw in foreign + transport + [ours[0]]:
                client.append("INBOX", raw)
            for raw in ours[5:] + [bounce]:
                client.append("Ricevute", raw)
        shutil.copy(server.ca_file, tmp_path / "ca-dovecot.pem")
        set_settings(path, {
            c.SET_PROVIDER: "Personalizzato", c.SET_IMAP_HOST: "127.0.0.1", c.SET_IMAP_PORT: server.port,
            c.SET_IMAP_SECURITY: "SSL/TLS", c.SET_SMTP_HOST: "127.0.0.1", c.SET_SMTP_PORT: 465,
            c.SET_CA_FILE: "ca-dovecot.pem", c.SET_RECEIPT_FOLDERS: "INBOX; Ricevute",
        })
        monkeypatch.setenv("PECMASS_PASSWORD", PASSWORD)
        code, doc = run_json("receipts", path, "--json")
        assert code == 1, doc
        assert doc["recorded"] == len(ours) + 1 and not doc["error"]
        rows = sheet_rows(path)
        assert [(r[c.COL_STATUS], r[c.COL_OUTCOME]) for r in rows] == [
            ("Consegnato", "Consegnata"), ("Mancata consegna", "Indirizzo inesistente"),
            ("Mancata consegna", "Tempo scaduto"), ("Mancata consegna", "Indirizzo inesistente")]
        assert [r[c.COL_SIGNATURE] for r in rows] == ["non verificata"] * 3 + ["assente"]
        events = receipt_events(path)
        assert len(events) == len(ours) + 1 and len({e.receipt_message_id for e in events}) == len(events)

        # A second run asks Dovecot for nothing but the folders' status.
        calls: Counter = Counter()
        for name in ("uids_from", "fetch_headers", "fetch_raw"):
            original = getattr(ImapSession, name)

            def spy(self, *args, _original=original, _name=name, **kwargs):
                calls[_name] += 1
                return _original(self, *args, **kwargs)
            monkeypatch.setattr(ImapSession, name, spy)
        code, doc = run_json("receipts", path, "--json")
        assert doc["recorded"] == 0 and doc["scanned"] == 0 and not calls

        # Dovecot renumbers a folder (deleted and made again): read again, nothing doubled.
        with _client(server, context) as client:
            client.delete_folder("Ricevute")
            client.create_folder("Ricevute")
            for raw in ours[5:] + [bounce]:
                client.append("Ricevute", raw)
        code, doc = run_json("receipts", path, "--json")
        assert doc["reread_folders"] == ["Ricevute"] and doc["recorded"] == 0
        assert len(receipt_events(path)) == len(events)

        # Read-only: EXAMINE and BODY.PEEK left every message unread.
        with _client(server, context) as client:
            for folder in ("INBOX", "Ricevute"):
                client.select_folder(folder, readonly=True)
                flags = client.get_flags(client.search("ALL"))
                assert flags and all(b"\\Seen" not in f for f in flags.values()), (folder, flags)


def test_a_wrong_ca_file_is_refused_with_an_italian_message(sb, tmp_path, monkeypatch, capsys):
    path = make_campaign(tmp_path, [unique("ca")])
    assert run("send", path, "--yes", "--backoff", "0.05") == 0
    with Dovecot(sb.sender, PASSWORD) as server:
        shutil.copy(sb.connection["ca_file"], tmp_path / "altra-ca.pem")  # not the CA of Dovecot's certificate
        set_settings(path, {
            c.SET_PROVIDER: "Personalizzato", c.SET_IMAP_HOST: "127.0.0.1", c.SET_IMAP_PORT: server.port,
            c.SET_SMTP_HOST: "127.0.0.1", c.SET_CA_FILE: "altra-ca.pem",
        })
        monkeypatch.setenv("PECMASS_PASSWORD", PASSWORD)
        capsys.readouterr()
        assert run("receipts", path) == 2
        assert "certificato del server" in capsys.readouterr().err


@contextlib.contextmanager
def _client(server: Dovecot, context):
    client = IMAPClient("127.0.0.1", port=server.port, ssl=True, ssl_context=context, timeout=10)
    client.login(server.user, server.password)
    try:
        yield client
    finally:
        client.logout()


def _bounce_for(sb, message_id: str) -> bytes | None:
    for raw in sb.mailbox_messages(sb.sender):
        if header(raw, "X-Trasporto") == "errore" and message_id.encode() in raw:
            return raw
    return None
