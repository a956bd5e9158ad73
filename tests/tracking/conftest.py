"""Receipts tests run against a real sandbox provider (SMTP + IMAP on loopback) in this process.

The sandbox runs fast (FAST simulated seconds per real second): a 24-hour timeout notice arrives
in under a second. Receipts can also be put in a folder by hand over IMAP (APPEND), to control
their order, duplicate them, or add forged ones.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from imapclient import IMAPClient
from openpyxl import load_workbook

from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.cli.main import main
from pecmass_xl.journal import Journal
from pecmass_xl.sandbox import Sandbox
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.file_workbook import FileWorkbook

FAST = 100_000.0
VIRUS_MARKER = b"PECMASS-SANDBOX-VIRUS"
_serial = itertools.count(1)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sandbox")
    with Sandbox.start(directory, time_scale=FAST) as sb:
        yield sb


@pytest.fixture
def sb(sandbox, monkeypatch):
    """The module's sandbox, used by the `Sandbox` preset of the workbooks of this test."""
    monkeypatch.setenv("PECMASS_SANDBOX_DIR", str(sandbox.connection["dir"]))
    sandbox.set_fault(None)
    yield sandbox
    sandbox.set_fault(None)


def unique(prefix: str = "d", domain: str = "studio.pec.test") -> str:
    return f"{prefix}{next(_serial)}x{time.monotonic_ns() % 1_000_000}@{domain}"


def make_campaign(folder: Path, recipients: list[str], name: str = "campagna.xlsx", *,
                  names: list[str] | None = None, attachments: dict[int, str] | None = None,
                  settings: dict[str, object] | None = None) -> Path:
    """A Sandbox workbook, one row per recipient (PEC, Nome, N, Allegati); `attachments` by 0-based row."""
    wb = build_new_workbook("")
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(["PEC", "Nome", "N", "Allegati"] + list(c.RESULT_COLUMNS))
    for index, address in enumerate(recipients):
        name_value = names[index] if names else f"Persona {index + 1}"
        ws.append([address, name_value, index + 1, (attachments or {}).get(index)])
    msg = wb[c.SHEET_MESSAGE]
    for row in msg.iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = "Comunicazione {{ N }}"
        if row[0].value == c.MSG_TEXT:
            row[1].value = "Gentile destinatario, comunicazione n. {{ N }}."
    path = folder / name
    wb.save(path)
    if settings:
        set_settings(path, settings)
    return path


def set_settings(path: Path, values: dict[str, object]) -> None:
    """Fill `Impostazioni` cells by label (the sheet is read by label, never by address)."""
    wb = load_workbook(path)
    ws = wb[c.SHEET_SETTINGS]
    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    for label, value in values.items():
        row = rows.get(label)
        if row is None:
            row = ws.max_row + 1
            ws.cell(row, 1).value = label
        ws.cell(row, 2).value = value
    wb.save(path)


def set_message(path: Path, label: str, value: object) -> None:
    """Fill one `Messaggio` value by its label."""
    wb = load_workbook(path)
    ws = wb[c.SHEET_MESSAGE]
    for row in ws.iter_rows(min_col=1, max_col=2):
        if row[0].value == label:
            row[1].value = value
            break
    else:
        ws.append([label, value])
    wb.save(path)


def set_cell(path: Path, row_index: int, header: str, value: object, as_text: bool = False) -> None:
    """Change one `Destinatari` cell (row_index 0 = first recipient); `as_text` keeps "=…" a string,
    as a cell typed with a leading apostrophe or imported from CSV holds it."""
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    col = [cell.value for cell in ws[1]].index(header) + 1
    cell = ws.cell(row_index + 2, col)
    cell.value = value
    if as_text:
        cell.data_type = "s"
    wb.save(path)


def sheet_rows(path: Path) -> list[dict]:
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    rows = list(ws.iter_rows(values_only=True))
    headers = rows[0]
    return [dict(zip(headers, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def sheet_cells(path: Path, header: str) -> list:
    """The openpyxl cells of one `Destinatari` column (to look at types and formulas)."""
    wb = load_workbook(path)
    ws = wb[c.SHEET_LIST]
    col = [cell.value for cell in ws[1]].index(header) + 1
    return [ws.cell(r, col) for r in range(2, ws.max_row + 1)]


def run(*args: object) -> int:
    return main([str(a) for a in args])


def campaign_of(path: Path) -> str:
    return FileWorkbook(path).read().campaign_id


@contextmanager
def journal_of(path: Path):
    with Journal.for_campaign(campaign_of(path)) as journal:
        yield journal


def receipt_events(path: Path) -> list:
    """Every receipt event of the campaign (all attempts), as the journal holds them."""
    from pecmass_xl.journal.status import RECEIPT_KINDS

    with journal_of(path) as journal:
        out = []
        for row_id in journal.row_ids():
            for attempt in journal.attempts_for_row(row_id):
                out += [e for e in journal.events(attempt) if e.kind in RECEIPT_KINDS]
        return out


@contextmanager
def imap(sb: Sandbox):
    """An IMAP session on the sender's mailbox (used to put messages in folders by hand)."""
    client = IMAPClient(sb.connection["imap_host"], port=sb.connection["imap_port"], ssl=True,
                        ssl_context=sb.ssl_context(), timeout=10)
    client.login(sb.sender, sb.password)
    try:
        yield client
    finally:
        client.logout()


def new_folder(sb: Sandbox, prefix: str = "Ricevute") -> str:
    name = f"{prefix}{next(_serial)}"
    with imap(sb) as client:
        client.create_folder(name)
    return name


def append(sb: Sandbox, folder: str, messages: list[bytes]) -> None:
    with imap(sb) as client:
        for raw in messages:
            client.append(folder, raw)


def header(raw: bytes, name: str) -> str:
    msg = email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", policy=email.policy.compat32)
    return str(msg.get(name, "")).strip()


def receipts_for(sb: Sandbox, message_id: str) -> list[bytes]:
    """The receipts (X-Ricevuta) in the sender's INBOX quoting `message_id`, arrival order."""
    return [raw for raw in sb.mailbox_messages(sb.sender)
            if header(raw, "X-Riferimento-Message-ID") == message_id and header(raw, "X-Ricevuta")]


def kinds(receipts: list[bytes]) -> list[str]:
    return [header(raw, "X-Ricevuta") for raw in receipts]


def wait_for(sb: Sandbox, predicate, timeout: float = 15) -> None:
    assert sb.wait_until(predicate, timeout=timeout), "the sandbox did not produce what was expected in time"
