"""Receipts you can defend (issue 12): the trust order, identity from signed content, the final
timeout without the local clock, bounces only on non-PEC rows. Every message here is put into the
receipts folder by hand over IMAP, as anyone who can write to a PEC mailbox could; the sync reads
only that folder, so each test decides exactly what the row has seen."""

from __future__ import annotations

import csv
import time

from pecmass_xl.journal import proofs
from pecmass_xl.workbook import contract as c

from . import forge
from .conftest import append, journal_of, make_campaign, new_folder, receipts_for, run, sheet_rows, unique
from .test_forged import FAST_SEND, run_json

HOUR = 3600.0


def quiet_campaign(sb, tmp_path, recipients, name="campagna.xlsx"):
    """Sent through the sandbox, but the sync reads only a fresh folder: (path, folder, Message-IDs)."""
    folder = new_folder(sb)
    path = make_campaign(tmp_path, recipients, name=name, settings={c.SET_RECEIPT_FOLDERS: folder})
    assert run("send", path, "--yes", *FAST_SEND) in (0, 1)
    with journal_of(path) as journal:
        ids = [journal.latest_attempt(r[c.COL_ID]).message_id for r in sheet_rows(path)]
    for message_id in ids:
        assert sb.wait_until(lambda: len(receipts_for(sb, message_id)) >= 1)
    return path, folder, ids


def row(path, index=0) -> tuple:
    r = sheet_rows(path)[index]
    return r[c.COL_STATUS], r[c.COL_SIGNATURE], r[c.COL_OUTCOME]


def report_anomalies(path, tmp_path) -> dict[str, str]:
    out = tmp_path / "report.csv"
    assert run("report", path, "-o", out) == 0
    lines = list(csv.reader(out.read_text("utf-8-sig").splitlines(), delimiter=";"))
    col = {name: i for i, name in enumerate(lines[0])}
    return {line[col[c.COL_ID]]: line[col["Anomalia"]] for line in lines[1:] if line[col[c.COL_ID]]}


def anomalies(doc) -> dict[str, str]:
    return {a["id"]: a["reason"] for a in doc["anomalies"]}


# --- rule 1: a verified final outcome is never replaced by an unverified message ----------------

def test_forged_deliveries_never_overrule_a_verified_failure(sb, tmp_path):
    recipients = [unique("inesistente.t") for _ in range(4)]
    folder = new_folder(sb)
    path = make_campaign(tmp_path, recipients, settings={c.SET_RECEIPT_FOLDERS: f"INBOX; {folder}"})
    assert run("send", path, "--yes", *FAST_SEND) in (0, 1)
    with journal_of(path) as journal:
        ids = [journal.latest_attempt(r[c.COL_ID]).message_id for r in sheet_rows(path)]
    for message_id in ids:
        assert sb.wait_until(lambda: len(receipts_for(sb, message_id)) >= 2)
    sb.wait_idle(10)
    run_json("receipts", path, "--json")
    assert [row(path, i) for i in range(4)] == [("Mancata consegna", "verificata", "Indirizzo inesistente")] * 4
    genuine = forge.provider_builder(sb.directory)
    later = sb.now().timestamp() + 60
    other_campaign = forge.delivered(genuine, forge.submission("<altra.campagna@pec.sandbox.test>", recipients[3]), later)
    append(sb, folder, [
        forge.strip_signature(forge.delivered(genuine, forge.submission(ids[0], recipients[0]), later)),
        forge.delivered(forge.tls_key_builder(sb.directory), forge.submission(ids[1], recipients[1]), later),
        forge.delivered(forge.foreign_ca_builder(), forge.submission(ids[2], recipients[2]), later),
        # a genuine receipt of another campaign, its unsigned X-Riferimento-Message-ID rewritten
        other_campaign.replace(b"<altra.campagna@pec.sandbox.test>\r\n", ids[3].encode() + b"\r\n", 1),
    ])
    code, doc = run_json("receipts", path, "--json")
    assert doc["recorded"] == 4, "the forgeries are kept in the journal"
    assert [row(path, i) for i in range(4)] == [("Mancata consegna", "verificata", "Indirizzo inesistente")] * 4
    rows = sheet_rows(path)
    listed = anomalies(doc)
    on_report = report_anomalies(path, tmp_path)
    for r in rows:
        assert "ricevuta non verificata: ignorata" in listed[r[c.COL_ID]]
        assert "ricevuta non verificata: ignorata" in on_report[r[c.COL_ID]]
    assert code == 1


