"""Receipts sync at scale: 10,000 signed receipts in the sandbox mailbox, read by `pecmass receipts`.

    /work/venv/bin/python benchmarks/bench_receipts.py [--receipts 10000] [--json] [--keep DIR]

Setup (not timed): a campaign journal with one attempt per row (receipts/2 rows) and a Sandbox
workbook naming it; for each attempt an acceptance and a delivery receipt ("completa", the original
message attached), built and signed by the sandbox's own builder and key in a process pool, and
written straight into the sandbox store. The sandbox then serves them over IMAP (TLS) from its own
process, as a remote provider would.

Measured:
- full sync (download, parse, match, verify, archive, journal), with a breakdown by stage;
- the same sync with signature verification switched off (parsed and matched only);
- in memory, no I/O: receipts/s parsed and matched, and parsed, matched and verified (chain memoised);
- a second sync with nothing new, and the whole `pecmass receipts` command for it (workbook included);
- the evidence pages (`prova.html`): the first build for every row, then a run with nothing new;
- resident memory sampled at every batch (flat = the last batch costs what the first did), and the peak.
Figures go to /work/notes/readme-receipts.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

SERVICE_BODY = ("Gentile destinatario,\r\nle trasmettiamo la comunicazione in oggetto.\r\n" * 30)


def rss_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


# --- building the mailbox (worker processes) ------------------------------------------------------

_builder = None


def _init_builder(sandbox_dir: str) -> None:
    global _builder
    from pecmass_xl.sandbox import certs, rules
    from pecmass_xl.sandbox.receipts_builder import ReceiptBuilder
    from pecmass_xl.sandbox.signing import Signer

    pki = certs.load_or_create(Path(sandbox_dir))
    _builder = ReceiptBuilder(Signer(pki.signer_cert, pki.signer_key), rules.SERVICE_ADDRESS)


def _build_pair(args: tuple[int, str, str, float]) -> tuple[bytes, bytes]:
    from pecmass_xl.sandbox import rules
    from pecmass_xl.sandbox.provider import moment
    from pecmass_xl.sandbox.receipts_builder import Submission, postacert

    index, message_id, recipient, when = args
    identificativo = f"opec-bench.{index:08d}@pec.sandbox.test"
    sub = Submission(identificativo=identificativo, client_msgid=message_id, sender=rules.SENDER,
                     subject=f"Comunicazione {index}", reply_to="", to=[recipient], cc=[],
                     recipients=[(recipient, "certificato")], tipo_ricevuta="completa", to_header=recipient,
                     cc_header="", accepted_at=when)
    original = (f"From: {rules.SENDER}\r\nTo: {recipient}\r\nSubject: Comunicazione {index}\r\n"
                f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                + SERVICE_BODY).encode()
    carried = postacert(original, identificativo, message_id, "from pecmass by smtps.pec.sandbox.test")
    accepted = _builder.accettazione(sub, f"<acc.{index:08d}@pec.sandbox.test>", moment(when))
    delivered = _builder.avvenuta_consegna(sub, f"<cons.{index:08d}@pec.sandbox.test>", moment(when + 2),
                                           recipient, "completa", carried)
    return accepted, delivered


def build_campaign(folder: Path, sandbox_dir: Path, rows: int) -> tuple[Path, str, list[str]]:
    """A Sandbox workbook and its journal: one committed attempt per row. Returns (workbook, campaign, ids)."""
    from pecmass_xl.campaign.new_workbook import build_new_workbook
    from pecmass_xl.journal import Journal, new_campaign_id
    from pecmass_xl.workbook import contract as c
    from pecmass_xl.workbook.write import atomic_save

    campaign = new_campaign_id()
    message_ids = []
    with Journal.for_campaign(campaign) as journal:
        row_ids = journal.new_row_ids(rows)
        with journal.batch(durable=True):
            journal.add_rows((row_id, f"destinatario{n:06d}@bench.pec.test", n + 2) for n, row_id in enumerate(row_ids))
            for n, row_id in enumerate(row_ids):
                attempt = journal.begin_attempt(row_id, content_hash=f"{n:064x}",
                                                recipient=f"destinatario{n:06d}@bench.pec.test",
                                                domain="pec.sandbox.test")
                message_ids.append(attempt.message_id)
    wb = build_new_workbook(campaign)
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(["PEC", "Nome"] + list(c.RESULT_COLUMNS))
    for n, row_id in enumerate(row_ids):
        ws.append([f"destinatario{n:06d}@bench.pec.test", f"Persona {n}", row_id])
    path = folder / "bench.xlsx"
    atomic_save(wb, path)
    return path, campaign, message_ids


def fill_mailbox(sandbox_dir: Path, message_ids: list[str], processes: int) -> tuple[int, float]:
    from pecmass_xl.sandbox import certs, rules
    from pecmass_xl.sandbox.store import Store

    certs.load_or_create(sandbox_dir)
    now = time.time()
    work = [(n, mid, f"destinatario{n:06d}@bench.pec.test", now + n) for n, mid in enumerate(message_ids)]
    with concurrent.futures.ProcessPoolExecutor(processes, initializer=_init_builder,
                                                initargs=(str(sandbox_dir),)) as pool:
        pairs = list(pool.map(_build_pair, work, chunksize=64))
    store = Store(sandbox_dir)
    size = 0
    try:
        with store.transaction():
            for accepted, delivered in pairs:
                store.append(rules.SENDER, accepted)
                store.append(rules.SENDER, delivered)
                size += len(accepted) + len(delivered)
    finally:
        store.close()
    return 2 * len(pairs), size / len(pairs) / 2


def start_sandbox(directory: Path) -> tuple[subprocess.Popen, dict]:
    command = [sys.executable, "-m", "pecmass_xl", "sandbox", "--dir", str(directory), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        process.wait(10)
        raise SystemExit("the sandbox did not start")
    return process, json.loads(line)


# --- instrumentation -------------------------------------------------------------------------------


class Stages:
    """Wall time per stage of the sync, and resident memory at each batch."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.memory: list[tuple[int, float]] = []  # (receipts done, RSS MB) at each batch
        self.done = 0
        self._undo: list = []

    def wrap(self, owner, name: str, stage: str, on_call=None) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            if on_call:
                on_call(args)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start
                self.calls[stage] += 1
        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def install(self, verify: bool = True) -> None:
        from pecmass_xl.core.vocabulary import FIRMA_NON_VERIFICATA
        from pecmass_xl.journal import archive
        from pecmass_xl.mailclient.imap_session import ImapSession
        from pecmass_xl.receipts.signature import SignatureResult, SignatureVerifier
        from pecmass_xl.tracking import ingest, sync

        def batch_started(args) -> None:
            self.memory.append((self.done, rss_mb()))
            self.done += len(args[1])

        for name in ("examine", "uids_from", "fetch_headers", "fetch_raw"):
            self.wrap(ImapSession, name, "imap", batch_started if name == "fetch_headers" else None)
        self.wrap(sync, "_wanted", "headers-first filter")
        self.wrap(sync, "ingest", "ingest (total)")
        self.wrap(ingest, "parse_message", "parse")
        self.wrap(archive, "store", "archive")
        if verify:
            self.wrap(SignatureVerifier, "verify", "verify")
        else:
            original = SignatureVerifier.verify
            SignatureVerifier.verify = lambda self, *a, **k: SignatureResult(FIRMA_NON_VERIFICATA, "off")
            self._undo.append((SignatureVerifier, "verify", original))


