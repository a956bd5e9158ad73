"""The SMTP session pipelines MAIL, RCPT and DATA when the server advertises PIPELINING (RFC 2920), and
still reads and classifies every answer; without the keyword it waits for each one. Both modes meet
every fault the sandbox injects. What the client writes is read from smtplib's own wire trace."""

from __future__ import annotations

import ast
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import LoginRefused
from pecmass_xl.mailclient.smtp_classify import IN_DOUBT, RATE_LIMITED, REFUSED, SENT, TEMPORARY
from pecmass_xl.mailclient.smtp_session import SmtpSession
from pecmass_xl.sandbox import Sandbox
from pecmass_xl.workbook import contract as c

from .conftest import envelopes_for, make_campaign, run, sheet_rows, unique_local

MODES = pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "stepwise"])


def settings_for(sb: Sandbox, security: str = "SSL/TLS") -> Settings:
    port = sb.connection["smtp_port"] if security == "SSL/TLS" else sb.connection["smtp_starttls_port"]
    return Settings(mailbox=sb.sender, smtp_host=sb.connection["smtp_host"], smtp_port=port, smtp_security=security,
                    ca_file=Path(sb.connection["ca_file"]))


def recipient() -> str:
    return f"{unique_local('pl')}@studio.pec.test"


def message(sb: Sandbox, to: str) -> tuple[bytes, str]:
    """A small message and a marker that appears only in its body."""
    marker = f"CORPO-{uuid.uuid4().hex}"
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sb.sender, to, "Prova pipelining"
    msg["Message-ID"] = f"<pecmass.test.{uuid.uuid4().hex[:12]}@pec.sandbox.test>"
    msg.set_content(f"Testo {marker}\n.riga che inizia con un punto\n")
    return msg.as_bytes().replace(b"\n", b"\r\n"), marker


def open_session(sb: Sandbox, security: str = "SSL/TLS") -> SmtpSession:
    session = SmtpSession(settings_for(sb, security), sb.password, timeout=10)
    session.connect()
    session.conn.set_debuglevel(1)  # smtplib prints every write as `send: <repr>` on stderr
    return session


def writes(capsys) -> list[bytes]:
    """Every chunk the client wrote since the last call, from smtplib's trace."""
    chunks = []
    for line in capsys.readouterr().err.splitlines():
        if line.startswith("send: "):
            value = ast.literal_eval(line[len("send: "):])
            chunks.append(value.encode("ascii") if isinstance(value, str) else value)
    return chunks


@pytest.fixture
def mode(sb, request):
    """Sets the sandbox's PIPELINING switch from the test's `pipelining` parameter; restores it after."""
    sb.set_pipelining(request.param)
    yield request.param
    sb.set_pipelining(True)


def parametrize_mode(test):
    return pytest.mark.parametrize("mode", [True, False], ids=["pipelining", "stepwise"], indirect=True)(test)


@parametrize_mode
@pytest.mark.parametrize("security", ["SSL/TLS", "STARTTLS"])
def test_a_message_takes_two_writes_when_pipelining_and_four_without(sb, mode, security, capsys):
    address = recipient()
    data, marker = message(sb, address)
    with open_session(sb, security) as session:
        assert session.pipelining is mode
        writes(capsys)
        answer = session.send(sb.sender, address, data)
        sent = writes(capsys)
    assert answer.kind == SENT and answer.code == 250
    if mode:
        assert sent[0] == f"MAIL FROM:<{sb.sender}>\r\nRCPT TO:<{address}>\r\nDATA\r\n".encode()
        assert len(sent) == 2
    else:
        assert [chunk.split(b":")[0].split(b"\r")[0].upper() for chunk in sent[:3]] == [b"MAIL FROM", b"RCPT TO", b"DATA"]
        assert len(sent) == 4
    assert marker.encode() in sent[-1] and sent[-1].endswith(b"\r\n.\r\n")
    assert b"\r\n..riga che inizia con un punto" in sent[-1]  # dot-stuffed
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == 1