def test_an_unverified_receipt_may_advance_a_row_without_a_verified_outcome(sb, tmp_path):
    recipients = [unique("lontano")]
    path, folder, ids = quiet_campaign(sb, tmp_path, recipients)
    genuine = forge.provider_builder(sb.directory)
    sub = forge.submission(ids[0], recipients[0])
    when = sb.now().timestamp()
    append(sb, folder, [forge.accepted(genuine, sub, when)])
    run_json("receipts", path, "--json")
    assert row(path) == ("Accettato", "verificata", None)
    # A provider whose chain we cannot verify: the delivery counts, flagged.
    unverifiable = forge.delivered(forge.foreign_ca_builder(), sub, when + 5)
    append(sb, folder, [unverifiable])
    code, doc = run_json("receipts", path, "--json")
    assert row(path) == ("Consegnato", "non verificata", "Consegnata")
    assert anomalies(doc)[sheet_rows(path)[0][c.COL_ID]] == "Firma non verificata"
    assert report_anomalies(path, tmp_path)[sheet_rows(path)[0][c.COL_ID]] == "Firma non verificata"
    # Then the verified failure arrives: it wins, and the unverified delivery is listed as ignored.
    append(sb, folder, [forge.not_delivered(genuine, sub, "5.1.1 - utente inesistente", when + 10)])
    code, doc = run_json("receipts", path, "--json")
    assert row(path) == ("Mancata consegna", "verificata", "Indirizzo inesistente")
    assert "ricevuta non verificata: ignorata" in anomalies(doc)[sheet_rows(path)[0][c.COL_ID]]


# --- rule 2: identity from what is signed; the final timeout without the local clock ----------

def test_a_replayed_12_hour_notice_is_the_same_notice(sb, tmp_path):
    recipients = [unique("lento.replay")]
    path, folder, ids = quiet_campaign(sb, tmp_path, recipients)
    genuine = forge.provider_builder(sb.directory)
    sub = forge.submission(ids[0], recipients[0])
    t0 = sb.now().timestamp()
    warning = forge.timeout_notice(genuine, sub, t0 + 12 * HOUR)
    append(sb, folder, [forge.accepted(genuine, sub, t0), warning, forge.replayed(warning), forge.replayed(warning)])
    code, doc = run_json("receipts", path, "--json")
    assert doc["recorded"] == 2 and doc["duplicates"] == 2, "the replays count once"
    assert row(path) == ("Ritardo", "verificata", None)
    assert report_anomalies(path, tmp_path)[sheet_rows(path)[0][c.COL_ID]] == "Ritardo"
    # The genuine second notice (distinct signed date) ends the row.
    append(sb, folder, [forge.timeout_notice(genuine, sub, t0 + 24 * HOUR, final=True)])
    run_json("receipts", path, "--json")
    assert row(path) == ("Mancata consegna", "verificata", "Tempo scaduto")


def test_the_final_timeout_needs_signed_evidence(sb, tmp_path):
    recipients = [unique("lento.a"), unique("lento.b"), unique("lento.c"), unique("lento.d")]
    path, folder, ids = quiet_campaign(sb, tmp_path, recipients)
    genuine = forge.provider_builder(sb.directory)
    subs = [forge.submission(ids[i], recipients[i]) for i in range(4)]
    t0 = sb.now().timestamp()
    append(sb, folder, [forge.accepted(genuine, s, t0) for s in subs] + [
        # 0: signed 23 h after the signed acceptance: final
        forge.timeout_notice(genuine, subs[0], t0 + 23 * HOUR),
        # 1: signed 21 h after: still the warning, whatever our clock says
        forge.timeout_notice(genuine, subs[1], t0 + 21 * HOUR),
        # 2: a second notice, but unsigned: not a second verified notice
        forge.timeout_notice(genuine, subs[2], t0 + 12 * HOUR),
        forge.strip_signature(forge.timeout_notice(genuine, subs[2], t0 + 13 * HOUR)),
        # 3: a 5.4.1 notice whose signature is not the provider's: final only as an unverified outcome
        forge.timeout_notice(forge.tls_key_builder(sb.directory), subs[3], t0 + 12 * HOUR, final=True),
    ])
    run_json("receipts", path, "--json")
    assert row(path, 0) == ("Mancata consegna", "verificata", "Tempo scaduto")
    assert row(path, 1) == ("Ritardo", "verificata", None)
    assert row(path, 2)[0] == "Ritardo"
    assert row(path, 3) == ("Mancata consegna", "non verificata", "Tempo scaduto")
    # ... which the verified delivery that follows replaces.
    append(sb, folder, [forge.delivered(genuine, subs[3], t0 + 13 * HOUR)])
    code, doc = run_json("receipts", path, "--json")
    assert row(path, 3) == ("Consegnato", "verificata", "Consegnata")
    assert "ricevuta non verificata: ignorata" in anomalies(doc)[sheet_rows(path)[3][c.COL_ID]]
    on_report = report_anomalies(path, tmp_path)
    ids_ = [r[c.COL_ID] for r in sheet_rows(path)]
    assert on_report[ids_[0]] == "Mancata consegna" and on_report[ids_[1]] == "Ritardo"
    assert on_report[ids_[2]] == "Ritardo; Firma non verificata"
    assert on_report[ids_[3]] == "ricevuta non verificata: ignorata"