# --- the measurements ------------------------------------------------------------------------------


def timed_sync(journal_path: Path, campaign: str, settings, password: str, archive_root: Path, verify: bool = True):
    from pecmass_xl.journal import Journal
    from pecmass_xl.tracking import trust
    from pecmass_xl.tracking.sync import sync_receipts

    trust._cache.clear()  # a fresh verifier: the chain is validated once, then memoised
    stages = Stages()
    stages.install(verify)
    try:
        with Journal(journal_path, campaign) as journal:
            start = time.perf_counter()
            result = sync_receipts(journal, settings, password, archive_root)
            elapsed = time.perf_counter() - start
    finally:
        stages.restore()
    return elapsed, result, stages


def stored_messages(sandbox_dir: Path, address: str):
    """The mailbox's messages one at a time (never all in memory)."""
    from pecmass_xl.sandbox.store import STORE_FILE

    conn = sqlite3.connect(sandbox_dir / STORE_FILE)
    try:
        yield from (bytes(data) for (data,) in conn.execute(
            "SELECT m.data FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
            " WHERE b.address = ? AND b.name = 'INBOX' ORDER BY m.uid", (address,)))
    finally:
        conn.close()


def in_memory_rates(raws, journal_path: Path, campaign: str, sandbox_ca: Path) -> dict:
    """Parse + match, and verify, with no network and no disk writes; each receipt is dropped once
    measured, as in a sync (nothing accumulates)."""
    from pecmass_xl.journal import Journal
    from pecmass_xl.receipts.outcome import classify
    from pecmass_xl.receipts.parse import parse_message
    from pecmass_xl.receipts.signature import SignatureVerifier

    verifier = SignatureVerifier(str(sandbox_ca))
    parse_match = verify = 0.0
    count = matched = verified = 0
    clock = time.perf_counter
    with Journal(journal_path, campaign) as journal:
        for raw in raws:
            count += 1
            start = clock()
            pm = parse_message(raw)
            if pm.ref_message_id and journal.attempt_by_message_id(pm.ref_message_id) and classify(pm):
                matched += 1
            middle = clock()
            verified += verifier.verify(raw, expected_from=pm.from_address, parsed=pm).verified
            parse_match += middle - start
            verify += clock() - middle
    return {
        "in_memory_matched": matched,
        "in_memory_verified": verified,
        "in_memory_parsed_matched_per_s": round(count / parse_match),
        "in_memory_verify_only_per_s": round(count / verify),
        "in_memory_parsed_matched_verified_per_s": round(count / (parse_match + verify)),
    }


