"""Every outcome the sandbox produces ends in the right result columns, archive and report (issue 5).

One campaign covers every recipient rule of the sandbox; it is sent and its receipts read once
(module fixture), then each test looks at one product of that run.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from pecmass_xl.journal.archive import EVIDENCE_PAGE, MANIFEST, verify_manifest
from pecmass_xl.sandbox import Sandbox
from pecmass_xl.workbook import contract as c

from .conftest import (
    FAST,
    VIRUS_MARKER,
    header,
    journal_of,
    kinds,
    make_campaign,
    receipts_for,
    run,
    sheet_cells,
    sheet_rows,
    unique,
)

# (recipient, Stato invio, Esito, Firma, words expected in Dettaglio)
EXPECTED = [
    (unique("anna"), "Consegnato", "Consegnata", "verificata", ""),
    (unique("piena.sara"), "Mancata consegna", "Casella piena", "verificata", "5.2.2 - casella piena"),
    (unique("inesistente.paolo"), "Mancata consegna", "Indirizzo inesistente", "verificata",
     "5.1.1 - Gestore PEC sandbox - utente inesistente"),
    (unique("aruba-inesistente.marta"), "Mancata consegna", "Indirizzo inesistente", "verificata",
     "5.1.1 - Gestore PEC sandbox - indirizzo non valido"),
    (unique("ufficio", "nodominio.pec.test"), "Mancata consegna", "Dominio inesistente", "verificata",
     "5.1.2 - Gestore PEC sandbox - dominio inesistente"),
    (unique("giorgio", "posta-ordinaria.example"), "Accettato (non PEC)", "Destinatario non PEC", "verificata", ""),
    (unique("rimbalzo.irene", "posta-ordinaria.example"), "Mancata consegna", "Indirizzo inesistente", "assente",
     "550 5.1.1"),
    (unique("lenta.matteo"), "Consegnato", "Consegnata", "verificata", ""),
    (unique("nadia"), "Non accettato", "Virus", "verificata", "PECMASS-SANDBOX-VIRUS"),
    (unique("silenzio.oscar"), "Mancata consegna", "Tempo scaduto", "verificata", "5.4.1"),
]
VIRUS_ROW = 8
SILENT_ROW = 9
# Receipts each row's attempt gets in the sender's mailbox (the bounce is an anomaly envelope).
RECEIPT_KINDS = {
    0: ["accettazione", "avvenuta-consegna"],
    1: ["accettazione", "errore-consegna"],
    2: ["accettazione", "errore-consegna"],
    3: ["accettazione", "errore-consegna"],
    4: ["accettazione", "errore-consegna"],
    5: ["accettazione"],
    6: ["accettazione"],
    7: ["accettazione", "avvenuta-consegna"],
    8: ["non-accettazione"],
    9: ["accettazione", "preavviso-errore-consegna", "preavviso-errore-consegna"],
}


@dataclass
class Campaign:
    path: Path
    data_dir: Path
    sandbox_dir: Path
    send_json: dict
    receipts_json: dict
    receipts_exit: int


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Campaign:
    folder = tmp_path_factory.mktemp("esiti")
    data_dir = folder / "dati"
    sandbox_dir = folder / "sandbox"
    mp = pytest.MonkeyPatch()
    mp.setenv("PECMASS_DATA_DIR", str(data_dir))
    mp.setenv("PECMASS_SANDBOX_DIR", str(sandbox_dir))
    try:
        with Sandbox.start(sandbox_dir, time_scale=FAST) as sb:
            (folder / "virus.txt").write_bytes(b"file di prova " + VIRUS_MARKER + b"\n")
            path = make_campaign(folder, [row[0] for row in EXPECTED],
                                 names=[f"Persona {i}" for i in range(len(EXPECTED))],
                                 attachments={VIRUS_ROW: "virus.txt"})
            send_exit, send_json = run_json("send", path, "--yes", "--json")
            assert send_exit in (0, 1), send_json
            # Every receipt is in the mailbox once the final timeout notice of the silent row is.
            message_ids = _message_ids(path)
            silent_id = message_ids[SILENT_ROW]
            assert sb.wait_until(lambda: kinds(receipts_for(sb, silent_id)).count("preavviso-errore-consegna") == 2,
                                 timeout=20)
            assert sb.wait_until(lambda: any(b"X-Trasporto: errore" in raw for raw in sb.mailbox_messages(sb.sender)),
                                 timeout=20)
            sb.wait_idle(10)
            receipts_exit, receipts_json = run_json("receipts", path, "--json")
            yield Campaign(path, data_dir, sandbox_dir, send_json, receipts_json, receipts_exit)
    finally:
        mp.undo()


@pytest.fixture
def done(campaign, monkeypatch) -> Campaign:
    monkeypatch.setenv("PECMASS_DATA_DIR", str(campaign.data_dir))
    monkeypatch.setenv("PECMASS_SANDBOX_DIR", str(campaign.sandbox_dir))
    return campaign


def run_json(*args) -> tuple[int, dict]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = run(*args)
    return code, json.loads(buffer.getvalue())


def _message_ids(path: Path) -> list[str]:
    with journal_of(path) as journal:
        views = journal.row_views()
        by_number = {v.row_number: v.attempt.message_id for v in views.values() if v.attempt}
    return [by_number[number] for number in sorted(by_number)]


def test_each_receipt_type_and_cause_ends_in_the_right_columns(done):
    rows = sheet_rows(done.path)
    assert len(rows) == len(EXPECTED)
    for row, (address, stato, esito, firma, words) in zip(rows, EXPECTED, strict=False):
        assert row["PEC"] == address
        assert (row[c.COL_STATUS], row[c.COL_OUTCOME], row[c.COL_SIGNATURE]) == (stato, esito, firma), address
        assert words in (row[c.COL_DETAIL] or ""), (address, row[c.COL_DETAIL])
        assert row[c.COL_SENT_AT] is not None
        if stato != "Non accettato":
            assert row[c.COL_ACCEPTED_AT] is not None
        if stato == "Consegnato":
            assert row[c.COL_DELIVERED_AT] is not None and row[c.COL_DELIVERED_AT] >= row[c.COL_ACCEPTED_AT]
        else:
            assert row[c.COL_DELIVERED_AT] is None
    assert done.receipts_json["counts"] == {"Consegnato": 2, "Mancata consegna": 6, "Accettato (non PEC)": 1,
                                            "Non accettato": 1}
    # The ordinary address's bounce window (2 hours on the sandbox's clock, 100,000 times faster) is
    # over by the time the final timeout notice came: nothing is pending any more.
    assert done.receipts_json["pending"] == 0
    # The failures are the command's anomalies (exit 1 = done, with failed rows).
    assert done.receipts_exit == 1
    anomalous = {a["status"]: a["failure"] for a in done.receipts_json["anomalies"]}
    assert anomalous == {"Mancata consegna": True, "Non accettato": True, "Accettato (non PEC)": False}


def test_the_archive_holds_the_sent_message_and_every_receipt_as_received(done):
    rows = sheet_rows(done.path)
    archive = done.path.parent / "campagna - archivio PEC"
    sender = Sandbox.sender
    with journal_of(done.path) as journal:
        views = journal.row_views()
        for index, row in enumerate(rows):
            view = views[row[c.COL_ID]]
            folder = archive / row[c.COL_ID]
            assert verify_manifest(folder) == []
            # The evidence page is derived from the files (and lists their SHA-256): not in the manifest.
            files = sorted(p.name for p in folder.iterdir() if p.name not in (MANIFEST, EVIDENCE_PAGE))
            listed = sorted(line.split("  ", 1)[1] for line in (folder / MANIFEST).read_text("utf-8").splitlines())
            assert files == listed, "every file of the folder is in the manifest, once"
            sent = (folder / "inviato-1.eml").read_bytes()
            assert view.attempt.message_id.encode() in sent
            receipts = [p for p in folder.glob("*.eml") if p.name != "inviato-1.eml"]
            expected = RECEIPT_KINDS[index] + (["anomalia"] if index == 6 else [])
            assert len(receipts) == len(expected), (index, [p.name for p in receipts])
            # Each archived receipt is byte for byte a message of the sender's mailbox.
            mailbox = set(_sandbox_messages(done, sender))
            for path in receipts:
                assert path.read_bytes() in mailbox
            names = " ".join(p.name for p in receipts)
            for kind in set(RECEIPT_KINDS[index]):
                event = {"preavviso-errore-consegna": "preavviso"}.get(kind, kind)
                if index == 5 and kind == "accettazione" or index == 6 and kind == "accettazione":
                    event = "accettazione-esterno"
                assert f"-{event}" in names, (index, names)


def _sandbox_messages(done: Campaign, address: str) -> list[bytes]:
    from pecmass_xl.sandbox.store import read_mailbox

    return read_mailbox(done.sandbox_dir.resolve(), address)


def test_the_receipts_column_links_each_row_to_its_evidence_page_relative_to_the_workbook(done):
    ids = [row[c.COL_ID] for row in sheet_rows(done.path)]
    for row_id, cell in zip(ids, sheet_cells(done.path, c.COL_RECEIPTS), strict=False):
        assert cell.data_type == "f"
        match = re.fullmatch(r'=HYPERLINK\("(.+)","Apri ricevute"\)', cell.value)
        assert match, cell.value
        # Same drive: relative, so the workbook and its archive can move together.
        assert Path(match.group(1)) == Path("campagna - archivio PEC") / row_id / EVIDENCE_PAGE
        assert (done.path.parent / match.group(1)).is_file()


def test_the_report_lists_anomalies_first_with_hashes_of_the_archived_files(done, capsys):
    out = done.path.parent / "report.csv"
    assert run("report", done.path, "-o", out) == 0
    printed = capsys.readouterr().out
    assert "10 righe" in printed and "8 anomalie" in printed
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data[3:].decode("utf-8")), delimiter=";"))
    head, body = lines[0], lines[1:]
    assert head[:5] == ["Riga", "PEC", "Nome", "N", "Allegati"]
    col = {name: i for i, name in enumerate(head)}
    for name in (c.COL_ID, c.COL_STATUS, c.COL_OUTCOME, c.COL_DETAIL, c.COL_SIGNATURE, "Anomalia", "Message-ID",
                 "Identificativo gestore", "SHA-256 inviato", "Ricevute archiviate", "SHA-256 ricevute"):
        assert name in col, name
    assert len(body) == len(EXPECTED)
    flags = [bool(line[col["Anomalia"]]) for line in body]
    assert flags == sorted(flags, reverse=True), "anomalies first"
    assert sum(flags) == 8  # 6 not delivered, 1 not accepted, 1 non-PEC recipient
    by_address = {line[col["PEC"]]: line for line in body}
    for address, stato, esito, firma, _words in EXPECTED:
        line = by_address[address]
        assert (line[col[c.COL_STATUS]], line[col[c.COL_OUTCOME]], line[col[c.COL_SIGNATURE]]) == (stato, esito, firma)
        assert re.fullmatch(r"[0-9a-f]{64}", line[col["SHA-256 inviato"]])
        names = line[col["Ricevute archiviate"]].split(" | ")
        hashes = line[col["SHA-256 ricevute"]].split(" | ")
        assert len(names) == len(hashes) and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
        assert line[col["Message-ID"]].startswith("<pecmass.")
        if stato != "Non accettato":
            assert line[col["Identificativo gestore"]]
    # Dates are Italian: dd/mm/yyyy hh:mm:ss.
    delivered = by_address[EXPECTED[0][0]][col[c.COL_DELIVERED_AT]]
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", delivered)


def test_the_report_can_use_commas(done, capsys):
    out = done.path.parent / "report-virgole.csv"
    assert run("report", done.path, "-o", out, "--delimiter", ",") == 0
    text = out.read_bytes()[3:].decode("utf-8")
    lines = list(csv.reader(io.StringIO(text), delimiter=","))
    assert lines[0][:3] == ["Riga", "PEC", "Nome"] and len(lines) == len(EXPECTED) + 1
    assert all(len(line) == len(lines[0]) for line in lines)


def test_a_second_sync_with_nothing_new_records_nothing(done, capsys):
    before = _receipt_event_count(done)
    assert run("receipts", done.path, "--json") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["recorded"] == 0
    assert _receipt_event_count(done) == before


def _receipt_event_count(done: Campaign) -> int:
    from .conftest import receipt_events

    return len(receipt_events(done.path))


def test_bounce_is_matched_by_the_quoted_message_id(done):
    rows = sheet_rows(done.path)
    bounce = [raw for raw in _sandbox_messages(done, Sandbox.sender) if header(raw, "X-Trasporto") == "errore"]
    assert bounce, "the sandbox wrapped the bounce in an anomaly envelope"
    assert rows[6][c.COL_STATUS] == "Mancata consegna" and rows[6][c.COL_SIGNATURE] == "assente"


def test_riepilogo_counts_the_outcomes_with_a_chart_and_the_last_sync(done):
    from openpyxl import load_workbook

    wb = load_workbook(done.path)
    ws = wb[c.SHEET_SUMMARY]
    cells = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, ws.max_row + 1)}
    assert cells["Consegnato"] == 2 and cells["Mancata consegna"] == 6
    assert cells["Accettato (non PEC)"] == 1 and cells["Non accettato"] == 1 and cells["Totale"] == 10
    assert cells["Campagna"] == _campaign(done)
    assert cells["Ultimo aggiornamento ricevute"] != "mai"
    assert ws._charts, "a chart of the rows per status"


def _campaign(done: Campaign) -> str:
    from .conftest import campaign_of

    return campaign_of(done.path)