def test_a_daticert_without_msgid_counts_as_unverified(sb, tmp_path):
    recipients = [unique("senza.msgid")]
    path, folder, ids = quiet_campaign(sb, tmp_path, recipients)
    sub = forge.submission(ids[0], recipients[0])
    no_msgid = forge.without_signed_msgid(sb.directory)
    t0 = sb.now().timestamp()
    append(sb, folder, [forge.accepted(forge.provider_builder(sb.directory), sub, t0),
                        forge.delivered(no_msgid, sub, t0 + 5)])
    code, doc = run_json("receipts", path, "--json")
    assert row(path) == ("Consegnato", "non verificata", "Consegnata")
    assert anomalies(doc)[sheet_rows(path)[0][c.COL_ID]] == "Firma non verificata"
    assert report_anomalies(path, tmp_path)[sheet_rows(path)[0][c.COL_ID]] == "Firma non verificata"


# --- rule 3: bounces change only `Accettato (non PEC)` rows --------------------------------------

def test_a_forged_bounce_never_ends_a_certified_row(sb, tmp_path):
    recipients = [unique("attesa.pec"), unique("esterno", domain="posta.example.com")]
    path, folder, ids = quiet_campaign(sb, tmp_path, recipients)
    genuine = forge.provider_builder(sb.directory)
    subs = [forge.submission(ids[i], recipients[i]) for i in range(2)]
    t0 = sb.now().timestamp()
    append(sb, folder, [forge.accepted(genuine, subs[0], t0), forge.accepted(genuine, subs[1], t0, external=True)])
    run_json("receipts", path, "--json")
    assert row(path, 0) == ("Accettato", "verificata", None)
    assert row(path, 1) == ("Accettato (non PEC)", "verificata", "Destinatario non PEC")
    append(sb, folder, [forge.forged_bounce(genuine, ids[0], recipients[0], t0 + 60),
                        forge.forged_bounce(genuine, ids[1], recipients[1], t0 + 60)])
    code, doc = run_json("receipts", path, "--json")
    rows = sheet_rows(path)
    # The certified row waits for its delivery receipt; the bounce is only an anomaly line.
    assert row(path, 0) == ("Accettato", "verificata", None)
    assert "Recipient address rejected" not in (rows[0][c.COL_DETAIL] or "")
    assert "busta di anomalia ignorata" in anomalies(doc)[rows[0][c.COL_ID]]
    assert "busta di anomalia ignorata" in report_anomalies(path, tmp_path)[rows[0][c.COL_ID]]
    # The documented exception: a non-PEC row does bounce.
    assert row(path, 1) == ("Mancata consegna", "assente", "Indirizzo inesistente")
    # And the certified row still ends with its verified receipt.
    append(sb, folder, [forge.delivered(genuine, subs[0], t0 + 120)])
    run_json("receipts", path, "--json")
    assert row(path, 0) == ("Consegnato", "verificata", "Consegnata")


# --- rule 5: proof of content ------------------------------------------------------------------

def test_content_proof_of_completa_delivery_receipts(sb, tmp_path):
    recipients = [unique("prova.uguale"), unique("prova.diversa")]
    path, folder, ids = quiet_campaign(sb, tmp_path, recipients)
    genuine = forge.provider_builder(sb.directory)
    with journal_of(path) as journal:
        sent = [open(journal.attempt_by_message_id(i).eml_path, "rb").read() for i in ids]
    subs = [forge.submission(ids[i], recipients[i]) for i in range(2)]
    altered = sent[1].replace(b"comunicazione n. 2", b"comunicazione n. 9")
    assert altered != sent[1]
    t0 = sb.now().timestamp()
    append(sb, folder, [forge.accepted(genuine, subs[0], t0), forge.accepted(genuine, subs[1], t0),
                        forge.delivered_with_content(genuine, subs[0], sent[0], t0 + 5),
                        forge.delivered_with_content(genuine, subs[1], altered, t0 + 5)])
    run_json("receipts", path, "--json")
    rows = sheet_rows(path)
    assert rows[0][c.COL_DETAIL] == "Contenuto consegnato identico all'inviato"
    assert rows[1][c.COL_DETAIL] == "Contenuto consegnato DIVERSO dall'inviato: testo"
    with journal_of(path) as journal:
        assert proofs.verdict(journal, ids[0]) == "identico"
        assert proofs.verdict(journal, ids[1]) == "diverso: testo"
    out = tmp_path / "proof.csv"
    run("report", path, "-o", out)
    lines = list(csv.reader(out.read_text("utf-8-sig").splitlines(), delimiter=";"))
    col = {name: i for i, name in enumerate(lines[0])}
    by_id = {line[col[c.COL_ID]]: line for line in lines[1:]}
    assert by_id[rows[0][c.COL_ID]][col["Prova del contenuto"]] == "identico"
    assert by_id[rows[1][c.COL_ID]][col["Prova del contenuto"]] == "diverso: testo"