@parametrize_mode
def test_many_messages_on_one_connection_stay_in_step(sb, mode, capsys):
    addresses = [recipient() for _ in range(5)]
    with open_session(sb) as session:
        conn = session.conn
        answers = [session.send(sb.sender, a, message(sb, a)[0]) for a in addresses]
        assert session.conn is conn  # never reconnected
    assert [a.kind for a in answers] == [SENT] * 5
    sb.wait_idle(10)
    assert [envelopes_for(sb, a) for a in addresses] == [1] * 5


@parametrize_mode
def test_a_refused_recipient_is_never_followed_by_a_body(sb, mode, capsys):
    bad = "nessuno@localhost"  # the sandbox refuses it at RCPT (501)
    data, marker = message(sb, bad)
    with open_session(sb) as session:
        writes(capsys)
        answer = session.send(sb.sender, bad, data)
        sent = writes(capsys)
        assert answer.kind == REFUSED and answer.code == 501  # the RCPT answer decides, not DATA's 503
        assert not any(marker.encode() in chunk for chunk in sent)
        assert sent[-1].upper().startswith(b"RSET")
        good = recipient()
        assert session.send(sb.sender, good, message(sb, good)[0]).kind == SENT  # still in step
    sb.wait_idle(10)
    assert envelopes_for(sb, good) == 1


@parametrize_mode
def test_a_refused_sender_decides_over_the_503s_that_follow(sb, mode, capsys):
    address = recipient()
    data, marker = message(sb, address)
    with open_session(sb) as session:
        writes(capsys)
        answer = session.send("altro@pec.sandbox.test", address, data)
        assert not any(marker.encode() in chunk for chunk in writes(capsys))
    assert answer.kind == REFUSED and answer.code == 553
    assert envelopes_for(sb, address) == 0


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "stepwise"])
def test_a_rate_limit_550_to_mail_from_stays_a_rate_limit(tmp_path, pipelining, capsys):
    with Sandbox.start(tmp_path / "limited", time_scale=3600, rate_limit=1, pipelining=pipelining) as sb:
        first, second = recipient(), recipient()
        with open_session(sb) as session:
            assert session.send(sb.sender, first, message(sb, first)[0]).kind == SENT
            writes(capsys)
            data, marker = message(sb, second)
            answers = [session.send(sb.sender, second, data) for _ in range(2)]  # and again, on the same connection
            sent = writes(capsys)
        assert [(a.kind, a.code) for a in answers] == [(RATE_LIMITED, 550)] * 2
        assert "Too much traffic" in answers[0].text
        assert not any(marker.encode() in chunk for chunk in sent)
        assert envelopes_for(sb, second) == 0


# --- every fault the sandbox injects, in both modes --------------------------------------------

FAULT_OUTCOMES = {
    # fault: (answer kind, code, connection kept, envelopes delivered)
    "drop-after-data-accepted": (IN_DOUBT, None, False, 1),
    "drop-after-data": (IN_DOUBT, None, False, 0),
    "temp-421": (TEMPORARY, 421, False, 0),
    "temp-451": (TEMPORARY, 451, True, 0),
    "slow": (SENT, 250, True, 1),
}


@parametrize_mode
@pytest.mark.parametrize("fault", sorted(FAULT_OUTCOMES))
def test_every_data_fault_is_classified_the_same_in_both_modes(sb, mode, fault, capsys):
    kind, code, kept, delivered = FAULT_OUTCOMES[fault]
    address, after = recipient(), recipient()
    with open_session(sb) as session:
        assert session.pipelining is mode
        sb.set_fault(fault, count=1, slow_delay=0.2)
        answer = session.send(sb.sender, address, message(sb, address)[0])
        assert (answer.kind, answer.code) == (kind, code)
        assert (session.conn is not None) is kept
        assert session.send(sb.sender, after, message(sb, after)[0]).kind == SENT  # reconnects when needed
    sb.wait_idle(10)
    assert envelopes_for(sb, address) == delivered
    assert envelopes_for(sb, after) == 1


@parametrize_mode
def test_a_refused_login_is_raised_and_nothing_is_sent(sb, mode):
    address = recipient()
    sb.set_fault("login-refused")
    session = SmtpSession(settings_for(sb), sb.password, timeout=10)
    with pytest.raises(LoginRefused):
        session.send(sb.sender, address, message(sb, address)[0])
    assert session.conn is None
    assert envelopes_for(sb, address) == 0


