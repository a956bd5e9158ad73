"""Does the sandbox keep up? 50 concurrent SMTP sessions, then every receipt must arrive.

Runs `pecmass sandbox` in its own process (as a user would), opens N concurrent implicit-TLS SMTP
sessions (one login each, connection reused), sends M messages as fast as the server accepts them,
then polls the sender's INBOX over IMAP until every receipt is there (one accettazione and one
avvenuta-consegna per message) and samples recipients' INBOXes for the transport envelope.

    python benchmarks/bench_sandbox.py [--sessions 50] [--messages 2000] [--attachment-kb 20] [--json]

Target (issue 3): ≥ 200 messages/s accepted, every receipt delivered within 10 s of the burst's end.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

from imapclient import IMAPClient


def start_sandbox(directory: Path, time_scale: float, signing_processes: int | None) -> tuple[subprocess.Popen, dict]:
    command = [sys.executable, "-m", "pecmass_xl", "sandbox", "--dir", str(directory), "--json", "--time-scale", str(time_scale)]
    if signing_processes is not None:
        command += ["--signing-processes", str(signing_processes)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if not line:
        process.wait(10)
        raise SystemExit("the sandbox did not start")
    return process, json.loads(line)


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of another process, from /proc (Linux only; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def make_message(sender: str, index: int, attachment: bytes) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"destinatario{index:06d}@bench.pec.test"
    message["Subject"] = f"Comunicazione {index}"
    message["Message-ID"] = f"<pecmass.bench.R{index:08d}.1@pec.sandbox.test>"
    message.set_content(f"Gentile destinatario {index},\nquesta è una comunicazione di prova.\n")
    if attachment:
        message.add_attachment(attachment, maintype="application", subtype="pdf", filename=f"documento-{index}.pdf")
    return message


def render(sender: str, messages: int, attachment: bytes) -> list[tuple[str, bytes]]:
    """Rendered before the clock starts: the benchmark measures the server, not the client's MIME code."""
    rendered = [make_message(sender, index, attachment) for index in range(messages)]
    return [(message["To"], message.as_bytes(policy=SMTP_POLICY)) for message in rendered]


def burst(connection: dict, sessions: int, payloads: list[tuple[str, bytes]]) -> tuple[float, int, list[str]]:
    context = ssl.create_default_context(cafile=connection["ca_file"])
    counter = iter(range(len(payloads)))
    lock = threading.Lock()
    errors: list[str] = []
    accepted = [0]
    barrier = threading.Barrier(sessions + 1)

    def worker() -> None:
        try:
            smtp = smtplib.SMTP_SSL(connection["smtp_host"], connection["smtp_port"], context=context, timeout=60)
            smtp.login(connection["user"], connection["password"])
        except Exception as exc:  # noqa: BLE001 - reported in the results
            errors.append(f"connect: {exc}")
            barrier.wait()
            return
        barrier.wait()
        try:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    break
                try:
                    recipient, payload = payloads[index]
                    smtp.sendmail(connection["user"], [recipient], payload)
                    with lock:
                        accepted[0] += 1
                except smtplib.SMTPException as exc:
                    errors.append(str(exc))
        finally:
            try:
                smtp.quit()
            except Exception:  # noqa: BLE001
                pass

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    barrier.wait()  # every session logged in: the clock starts now
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, accepted[0], errors


def wait_for_receipts(connection: dict, expected: int, timeout: float) -> tuple[float | None, int]:
    context = ssl.create_default_context(cafile=connection["ca_file"])
    started = time.perf_counter()
    count = 0
    with IMAPClient(connection["imap_host"], port=connection["imap_port"], ssl=True, ssl_context=context) as imap:
        imap.login(connection["user"], connection["password"])
        while time.perf_counter() - started < timeout:
            count = imap.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"]
            if count >= expected:
                return time.perf_counter() - started, count
            time.sleep(0.05)
    return None, count


def envelopes_present(connection: dict, indexes: list[int]) -> int:
    context = ssl.create_default_context(cafile=connection["ca_file"])
    found = 0
    for index in indexes:
        with IMAPClient(connection["imap_host"], port=connection["imap_port"], ssl=True, ssl_context=context) as imap:
            imap.login(f"destinatario{index:06d}@bench.pec.test", connection["password"])
            found += imap.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--attachment-kb", type=int, default=20, help="size of the PDF-like attachment per message")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--signing-processes", type=int, default=None, help="passed to pecmass sandbox (default: its own)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    attachment = os.urandom(args.attachment_kb * 1024) if args.attachment_kb else b""
    with tempfile.TemporaryDirectory(prefix="pecmass-bench-sandbox-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        process, connection = start_sandbox(directory, args.time_scale, args.signing_processes)
        startup = time.perf_counter() - started
        try:
            payloads = render(connection["user"], args.messages, attachment)
            server_cpu_before = process_cpu_seconds(process.pid)
            client_cpu_before = time.process_time()
            duration, accepted, errors = burst(connection, args.sessions, payloads)
            client_cpu = time.process_time() - client_cpu_before
            delay, receipts = wait_for_receipts(connection, 2 * accepted, timeout=120)
            server_cpu_after = process_cpu_seconds(process.pid)
            sample = sorted({0, args.messages // 2, args.messages - 1})
            envelopes = envelopes_present(connection, sample)
        finally:
            process.terminate()
            process.wait(30)
        store_mb = sum(p.stat().st_size for p in directory.glob("caselle.sqlite3*")) / 1e6

    result = {
        "sessions": args.sessions,
        "signing_processes": "default" if args.signing_processes is None else args.signing_processes,
        "messages": args.messages,
        "attachment_kb": args.attachment_kb,
        "startup_s": round(startup, 3),
        "accepted": accepted,
        "errors": len(errors),
        "first_errors": errors[:3],
        "burst_s": round(duration, 3),
        "accepted_per_s": round(accepted / duration, 1),
        "server_cpu_s": None if server_cpu_before is None else round(server_cpu_after - server_cpu_before, 2),
        "server_cpu_ms_per_message": None
        if server_cpu_before is None
        else round(1000 * (server_cpu_after - server_cpu_before) / max(accepted, 1), 2),
        "client_cpu_s": round(client_cpu, 2),
        "receipts": receipts,
        "all_receipts_after_burst_s": None if delay is None else round(delay, 3),
        "envelopes_in_sampled_mailboxes": f"{envelopes}/{len(sample)}",
        "store_mb": round(store_mb, 1),
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    ok = not errors and delay is not None and delay <= 10 and accepted / duration >= 200
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
