"""The sandbox advertises PIPELINING (RFC 2920) like Postfix-based providers, with a switch to turn it off,
and answers a pipelined group command by command, in order."""

from __future__ import annotations

import email.policy
import json
import smtplib
import ssl
import subprocess
import sys

from sandbox_helpers import FAST, by_kind, make_message, receipts_for, smtp_client, unique

from pecmass_xl.sandbox import Sandbox


def advertised(sb: Sandbox) -> bool:
    with smtp_client(sb) as client:
        return client.has_extn("pipelining")


def test_pipelining_is_advertised_by_default_and_the_switch_turns_it_off(sb, tmp_path):
    assert advertised(sb)
    sb.set_pipelining(False)
    assert not advertised(sb)
    sb.set_pipelining(True)
    assert advertised(sb)
    with Sandbox.start(tmp_path / "other", time_scale=FAST, pipelining=False) as quiet:
        assert not advertised(quiet)


def test_the_ehlo_answer_keeps_its_other_keywords(sb):
    with smtp_client(sb) as client:
        assert {"pipelining", "auth", "size", "8bitmime"} <= set(client.esmtp_features)
        assert client.ehlo()[0] == 250  # a second EHLO in the same session works as well


def test_a_pipelined_group_is_answered_in_order_and_the_message_delivered(sb):
    message = make_message(sb.sender, unique())
    with smtp_client(sb) as client:
        client.send(f"MAIL FROM:<{sb.sender}>\r\nRCPT TO:<{message['To']}>\r\nDATA\r\n")
        assert [client.getreply()[0] for _ in range(3)] == [250, 250, 354]
        client.send(message.as_bytes(policy=email.policy.SMTP) + b".\r\n")
        assert client.getreply()[0] == 250
    sb.wait_idle()
    assert by_kind(receipts_for(sb, message["Message-ID"]), "accettazione")


def test_a_rate_limited_group_gets_550_then_503s(tmp_path):
    with Sandbox.start(tmp_path / "limited", time_scale=FAST, rate_limit=1) as sb:
        with smtp_client(sb) as client:
            client.send_message(make_message(sb.sender, unique()))
            client.send(f"MAIL FROM:<{sb.sender}>\r\nRCPT TO:<{unique()}>\r\nDATA\r\n")
            replies = [client.getreply() for _ in range(3)]
            assert [code for code, _ in replies] == [550, 503, 503]
            assert b"Too much traffic" in replies[0][1]
            assert client.noop()[0] == 250  # still in step: nothing was read as a body


def test_a_refused_recipient_makes_the_pipelined_data_fail(sb):
    with smtp_client(sb) as client:
        client.send(f"MAIL FROM:<{sb.sender}>\r\nRCPT TO:<nessuno@localhost>\r\nDATA\r\n")
        assert [client.getreply()[0] for _ in range(3)] == [250, 501, 503]
        assert client.rset()[0] == 250


def test_the_command_line_switch(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "pecmass_xl", "sandbox", "--dir", str(tmp_path / "cli"), "--json", "--no-pipelining"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        connection = json.loads(process.stdout.readline())
        context = ssl.create_default_context(cafile=connection["ca_file"])
        with smtplib.SMTP_SSL(connection["smtp_host"], connection["smtp_port"], context=context, timeout=10) as client:
            client.ehlo()
            assert client.does_esmtp and not client.has_extn("pipelining")
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