# --- the whole command, rate limit in both modes -----------------------------------------------


@MODES
def test_send_pauses_on_the_rate_limit_and_leaves_the_row_to_send(tmp_path, monkeypatch, pipelining, capsys):
    with Sandbox.start(tmp_path / "limited", time_scale=3600, rate_limit=2, pipelining=pipelining) as sb:
        monkeypatch.setenv("PECMASS_SANDBOX_DIR", str(sb.connection["dir"]))
        recipients = [recipient() for _ in range(3)]
        path = make_campaign(tmp_path, recipients)
        code = run("send", path, "--yes", "--rate-limit-pause", "0.05", "--backoff", "0.05")
        assert "rallentare" in capsys.readouterr().err  # paused, as for a rate limit
        assert code == 0
        rows = sheet_rows(path)
        assert rows[2][c.COL_STATUS] == "Da inviare"  # not refused: it is sent next time
        assert "Too much traffic" in rows[2][c.COL_DETAIL]
        sb.wait_idle(10)
        assert [envelopes_for(sb, a) for a in recipients] == [1, 1, 0]


# --- the next envelope announced: its group follows the final dot --------------------------------


def test_an_announced_envelope_follows_the_dot_and_costs_no_round_trip_of_its_own(sb, capsys):
    addresses = [recipient() for _ in range(3)]
    with open_session(sb) as session:
        writes(capsys)
        answers, per_message = [], []
        for index, address in enumerate(addresses):
            if index + 1 < len(addresses):
                session.announce_next(sb.sender, addresses[index + 1])
            answers.append(session.send(sb.sender, address, message(sb, address)[0]))
            per_message.append(writes(capsys))
    assert [a.kind for a in answers] == [SENT] * 3
    group = [f"MAIL FROM:<{sb.sender}>\r\nRCPT TO:<{a}>\r\nDATA\r\n".encode() for a in addresses]
    assert per_message[0][0] == group[0] and per_message[0][2] == group[1]
    assert per_message[1][1] == group[2]
    for chunks in per_message[1:]:
        assert chunks[0].endswith(b"\r\n.\r\n")  # the body first: its envelope was answered already
    assert len(per_message[2]) == 1  # the last body alone: nothing announced after it
    sb.wait_idle(10)
    assert [envelopes_for(sb, a) for a in addresses] == [1, 1, 1]


def test_an_announced_envelope_not_sent_is_aborted_by_closing_never_by_an_empty_message(sb, capsys):
    first, announced, other = recipient(), recipient(), recipient()
    with open_session(sb) as session:
        session.announce_next(sb.sender, announced)
        assert session.send(sb.sender, first, message(sb, first)[0]).kind == SENT
        conn = session.conn
        answer = session.send(sb.sender, other, message(sb, other)[0])  # not the one announced
        assert answer.kind == SENT and session.conn is not conn  # a new connection
        session.announce_next(sb.sender, announced)
        assert session.send(sb.sender, first, message(sb, first)[0]).kind == SENT
        writes(capsys)
    assert writes(capsys) == []  # closed with the transaction open (a stop): no QUIT read as data
    sb.wait_idle(10)
    assert envelopes_for(sb, announced) == 0 and envelopes_for(sb, other) == 1 and envelopes_for(sb, first) == 2
    assert not [raw for raw in sb.mailbox_messages(sb.sender) if announced.encode() in raw]  # no receipt of any kind


def test_a_temporary_answer_with_an_announced_envelope_is_retried_on_a_new_connection(sb):
    first, second = recipient(), recipient()
    with open_session(sb) as session:
        sb.set_fault("temp-451", count=1)
        session.announce_next(sb.sender, second)
        data = message(sb, first)[0]
        assert (session.send(sb.sender, first, data).kind, session.conn is not None) == (TEMPORARY, True)
        assert session.send(sb.sender, first, data).kind == SENT  # the retry: the open transaction was for `second`
        assert session.send(sb.sender, second, message(sb, second)[0]).kind == SENT
    sb.wait_idle(10)
    assert (envelopes_for(sb, first), envelopes_for(sb, second)) == (1, 1)


