"""Sending throughput: pecmass vs `mailmerge` vs a bare one-connection `smtplib` loop, same sandbox, one run.

The sandbox runs in its own process (`pecmass sandbox --json`); pacing is off. Each contender is a
process of its own, timed from outside, sending the same small template to its own recipients:

- pecmass: `pecmass send` on a workbook, one reused connection, journal, ledger and archive with
  every forced write; PIPELINING when the sandbox advertises it (it does unless `--no-pipelining`);
- mailmerge: the open-source command, a connection per message (its design);
- smtplib: the least any client can do, `sendmail` in a loop on one connection, no journal at all.

`--rtt MS` puts a delaying TCP proxy of its own between the clients and the sandbox (loopback only,
half the round trip each way, see latency_proxy.py), which models a real network: there TLS
handshakes and round trips cost what they cost against a real provider. Every run's exit code is
checked and the transport envelopes delivered to its recipients counted (each recipient exactly
once), so a fast run that lost messages cannot look good. Prints messages/s and round trips per
message; the target is printed, never asserted. Usage:

    python benchmarks/bench_send.py [--rows 200] [--rtt 20] [--no-pipelining] [--skip-mailmerge]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency_proxy import LatencyProxy  # noqa: E402

from pecmass_xl.campaign.new_workbook import build_new_workbook  # noqa: E402
from pecmass_xl.sandbox.store import read_mailbox  # noqa: E402
from pecmass_xl.workbook import contract as c  # noqa: E402

SUBJECT = "Comunicazione {n}"
TEXT = "Gentile {name},\nle inviamo la comunicazione numero {n}.\nCordiali saluti\n"
TARGET_VS_MAILMERGE = 3.0
TARGET_VS_LOOP = 1.5


@dataclass
class Result:
    name: str
    seconds: float
    peak_mb: float
    exit_code: int
    delivered: int
    duplicated: int
    round_trips: int
    connections: int

    def line(self, rows: int, note: str) -> str:
        rate = rows / self.seconds if self.seconds else 0.0
        per_message = f", {self.round_trips / rows:.2f} round trips/message" if self.round_trips else ""
        verdict = "ok" if self.exit_code == 0 and self.delivered == rows and not self.duplicated else "FAILED"
        return (f"{self.name:<10}: {rows} messages in {self.seconds:.1f} s = {rate:.1f} messages/s{per_message}, "
                f"{self.connections or '?'} connection(s), peak {self.peak_mb:.0f} MB; exit {self.exit_code}, "
                f"delivered {self.delivered}/{rows}, duplicates {self.duplicated} [{verdict}] ({note})")

    @property
    def valid(self) -> bool:
        return self.exit_code == 0 and not self.duplicated


def start_sandbox(directory: Path, env: dict, pipelining: bool) -> tuple[subprocess.Popen, dict]:
    command = [sys.executable, "-m", "pecmass_xl", "sandbox", "--dir", str(directory), "--json"]
    if not pipelining:
        command.append("--no-pipelining")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    line = process.stdout.readline()
    if not line:
        raise SystemExit("the sandbox did not start")
    return process, json.loads(line)


def recipients(prefix: str, rows: int) -> list[str]:
    return [f"{prefix}p{i}@studio.pec.test" for i in range(rows)]


def make_workbook(path: Path, addresses: list[str], smtp_port: int) -> None:
    wb = build_new_workbook("")
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(["PEC", "Nome", "N"] + list(c.RESULT_COLUMNS))
    for i, address in enumerate(addresses):
        ws.append([address, f"Persona {i}", i])
    for row in wb[c.SHEET_MESSAGE].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = SUBJECT.format(n="{{ N }}")
        if row[0].value == c.MSG_TEXT:
            row[1].value = TEXT.format(name="{{ Nome }}", n="{{ N }}").rstrip("\n")
    for row in wb[c.SHEET_SETTINGS].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.SET_SMTP_PORT:
            row[1].value = smtp_port  # the proxy (or the sandbox itself without --rtt)
        if row[0].value == c.SET_PACE:
            row[1].value = 0
    wb.save(path)


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


def count_delivered(sandbox_dir: Path, addresses: list[str], timeout: float = 60.0) -> tuple[int, int]:
    """(recipients holding at least one transport envelope, recipients holding more than one)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = [sum(1 for raw in read_mailbox(sandbox_dir, a) if b"X-Trasporto: posta-certificata" in raw)
                  for a in addresses]
        delivered = sum(1 for n in counts if n)
        if delivered == len(addresses) or time.monotonic() > deadline:
            return delivered, sum(1 for n in counts if n > 1)
        time.sleep(0.5)


