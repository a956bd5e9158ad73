"""Every fault the sandbox can inject, and what the sender does about it (issue 4)."""

from __future__ import annotations

import json

import pytest

from pecmass_xl.workbook import contract as c

from .conftest import envelopes_for, make_campaign, run, sheet_rows, unique_local

FAST = ("--backoff", "0.05", "--in-doubt-wait", "3", "--rate-limit-pause", "0.2")


@pytest.fixture(autouse=True, params=[True, False], ids=["pipelining", "stepwise"])
def pipelining_mode(request, sb):
    """Every test here runs against a sandbox that advertises PIPELINING and one that does not (issue 15)."""
    sb.set_pipelining(request.param)
    yield request.param
    sb.set_pipelining(True)


def one(prefix: str = "f") -> str:
    return f"{unique_local(prefix)}@studio.pec.test"


def test_temporary_answers_are_retried_with_the_same_message_id(sb, tmp_path, capsys):
    for fault in ("temp-421", "temp-451"):
        address = one()
        path = make_campaign(tmp_path, [address], name=f"{fault}.xlsx")
        sb.set_fault(fault, count=2)
        assert run("send", path, "--yes", *FAST) == 0
        sb.wait_idle(10)
        assert envelopes_for(sb, address) == 1
        row = sheet_rows(path)[0]
        assert row[c.COL_STATUS] in ("Inviato", "Accettato", "Consegnato")
        folder = tmp_path / f"{fault} - archivio PEC" / row[c.COL_ID]
        assert sorted(p.name for p in folder.glob("inviato-*.eml")) == ["inviato-1.eml"]


def test_temporary_errors_outlasting_the_retries_leave_the_row_to_send(sb, tmp_path, capsys):
    address = one()
    path = make_campaign(tmp_path, [address])
    sb.set_fault("temp-451")  # for ever
    assert run("send", path, "--yes", "--retries", "2", *FAST) == 0
    row = sheet_rows(path)[0]
    assert row[c.COL_STATUS] == "Da inviare"
    assert "451" in row[c.COL_DETAIL] and "tentativi" in row[c.COL_DETAIL]
    sb.set_fault(None)
    assert run("send", path, "--yes", *FAST) == 0
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == 1
    assert sheet_rows(path)[0][c.COL_STATUS] in ("Inviato", "Accettato", "Consegnato")


def test_a_refused_login_stops_at_once_with_exit_3(sb, tmp_path, capsys):
    recipients = [one(), one()]
    path = make_campaign(tmp_path, recipients)
    sb.set_fault("login-refused")
    assert run("send", path, "--yes", *FAST) == 3
    assert "rifiutato l'accesso" in capsys.readouterr().err
    sb.set_fault(None)
    rows = sheet_rows(path)
    assert [r[c.COL_STATUS] for r in rows] == ["Da inviare", "Da inviare"]
    assert all(envelopes_for(sb, a) == 0 for a in recipients)
    assert run("send", path, "--yes", *FAST) == 0
    sb.wait_idle(10)
    assert all(envelopes_for(sb, a) == 1 for a in recipients)


def test_connection_lost_after_data_with_the_message_accepted_is_resolved_by_its_receipt(sb, tmp_path, capsys):
    address = one()
    path = make_campaign(tmp_path, [address])
    sb.set_fault("drop-after-data-accepted", count=1)
    assert run("send", path, "--yes", *FAST) == 0
    sb.wait_idle(10)
    row = sheet_rows(path)[0]
    assert row[c.COL_STATUS] in ("Accettato", "Consegnato")  # found by its acceptance receipt
    assert envelopes_for(sb, address) == 1
    assert run("send", path, "--yes", *FAST) == 0  # never resent
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == 1


def test_connection_lost_after_data_without_acceptance_becomes_uncertain_and_is_not_resent(sb, tmp_path, capsys):
    address = one()
    path = make_campaign(tmp_path, [address])
    sb.set_fault("drop-after-data", count=1)
    assert run("send", path, "--yes", "--json", *FAST) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["failed"][0]["status"] == "Incerto"
    row = sheet_rows(path)[0]
    assert row[c.COL_STATUS] == "Incerto" and row[c.COL_OUTCOME] == "Esito incerto"
    assert run("send", path, "--yes", *FAST) == 1  # still uncertain, nothing resent
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == 0
    assert run("send", path, "--yes", "--resend", "uncertain", *FAST) == 0  # the user decides
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == 1


def test_slow_server_still_sends(sb, tmp_path):
    address = one()
    path = make_campaign(tmp_path, [address])
    sb.set_fault("slow", count=1, slow_delay=0.5)
    assert run("send", path, "--yes", *FAST) == 0
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == 1


def test_test_send_goes_to_the_sender_and_does_not_freeze_the_row(sb, tmp_path, capsys):
    address = one()
    path = make_campaign(tmp_path, [address])
    before = len(sb.mailbox_messages(sb.sender))
    assert run("test", path, "--row", "2", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["test"] == "P1" and doc["to"] == sb.sender and doc["status"] in ("Inviato", "Accettato", "Consegnato")
    assert ".prova.P1@pec.sandbox.test>" in doc["message_id"]
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == 0
    assert len(sb.mailbox_messages(sb.sender)) > before
    row = sheet_rows(path)[0]
    assert row[c.COL_ID] is None
    from openpyxl import load_workbook
    summary = [r for r in load_workbook(path)["Riepilogo"].iter_rows(values_only=True)]
    assert any(r[0] == "P1" and r[1] == sb.sender for r in summary)
    assert run("test", path, "--row", "2", "--to", f"{unique_local('p')}@studio.pec.test", "--json") == 0
    assert json.loads(capsys.readouterr().out)["test"] == "P2"


def test_check_connection_logs_in_without_sending(sb, tmp_path, capsys):
    path = make_campaign(tmp_path, [one()])
    assert run("check-connection", path, "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["smtp"]["ok"] and doc["imap"]["ok"] and "INBOX" in doc["imap"]["folders"]
    sb.set_fault("login-refused")
    assert run("check-connection", path) == 3


def test_status_and_stop_without_a_running_worker(sb, tmp_path, capsys):
    path = make_campaign(tmp_path, [one()])
    assert run("send", path, "--yes", *FAST) == 0
    capsys.readouterr()
    assert run("status", path, "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["running"] is False and sum(doc["counts"].values()) == 1
    assert run("stop", path) == 0
    assert "Nessun invio" in capsys.readouterr().out