def test_a_rate_limit_on_an_announced_envelope_is_reported_by_its_own_send(tmp_path):
    with Sandbox.start(tmp_path / "limited", time_scale=3600, rate_limit=1) as sb:
        first, second = recipient(), recipient()
        with open_session(sb) as session:
            session.announce_next(sb.sender, second)
            assert session.send(sb.sender, first, message(sb, first)[0]).kind == SENT
            answer = session.send(sb.sender, second, message(sb, second)[0])
        assert (answer.kind, answer.code) == (RATE_LIMITED, 550)
        assert envelopes_for(sb, second) == 0


def test_a_non_ascii_announced_envelope_is_ignored(sb):
    first = recipient()
    with open_session(sb) as session:
        session.announce_next(sb.sender, "però@studio.pec.test")
        assert session.send(sb.sender, first, message(sb, first)[0]).kind == SENT
        assert session._pending is None


# --- the engine: the next envelope goes ahead only when nothing paces the mailbox -----------------


def set_pace(path: Path, per_minute: int) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    for row in wb[c.SHEET_SETTINGS].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.SET_PACE:
            row[1].value = per_minute
    wb.save(path)


def wire_events(stderr: str) -> list[str]:
    """'body', 'envelope' or 'reply', in the order smtplib's trace shows them."""
    events = []
    for line in stderr.splitlines():
        if line.startswith("send: "):
            value = ast.literal_eval(line[len("send: "):])
            chunk = value.encode("ascii") if isinstance(value, str) else value
            if chunk.endswith(b"\r\n.\r\n"):
                events.append("body")
            elif chunk.startswith(b"MAIL FROM:"):
                events.append("envelope")
        elif line.startswith("reply: retcode"):
            events.append("reply")
    return events


@pytest.mark.parametrize("pace", [0, 600], ids=["unpaced", "paced"])
def test_the_next_envelope_follows_the_dot_only_without_pacing(sb, tmp_path, monkeypatch, capsys, pace):
    import smtplib

    recipients = [recipient() for _ in range(3)]
    path = make_campaign(tmp_path, recipients)
    set_pace(path, pace)
    monkeypatch.setattr(smtplib.SMTP, "debuglevel", 1)  # trace what pecmass itself writes and reads
    assert run("send", path, "--yes") == 0
    events = wire_events(capsys.readouterr().err)
    after_body = [events[i + 1] for i, event in enumerate(events) if event == "body"]
    assert len(after_body) == 3
    expected = ["envelope", "envelope", "reply"] if pace == 0 else ["reply", "reply", "reply"]
    assert after_body == expected
    assert events.count("envelope") == 3  # one group per message either way
    sb.wait_idle(10)
    assert [envelopes_for(sb, a) for a in recipients] == [1, 1, 1]


def test_a_server_that_accepts_data_without_recipients_gets_a_lone_dot_never_the_body(sb, monkeypatch, capsys):
    """RFC 2920 §3.1 warns of servers that answer 354 to DATA after every RCPT failed; the sandbox is
    made to behave so for this test only."""
    from pecmass_xl.sandbox.smtp_server import SandboxSMTP

    original = SandboxSMTP.smtp_DATA

    async def lenient_data(self, arg):
        if self.envelope is not None and not self.envelope.rcpt_tos:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._read_data()
            self._set_post_data_state()
            await self.push("554 5.5.1 Error: no valid recipients")
            return
        await original(self, arg)

    monkeypatch.setattr(SandboxSMTP, "smtp_DATA", lenient_data)
    bad = "nessuno@localhost"
    data, marker = message(sb, bad)
    with open_session(sb) as session:
        writes(capsys)
        answer = session.send(sb.sender, bad, data)
        sent = writes(capsys)
        assert (answer.kind, answer.code) == (REFUSED, 501)  # the RCPT answer decides
        assert sent[1] == b".\r\n" and not any(marker.encode() in chunk for chunk in sent)
        good = recipient()
        assert session.send(sb.sender, good, message(sb, good)[0]).kind == SENT  # still in step
    sb.wait_idle(10)
    assert envelopes_for(sb, good) == 1