def journal_copy(source: Path, target: Path) -> Path:
    """The campaign's journal before any sync (SQLite backup: WAL content included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def stage_figures(prefix: str, elapsed: float, result, stages: Stages) -> dict:
    samples = stages.memory
    return {
        f"{prefix}_s": round(elapsed, 2),
        f"{prefix}_recorded": result.recorded,
        f"{prefix}_receipts_per_s": round(result.recorded / elapsed) if elapsed else None,
        f"{prefix}_stages_s": {k: round(v, 2) for k, v in sorted(stages.seconds.items())},
        f"{prefix}_client_receipts_per_s": round(result.recorded / max(elapsed - stages.seconds["imap"], 1e-9)),
        f"{prefix}_rss_mb_batches_first_mid_last": [round(samples[i][1], 1) for i in (1, len(samples) // 2, -1)]
        if len(samples) > 2 else None,
    }


def run_dovecot(raws_source: Path, user: str, settings_like, journal_path_: Path, campaign: str, work: Path,
                sandbox_ca: Path, log) -> dict:
    """The same receipts served by Dovecot (a fast, real IMAP server), verified against the sandbox CA."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tracking"))
    import ssl

    from dovecot import DOVECOT, Dovecot  # noqa: E402
    from imapclient import IMAPClient

    from pecmass_xl.campaign.settings import Settings
    from pecmass_xl.receipts.signature import SignatureVerifier
    from pecmass_xl.tracking import sync as sync_module

    if DOVECOT is None:
        return {"dovecot": "not installed"}
    out: dict = {}
    with Dovecot(user, "benchmark-password") as server:
        log("dovecot: APPEND of every receipt…")
        context = ssl.create_default_context(cafile=str(server.ca_file))
        client = IMAPClient("127.0.0.1", port=server.port, ssl=True, ssl_context=context)
        client.login(user, "benchmark-password")
        start = time.perf_counter()
        for raw in stored_messages(raws_source, user):
            client.append("INBOX", raw)
        out["dovecot_append_s"] = round(time.perf_counter() - start, 1)
        client.logout()
        settings = Settings(mailbox=user, provider="Personalizzato", imap_host="127.0.0.1", imap_port=server.port,
                            imap_security="SSL/TLS", ca_file=server.ca_file, receipt_folders=["INBOX"])
        verifier = SignatureVerifier(str(sandbox_ca))
        original = sync_module.verifier_for
        sync_module.verifier_for = lambda _settings: verifier  # receipts signed by the sandbox CA
        try:
            log("dovecot: full sync, signatures verified…")
            first = journal_copy(journal_path_, work / "journal-dovecot.sqlite")
            out.update(stage_figures("dovecot_full_sync", *timed_sync(first, campaign, settings, "benchmark-password",
                                                                       work / "archivio-dovecot")))
            log("dovecot: second sync, nothing new…")
            elapsed, empty, _ = timed_sync(first, campaign, settings, "benchmark-password", work / "archivio-dovecot")
            out["dovecot_empty_second_sync_s"] = round(elapsed, 3)
            log("dovecot: full sync, signatures not verified…")
            second = journal_copy(journal_path_, work / "journal-dovecot-2.sqlite")
            out.update(stage_figures("dovecot_sync_without_verification",
                                     *timed_sync(second, campaign, settings, "benchmark-password",
                                                 work / "archivio-dovecot-2", verify=False)))
        finally:
            sync_module.verifier_for = original
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="to build the receipts")
    parser.add_argument("--no-dovecot", action="store_true", help="skip the runs against Dovecot")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    logging.getLogger("pecmass").setLevel(logging.ERROR)
    work = args.keep or Path(tempfile.mkdtemp(prefix="pecmass-bench-receipts-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["PECMASS_DATA_DIR"] = str(work / "dati")
    os.environ["PECMASS_SANDBOX_DIR"] = str(work / "sandbox")
    sandbox_dir = work / "sandbox"
    rows = args.receipts // 2
    log = (lambda text: None) if args.json else (lambda text: print(text, file=sys.stderr, flush=True))

    from pecmass_xl.campaign.checks import run_checks
    from pecmass_xl.journal import journal_path
    from pecmass_xl.sandbox import rules
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    log(f"building a campaign of {rows} rows and {args.receipts} signed receipts…")
    start = time.perf_counter()
    workbook, campaign, message_ids = build_campaign(work, sandbox_dir, rows)
    count, mean_size = fill_mailbox(sandbox_dir, message_ids, args.processes)
    setup_s = time.perf_counter() - start
    jpath = journal_path(campaign)
    pristine = journal_copy(jpath, work / "journal-pristine.sqlite")
    result: dict = {"receipts": count, "rows": rows, "mean_receipt_kb": round(mean_size / 1024, 1),
                    "setup_s": round(setup_s, 1)}

    process, connection = start_sandbox(sandbox_dir)
    try:
        settings = run_checks(FileWorkbook(workbook).read()).settings
        password = connection["password"]
        result["rss_mb_before_sync"] = round(rss_mb(), 1)
        log("sandbox IMAP: full sync, signatures verified…")
        result.update(stage_figures("sandbox_full_sync", *timed_sync(jpath, campaign, settings, password,
                                                                       work / "archivio")))
        log("sandbox IMAP: second sync, nothing new…")
        elapsed, empty, _ = timed_sync(jpath, campaign, settings, password, work / "archivio")
        result["sandbox_empty_second_sync_s"] = round(elapsed, 3)
        result["sandbox_empty_second_sync_scanned"] = empty.scanned
        log("evidence pages: first build of every row's prova.html, then a check with nothing new…")
        from pecmass_xl.journal import Journal
        from pecmass_xl.tracking import evidence
        from pecmass_xl.tracking.trust import verifier_for
        with Journal(jpath) as journal:
            start = time.perf_counter()
            result["evidence_pages_written"] = evidence.write_pages(journal, work / "archivio", verifier_for(settings))
            result["evidence_pages_first_build_s"] = round(time.perf_counter() - start, 2)
            start = time.perf_counter()
            evidence.write_pages(journal, work / "archivio", verifier_for(settings))
            result["evidence_pages_nothing_new_s"] = round(time.perf_counter() - start, 3)
        log("whole `pecmass receipts` command, nothing new (workbook read and written)…")
        start = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "pecmass_xl", "receipts", str(workbook), "--json"],
                             capture_output=True, text=True)
        result["receipts_command_nothing_new_s"] = round(time.perf_counter() - start, 2)
        result["receipts_command_exit"] = cli.returncode
    finally:
        process.terminate()
        process.wait(30)

    log("in memory: parse, match, verify…")
    result.update(in_memory_rates(stored_messages(sandbox_dir, rules.SENDER), pristine, campaign,
                                  sandbox_dir / "ca.pem"))
    if not args.no_dovecot:
        result.update(run_dovecot(sandbox_dir, rules.SENDER, None, pristine, campaign, work, sandbox_dir / "ca.pem", log))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)
    result["cpus"] = os.cpu_count()
    result["python"] = platform.python_version()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        width = max(map(len, result))
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
