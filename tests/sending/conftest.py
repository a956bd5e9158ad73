"""Sending tests run against a real sandbox provider (SMTP + IMAP on loopback) in this process."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.cli.main import main
from pecmass_xl.sandbox import Sandbox
from pecmass_xl.workbook import contract as c

_serial = itertools.count(1)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sandbox")
    with Sandbox.start(directory, time_scale=3600) as sb:
        yield sb


@pytest.fixture
def sb(sandbox, monkeypatch):
    """The module's sandbox, used by the `Sandbox` preset of the workbooks of this test."""
    monkeypatch.setenv("PECMASS_SANDBOX_DIR", str(sandbox.connection["dir"]))
    sandbox.set_fault(None)
    yield sandbox
    sandbox.set_fault(None)


def unique_local(prefix: str = "d") -> str:
    return f"{prefix}{next(_serial)}x{id(object()) % 100000}"


def make_campaign(folder: Path, recipients: list[str], name: str = "campagna.xlsx", text: str = "Gentile {{ Nome }}, comunicazione n. {{ N }}.") -> Path:
    """A Sandbox workbook with one row per recipient (headers PEC, Nome, N)."""
    wb = build_new_workbook("")
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(["PEC", "Nome", "N"] + list(c.RESULT_COLUMNS))
    for index, address in enumerate(recipients, start=1):
        ws.append([address, f"Persona {index}", index])
    msg = wb[c.SHEET_MESSAGE]
    for row in msg.iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = "Comunicazione {{ N }} per {{ Nome }}"
        if row[0].value == c.MSG_TEXT:
            row[1].value = text
    path = folder / name
    wb.save(path)
    return path


def sheet_rows(path: Path) -> list[dict]:
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    rows = list(ws.iter_rows(values_only=True))
    headers = rows[0]
    return [dict(zip(headers, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def envelopes_for(sb, address: str) -> int:
    """Transport envelopes in a PEC recipient's INBOX = PECs that reached it."""
    return sum(1 for raw in sb.mailbox_messages(address) if b"X-Trasporto: posta-certificata" in raw)


def run(*args: str) -> int:
    return main([*map(str, args)])