def test_the_sandbox_completa_receipt_proves_the_content(sb, tmp_path):
    recipients = [unique("vero")]
    folder = new_folder(sb)
    path = make_campaign(tmp_path, recipients, settings={c.SET_RECEIPT_FOLDERS: f"INBOX; {folder}"})
    assert run("send", path, "--yes", *FAST_SEND) == 0
    with journal_of(path) as journal:
        message_id = journal.latest_attempt(sheet_rows(path)[0][c.COL_ID]).message_id
    assert sb.wait_until(lambda: len(receipts_for(sb, message_id)) >= 2)
    time.sleep(0.2)
    run_json("receipts", path, "--json")
    assert row(path) == ("Consegnato", "verificata", "Consegnata")
    assert sheet_rows(path)[0][c.COL_DETAIL] == "Contenuto consegnato identico all'inviato"


# --- rule 4: no silent loss ----------------------------------------------------------------------

def test_a_receipt_the_parser_trips_on_is_quarantined_reported_and_read_again(sb, tmp_path, monkeypatch):
    import json

    import pecmass_xl.receipts.parse as parse_module

    recipients = [unique("quarantena")]
    path, folder, ids = quiet_campaign(sb, tmp_path, recipients)
    assert sb.wait_until(lambda: len(receipts_for(sb, ids[0])) >= 2)
    genuine_parse = parse_module._parse

    def tripping(raw):
        if b"X-Ricevuta: avvenuta-consegna" in raw:
            raise RuntimeError("parser guasto")
        return genuine_parse(raw)

    monkeypatch.setattr(parse_module, "_parse", tripping)
    append(sb, folder, receipts_for(sb, ids[0]))
    code, doc = run_json("receipts", path, "--json")
    assert (doc["recorded"], doc["quarantined"], doc["unreadable"]) == (1, 1, 1)
    assert code == 1
    assert anomalies(doc)[sheet_rows(path)[0][c.COL_ID]] == "ricevuta illeggibile in quarantena"
    assert row(path) == ("Accettato", "verificata", None), "the delivery is not lost, only waiting"
    quarantine_dir = tmp_path / "campagna - archivio PEC" / "quarantena"
    kept = list(quarantine_dir.glob("*.eml"))
    assert len(kept) == 1 and b"X-Ricevuta: avvenuta-consegna" in kept[0].read_bytes()
    meta = json.loads(kept[0].with_suffix(".json").read_text("utf-8"))
    assert meta["motivo"] == "messaggio illeggibile (RuntimeError: parser guasto)"
    assert meta["riga"] == sheet_rows(path)[0][c.COL_ID]
    # The report counts it on its first line and names it on the row.
    out = tmp_path / "q.csv"
    assert run("report", path, "-o", out) == 0
    lines = list(csv.reader(out.read_text("utf-8-sig").splitlines(), delimiter=";"))
    col = {name: i for i, name in enumerate(lines[0])}
    assert lines[1][col["Anomalia"]].startswith("Ricevute illeggibili: 1")
    assert "ricevuta illeggibile in quarantena" in lines[2][col["Anomalia"]]
    # The cursor moved on, but the next run reads the quarantine again (an upgrade recovers it).
    monkeypatch.setattr(parse_module, "_parse", genuine_parse)
    code, doc = run_json("receipts", path, "--json")
    assert (doc["recovered"], doc["unreadable"], doc["scanned"]) == (1, 0, 0)
    assert row(path) == ("Consegnato", "verificata", "Consegnata")
    assert list(quarantine_dir.glob("*.eml")) == []
    assert len(list((quarantine_dir / "riletti").glob("*.eml"))) == 1
    assert run("report", path, "-o", out) == 0
    lines = list(csv.reader(out.read_text("utf-8-sig").splitlines(), delimiter=";"))
    assert not any("illeggibil" in cell for line in lines for cell in line)
