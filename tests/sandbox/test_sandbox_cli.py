"""`pecmass sandbox` in its own process, as a user runs it."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys

import pytest

from pecmass_xl.sandbox.clock import simulated_now

KEYS = {"smtp_host", "smtp_port", "smtp_starttls_port", "imap_host", "imap_port", "user", "password", "ca_file", "dir",
        "clock"}


def run_sandbox(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pecmass_xl", "sandbox", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.skipif(os.name == "nt", reason="SIGTERM is POSIX")
def test_json_line_then_clean_stop_on_sigterm(tmp_path):
    directory = tmp_path / "sb"
    process = run_sandbox("--dir", str(directory), "--json", "--time-scale", "1000", "--fault", "temp-451")
    try:
        connection = json.loads(process.stdout.readline())
        assert set(connection) == KEYS
        assert connection["dir"] == str(directory.resolve())
        assert json.loads((directory / "connessione.json").read_text(encoding="utf-8")) == connection
        # the published clock: 1000 simulated seconds per real second, started about now
        clock = connection["clock"]
        assert clock["time_scale"] == 1000
        ahead = (simulated_now(clock, clock["real_start"] + 3.6) - dt.datetime.fromtimestamp(clock["simulated_start"], dt.UTC))
        assert abs(ahead - dt.timedelta(hours=1)) < dt.timedelta(milliseconds=1)
        context = ssl.create_default_context(cafile=connection["ca_file"])
        with smtplib.SMTP_SSL(connection["smtp_host"], connection["smtp_port"], context=context, timeout=10) as client:
            client.login(connection["user"], connection["password"])
            with pytest.raises(smtplib.SMTPDataError) as refused:  # --fault reached the server
                client.sendmail(connection["user"], ["a@b.pec.test"], b"From: mittente@pec.sandbox.test\r\nTo: a@b.pec.test\r\n\r\nx\r\n")
            assert refused.value.smtp_code == 451
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out == ""  # exactly one line on stdout, already read
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", connection["smtp_port"])) != 0


@pytest.mark.skipif(os.name == "nt", reason="signals are POSIX")
@pytest.mark.parametrize("scale, hint", [("1", "pecmass sandbox --time-scale 3600"),
                                         ("3600", "un'ora simulata passa in 1 secondo")])
def test_human_readable_details_in_italian(tmp_path, scale, hint):
    """Issue 14.7: the sandbox's own output shows how to use --time-scale and what to run next."""
    process = run_sandbox("--dir", str(tmp_path / "sb"), "--time-scale", scale)
    lines = []
    try:
        while not lines or "--follow" not in lines[-1] and hint not in "".join(lines):
            line = process.stdout.readline()
            assert line, "the sandbox stopped before printing its details"
            lines.append(line)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    assert lines[0].startswith("Sandbox PEC in esecuzione")
    text = "".join(lines)
    assert "pecmass receipts prova.xlsx --follow" in text and "pecmass send prova.xlsx --yes" in text
    assert any(line.strip().startswith("Password:") for line in lines)
    assert "Sandbox fermata." in err
    assert process.returncode == 0


@pytest.mark.parametrize(
    "arguments",
    [["--time-scale", "0"], ["--smtp-port", "70000"], ["--rate-limit", "0"], ["--fault", "inventato"], ["--max-size", "-1"]],
)
def test_bad_arguments_exit_2(tmp_path, arguments):
    result = subprocess.run(
        [sys.executable, "-m", "pecmass_xl", "sandbox", "--dir", str(tmp_path / "sb"), *arguments],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "errore" in result.stderr.lower()


def test_a_busy_port_is_reported(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "pecmass_xl", "sandbox", "--dir", str(tmp_path / "sb"), "--imap-port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert "Impossibile avviare la sandbox" in result.stderr