def smtplib_loop_child(argv: list[str]) -> int:
    """The bare client: one connection, `sendmail` per message, the same text; exit 0 if all accepted."""
    import smtplib
    import ssl
    from email.message import EmailMessage

    host, port, user, ca_file, first, rows, prefix = argv
    password = sys.stdin.readline().strip()
    refused = 0
    with smtplib.SMTP_SSL(host, int(port), context=ssl.create_default_context(cafile=ca_file), timeout=60) as client:
        client.login(user, password)
        for i in range(int(first), int(first) + int(rows)):
            message = EmailMessage()
            message["From"], message["To"] = user, f"{prefix}p{i}@studio.pec.test"
            message["Subject"] = SUBJECT.format(n=i)
            message.set_content(TEXT.format(name=f"Persona {i}", n=i))
            try:
                client.sendmail(user, [message["To"]], message.as_bytes())
            except smtplib.SMTPException:
                refused += 1
    return 1 if refused else 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--smtplib-loop":
        raise SystemExit(smtplib_loop_child(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--rtt", type=float, default=0.0, metavar="MS", help="modelled round trip in ms (0: plain loopback)")
    parser.add_argument("--no-pipelining", action="store_true", help="the sandbox does not advertise PIPELINING")
    parser.add_argument("--skip-mailmerge", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.rows <= 100_000 or not 0 <= args.rtt <= 1000:
        raise SystemExit("--rows between 1 and 100000, --rtt between 0 and 1000 ms")
    base = Path(tempfile.mkdtemp(prefix="pecmass-bench-send-"))
    sandbox_dir = base / "sandbox"
    env = dict(os.environ, PECMASS_DATA_DIR=str(base / "data"), PECMASS_SANDBOX_DIR=str(sandbox_dir))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # every contender starts as installed: bytecode cached
    sandbox, conn = start_sandbox(sandbox_dir, env, not args.no_pipelining)
    proxy = LatencyProxy(conn["smtp_host"], conn["smtp_port"], args.rtt / 1000).start() if args.rtt else None
    port = proxy.port if proxy else conn["smtp_port"]
    network = f"{args.rtt:g} ms round trip through the proxy" if proxy else "plain loopback"
    print(f"{args.rows} messages per contender, {network}, sandbox PIPELINING "
          f"{'off' if args.no_pipelining else 'on'}, {os.cpu_count()} cores")
    run = str(int(time.time()))
    results: dict[str, Result] = {}

    def measure(name: str, addresses: list[str], command: list[str], run_env: dict, stdin: str | None, note: str) -> None:
        if proxy:
            proxy.reset()
        seconds, peak, code = run_timed(command, run_env, stdin)
        counters = proxy.reset() if proxy else None
        delivered, duplicated = count_delivered(sandbox_dir, addresses)
        result = Result(name, seconds, peak, code, delivered, duplicated,
                        counters.round_trips if counters else 0, counters.connections if counters else 0)
        results[name] = result
        print(result.line(args.rows, note), flush=True)

    try:
        # pecmass
        addresses = recipients(f"pm{run}", args.rows)
        book = base / "bench.xlsx"
        make_workbook(book, addresses, port)
        measure("pecmass", addresses, [sys.executable, "-m", "pecmass_xl", "send", str(book), "--yes", "--json"], env, None,
                "journal, ledger and archive included")
        # the bare smtplib loop
        addresses = recipients(f"sl{run}", args.rows)
        measure("smtplib", addresses, [sys.executable, str(Path(__file__).resolve()), "--smtplib-loop", conn["smtp_host"],
                                       str(port), conn["user"], conn["ca_file"], "0", str(args.rows), f"sl{run}"],
                env, conn["password"] + "\n", "one connection, no journal")
        # mailmerge
        mailmerge = shutil.which("mailmerge") or str(Path(sys.executable).parent / "mailmerge")
        if args.skip_mailmerge or not Path(mailmerge).exists():
            print("mailmerge : skipped (pip install -e '.[bench]')")
        else:
            folder = base / "mailmerge"
            folder.mkdir()
            (folder / "mailmerge_server.conf").write_text(
                "[smtp_server]\nhost = 127.0.0.1\nport = %d\nsecurity = SSL/TLS\nusername = %s\nratelimit = 0\n" % (port, conn["user"]))
            (folder / "mailmerge_template.txt").write_text(
                "TO: {{email}}\nSUBJECT: %s\nFROM: %s\n\n%s" % (SUBJECT.format(n="{{n}}"), conn["user"], TEXT.format(name="{{name}}", n="{{n}}")))
            addresses = recipients(f"mm{run}", args.rows)
            lines = ["email,name,n"] + [f"{a},Persona {i},{i}" for i, a in enumerate(addresses)]
            (folder / "mailmerge_database.csv").write_text("\n".join(lines) + "\n")
            command = [mailmerge, "--no-dry-run", "--no-limit", "--output-format", "text",
                       "--template", str(folder / "mailmerge_template.txt"), "--database", str(folder / "mailmerge_database.csv"),
                       "--config", str(folder / "mailmerge_server.conf")]
            measure("mailmerge", addresses, command, dict(env, SSL_CERT_FILE=conn["ca_file"]), conn["password"] + "\n",
                    "a connection per message")
        report_ratios(results)
    finally:
        if proxy:
            proxy.stop()
        sandbox.terminate()
        sandbox.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)


def report_ratios(results: dict[str, Result]) -> None:
    """Throughput ratios of pecmass against the others, and the targets (printed, never asserted)."""
    pecmass = results.get("pecmass")
    if pecmass is None or not pecmass.valid:
        print("ratios    : not computed, the pecmass run failed")
        return
    for name, target in (("mailmerge", TARGET_VS_MAILMERGE), ("smtplib", TARGET_VS_LOOP)):
        other = results.get(name)
        if other is None:
            continue
        if not other.valid:
            print(f"ratio     : {name} run failed, no ratio")
            continue
        ratio = other.seconds / pecmass.seconds
        print(f"ratio     : pecmass is {ratio:.2f}x the throughput of {name} (target {target:g}x: "
              f"{'met' if ratio >= target else 'missed'})")


if __name__ == "__main__":
    main()
