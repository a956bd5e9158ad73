"""Injected faults, seen from a real SMTP/IMAP client."""

from __future__ import annotations

import smtplib
import socket

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from sandbox_helpers import FAST, by_kind, make_message, receipts_for, smtp_client, unique

from pecmass_xl.sandbox import FAULT_KINDS, Sandbox


def test_fault_names_are_the_published_ones():
    assert set(FAULT_KINDS) == {"drop-after-data-accepted", "drop-after-data", "temp-421", "temp-451", "login-refused", "slow"}


def test_unknown_fault_is_rejected(sb):
    with pytest.raises(ValueError):
        sb.set_fault("guasto-inventato")


def test_drop_after_data_accepted_keeps_the_message(sb):
    sb.set_fault("drop-after-data-accepted", count=1)
    message = make_message(sb.sender, unique())
    with smtp_client(sb) as client:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(message)
    sb.wait_idle()
    kinds = [m["X-Ricevuta"] for _, m in receipts_for(sb, message["Message-ID"])]
    assert kinds == ["accettazione", "avvenuta-consegna"]  # it did leave
    again = make_message(sb.sender, unique())
    with smtp_client(sb) as client:  # count=1: the fault has cleared
        client.send_message(again)
    assert by_kind(receipts_for(sb, again["Message-ID"]), "accettazione")


def test_drop_after_data_loses_the_message(sb):
    sb.set_fault("drop-after-data")
    message = make_message(sb.sender, unique())
    with smtp_client(sb) as client:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(message)
    sb.wait_idle()
    assert receipts_for(sb, message["Message-ID"]) == []
    sb.set_fault(None)
    with smtp_client(sb) as client:
        client.send_message(message)
    assert by_kind(receipts_for(sb, message["Message-ID"]), "accettazione")


def test_temp_421_closes_the_connection_and_accepts_nothing(sb):
    sb.set_fault("temp-421", count=1)
    message = make_message(sb.sender, unique())
    client = smtp_client(sb)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        client.send_message(message)
    assert refused.value.smtp_code == 421
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.noop()
    sb.wait_idle()
    assert receipts_for(sb, message["Message-ID"]) == []


def test_temp_451_keeps_the_connection_usable(sb):
    sb.set_fault("temp-451", count=2)
    message = make_message(sb.sender, unique())
    with smtp_client(sb) as client:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.send_message(message)
            assert refused.value.smtp_code == 451
        client.send_message(message)  # the third attempt, on the same connection, goes through
    sb.wait_idle()
    assert [m["X-Ricevuta"] for _, m in receipts_for(sb, message["Message-ID"])] == ["accettazione", "avvenuta-consegna"]


def test_login_refused_for_smtp_and_imap(sb):
    sb.set_fault("login-refused")
    with smtplib.SMTP_SSL(sb.connection["smtp_host"], sb.connection["smtp_port"], context=sb.ssl_context(), timeout=10) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(sb.sender, sb.password)
    with IMAPClient(sb.connection["imap_host"], port=sb.connection["imap_port"], ssl=True, ssl_context=sb.ssl_context()) as imap:
        with pytest.raises(LoginError):
            imap.login(sb.sender, sb.password)
    sb.set_fault(None)
    with smtp_client(sb):
        pass


def test_slow_server_answers_late(sandbox_dir):
    with Sandbox.start(sandbox_dir, time_scale=FAST, fault="slow") as sb:
        sb.set_fault("slow", slow_delay=3.0)
        with pytest.raises((socket.timeout, smtplib.SMTPServerDisconnected)):
            smtplib.SMTP_SSL(sb.connection["smtp_host"], sb.connection["smtp_port"], context=sb.ssl_context(), timeout=0.5)
        sb.set_fault("slow", slow_delay=0.2)
        message = make_message(sb.sender, unique())
        with smtp_client(sb) as client:  # a patient client still gets through
            client.send_message(message)
        assert by_kind(receipts_for(sb, message["Message-ID"]), "accettazione")
