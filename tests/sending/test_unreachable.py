"""A send that cannot reach the provider (issue 14.2): one budget for the whole run, the reason on the
terminal with what to check, exit 2 when nothing was handed over; rows stay `Da inviare` and leave
once the server is back."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from .conftest import envelopes_for, make_campaign, run, sheet_rows, unique_local


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_copy(sb, folder: Path) -> Path:
    """A sandbox folder whose connessione.json names a port nobody listens on."""
    folder.mkdir()
    connection = dict(sb.connection)
    for name in ("ca_file",):
        shutil.copy(connection[name], folder / Path(connection[name]).name)
    connection["smtp_port"] = connection["smtp_starttls_port"] = closed_port()
    original = json.loads((Path(sb.connection["dir"]) / "connessione.json").read_text(encoding="utf-8"))
    original.update(smtp_port=connection["smtp_port"], smtp_starttls_port=connection["smtp_starttls_port"])
    (folder / "connessione.json").write_text(json.dumps(original), encoding="utf-8")
    return folder


def pecmass(*args, sandbox_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PECMASS_SANDBOX_DIR=str(sandbox_dir))
    return subprocess.run([sys.executable, "-m", "pecmass_xl", *map(str, args)], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=120)


def test_a_send_that_cannot_connect_says_why_and_exits_2(sb, tmp_path):
    recipients = [f"{unique_local()}@studio.pec.test" for _ in range(3)]
    path = make_campaign(tmp_path, recipients)
    broken = unreachable_copy(sb, tmp_path / "sandbox-irraggiungibile")
    result = pecmass("send", path, "--yes", "--connect-timeout", "3", sandbox_dir=broken)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "0 PEC consegnate al gestore" in result.stdout
    err = result.stderr
    assert "Errore: Non riesco a collegarmi al server SMTP 127.0.0.1" in err
    assert "connessione rifiutata" in err
    for setting in ("«Server SMTP»", "«Porta SMTP»", "«Sicurezza SMTP»", "pecmass check-connection"):
        assert setting in err
    assert "WARNING" not in err and "Traceback" not in err and "Error" not in err.replace("Errore", "")
    # nothing left, nothing lost: every row is still to send, with no attempt recorded
    from pecmass_xl.workbook import contract as c
    assert [r[c.COL_STATUS] for r in sheet_rows(path)] == [c.ST_TO_SEND] * 3
    # the server is back: the same rows leave, once each
    assert run("send", path, "--yes") == 0
    sb.wait_idle(10)
    assert [envelopes_for(sb, a) for a in recipients] == [1, 1, 1]


def test_json_carries_the_error(sb, tmp_path):
    path = make_campaign(tmp_path, [f"{unique_local()}@studio.pec.test"])
    broken = unreachable_copy(sb, tmp_path / "sb")
    result = pecmass("send", path, "--yes", "--json", "--connect-timeout", "1", sandbox_dir=broken)
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert "Porta SMTP" in doc["error"] and doc["counts"] == {"Da inviare": 1}


def test_follow_against_a_time_scaled_sandbox_uses_its_clock(sb, tmp_path):
    """Issue 14.7: `receipts --follow` waited two real hours for a non-PEC recipient's bounce window."""
    pec = f"{unique_local()}@studio.pec.test"
    ordinary = f"{unique_local()}@posta.esempio.test"  # not a PEC mailbox: accepted, then watched for a bounce
    path = make_campaign(tmp_path, [pec, ordinary])
    assert run("send", path, "--yes") == 0
    result = pecmass("receipts", path, "--follow", "--json", sandbox_dir=Path(sb.connection["dir"]))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["pending"] == 0
    assert doc["counts"] == {"Consegnato": 1, "Accettato (non PEC)": 1}
