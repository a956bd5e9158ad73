"""Sending throughput: pecmass vs the open-source `mailmerge` command, same messages, same sandbox.

The sandbox runs in its own process (`pecmass sandbox --json`), pacing is off. pecmass sends
2,000 rows over one reused connection, journaling and archiving every message; mailmerge opens a
connection per message (its design), gets the password on stdin and the sandbox CA through
SSL_CERT_FILE. Prints messages/s and peak memory of each. Usage:

    python benchmarks/bench_send.py [--rows 2000] [--skip-mailmerge]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pecmass_xl.campaign.new_workbook import build_new_workbook  # noqa: E402
from pecmass_xl.workbook import contract as c  # noqa: E402


def start_sandbox(directory: Path, env: dict) -> tuple[subprocess.Popen, dict]:
    process = subprocess.Popen([sys.executable, "-m", "pecmass_xl", "sandbox", "--dir", str(directory), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    line = process.stdout.readline()
    return process, json.loads(line)


def make_workbook(path: Path, rows: int, run: str) -> None:
    wb = build_new_workbook("")
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(["PEC", "Nome", "N"] + list(c.RESULT_COLUMNS))
    for i in range(rows):
        ws.append([f"bench{run}p{i}@studio.pec.test", f"Persona {i}", i])
    msg = wb[c.SHEET_MESSAGE]
    for row in msg.iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = "Comunicazione {{ N }}"
        if row[0].value == c.MSG_TEXT:
            row[1].value = "Gentile {{ Nome }},\nle inviamo la comunicazione numero {{ N }}.\nCordiali saluti"
    wb.save(path)


def peak_child_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_timed(command: list[str], env: dict, stdin: str | None = None) -> tuple[float, float, int]:
    """(seconds, peak RSS MB, exit code) of a child process, measured from a fresh helper process."""
    probe = (
        "import resource,subprocess,sys,time,json;"
        "t=time.perf_counter();"
        "p=subprocess.run(json.loads(sys.argv[1]),input=sys.argv[2] if sys.argv[2] else None,text=True,"
        "stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
        "print(json.dumps([time.perf_counter()-t,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024,p.returncode]))"
    )
    out = subprocess.run([sys.executable, "-c", probe, json.dumps(command), stdin or ""], env=env,
                         capture_output=True, text=True, check=True).stdout
    seconds, peak, code = json.loads(out)
    return seconds, peak, code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--skip-mailmerge", action="store_true")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="pecmass-bench-send-"))
    env = dict(os.environ, PECMASS_DATA_DIR=str(base / "data"), PECMASS_SANDBOX_DIR=str(base / "sandbox"))
    sandbox, conn = start_sandbox(base / "sandbox", env)
    try:
        run = str(int(time.time()))
        book = base / "bench.xlsx"
        make_workbook(book, args.rows, run)
        seconds, peak, code = run_timed([sys.executable, "-m", "pecmass_xl", "send", str(book), "--yes", "--json"], env)
        print(f"pecmass   : {args.rows} messages in {seconds:.1f} s = {args.rows / seconds:.1f} messages/s, "
              f"peak memory {peak:.0f} MB (exit {code}; journal, ledger and archive included)")
        mailmerge = shutil.which("mailmerge") or str(Path(sys.executable).parent / "mailmerge")
        if args.skip_mailmerge or not Path(mailmerge).exists():
            print("mailmerge : skipped (pip install mailmerge)")
            return
        folder = base / "mailmerge"
        folder.mkdir()
        (folder / "mailmerge_server.conf").write_text(
            "[smtp_server]\nhost = 127.0.0.1\nport = %d\nsecurity = SSL/TLS\nusername = %s\nratelimit = 0\n"
            % (conn["smtp_port"], conn["user"]))
        (folder / "mailmerge_template.txt").write_text(
            "TO: {{email}}\nSUBJECT: Comunicazione {{n}}\nFROM: %s\n\nGentile {{name}},\n"
            "le inviamo la comunicazione numero {{n}}.\nCordiali saluti\n" % conn["user"])
        lines = ["email,name,n"] + [f"mm{run}p{i}@studio.pec.test,Persona {i},{i}" for i in range(args.rows)]
        (folder / "mailmerge_database.csv").write_text("\n".join(lines) + "\n")
        mm_env = dict(env, SSL_CERT_FILE=conn["ca_file"])
        command = [mailmerge, "--no-dry-run", "--no-limit", "--output-format", "text",
                   "--template", str(folder / "mailmerge_template.txt"), "--database", str(folder / "mailmerge_database.csv"),
                   "--config", str(folder / "mailmerge_server.conf")]
        mm_seconds, mm_peak, mm_code = run_timed(command, mm_env, stdin=conn["password"] + "\n")
        print(f"mailmerge : {args.rows} messages in {mm_seconds:.1f} s = {args.rows / mm_seconds:.1f} messages/s, "
              f"peak memory {mm_peak:.0f} MB (exit {mm_code}; one connection per message)")
        print(f"ratio     : pecmass is {mm_seconds / seconds:.1f}x the throughput of mailmerge")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
