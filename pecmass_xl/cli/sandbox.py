"""`pecmass sandbox`: run the local PEC provider in the foreground until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pecmass_xl.core.errors import EXIT_OK, CannotRun
from pecmass_xl.core.italian import describe_error, duration, format_number
from pecmass_xl.sandbox.connection import CONNECTION_FILE
from pecmass_xl.sandbox.faults import KINDS

if TYPE_CHECKING:
    from pecmass_xl.sandbox import Sandbox


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sandbox",
        help="avvia il gestore PEC locale di prova (SMTP e IMAP su questo computer) fino a Ctrl-C",
        description=(
            "Gestore PEC simulato: caselle mittente@pec.sandbox.test e qualsiasi indirizzo *.pec.test, "
            "ricevute firmate come quelle di un gestore reale. Nessun messaggio esce dal computer."
        ),
    )
    p.add_argument("--dir", type=Path, metavar="CARTELLA", help="cartella della sandbox (predefinita: PECMASS_SANDBOX_DIR o la cartella dati)")
    p.add_argument("--smtp-port", type=int, default=0, metavar="P", help="porta SMTP SSL/TLS (predefinita: una libera)")
    p.add_argument("--starttls-port", type=int, default=0, metavar="P", help="porta SMTP STARTTLS (predefinita: una libera)")
    p.add_argument("--imap-port", type=int, default=0, metavar="P", help="porta IMAP SSL/TLS (predefinita: una libera)")
    p.add_argument(
        "--time-scale", type=float, default=1.0, metavar="F", help="secondi simulati per ogni secondo reale (predefinito 1)"
    )
    p.add_argument("--rate-limit", type=int, metavar="N", help="messaggi al minuto oltre i quali rispondere come Legalmail")
    p.add_argument("--max-size", type=float, metavar="MB", help="dimensione massima × destinatari (predefinita 100 MB)")
    p.add_argument("--no-pipelining", action="store_true",
                   help="non annuncia PIPELINING (RFC 2920): il client aspetta la risposta a ogni comando")
    p.add_argument("--fault", choices=KINDS, metavar="TIPO", help="guasto simulato: " + ", ".join(KINDS))
    p.add_argument(
        "--signing-processes",
        type=int,
        default=None,
        metavar="N",
        help="processi che firmano buste e ricevute (predefinito: core meno 2, al massimo 4; 0 = solo thread)",
    )
    p.add_argument("--json", action="store_true", help="stampa i dati di connessione in una riga JSON")
    p.set_defaults(handler=cmd_sandbox)


def _validate(args) -> None:
    for label, port in (("--smtp-port", args.smtp_port), ("--starttls-port", args.starttls_port), ("--imap-port", args.imap_port)):
        if not 0 <= port <= 65535:
            raise CannotRun(f"{label}: la porta deve essere tra 0 e 65535.")
    if not args.time_scale > 0:
        raise CannotRun("--time-scale: serve un numero maggiore di zero.")
    if args.rate_limit is not None and args.rate_limit < 1:
        raise CannotRun("--rate-limit: serve almeno 1 messaggio al minuto.")
    if args.max_size is not None and not args.max_size > 0:
        raise CannotRun("--max-size: serve un numero di MB maggiore di zero.")
    if args.signing_processes is not None and not 0 <= args.signing_processes <= 32:
        raise CannotRun("--signing-processes: serve un numero tra 0 e 32.")


def default_signing_processes() -> int:
    """Worker processes only where there are cores to spare: one is kept for the event loop and one for
    the clients (on 2 cores, processes measured slower than threads); at most 4."""
    return max(0, min(4, (os.cpu_count() or 1) - 2))


def cmd_sandbox(args) -> int:
    from pecmass_xl.sandbox import Sandbox

    _validate(args)
    stop = threading.Event()
    previous = _install_signal_handlers(stop)
    try:
        try:
            sandbox = Sandbox.start(
                args.dir,
                time_scale=args.time_scale,
                rate_limit=args.rate_limit,
                max_size_mb=args.max_size,
                fault=args.fault,
                smtp_port=args.smtp_port,
                starttls_port=args.starttls_port,
                imap_port=args.imap_port,
                signing_processes=default_signing_processes() if args.signing_processes is None else args.signing_processes,
                pipelining=not args.no_pipelining,
            )
        except OSError as exc:
            raise CannotRun(f"Impossibile avviare la sandbox: {describe_error(exc)}.") from None
        try:
            if args.json:
                print(json.dumps(sandbox.connection, ensure_ascii=False), flush=True)
            else:
                _print_details(sandbox, args)
            while not stop.wait(0.5):
                pass
        finally:
            sandbox.stop()
    finally:
        _restore_signal_handlers(previous)
    if not args.json:
        print("Sandbox fermata.", file=sys.stderr)
    return EXIT_OK


def _print_details(sandbox: Sandbox, args) -> None:
    c = sandbox.connection
    lines = [
        f"Sandbox PEC in esecuzione (cartella {c['dir']}).",
        f"  SMTP SSL/TLS:    {c['smtp_host']}:{c['smtp_port']}",
        f"  SMTP STARTTLS:   {c['smtp_host']}:{c['smtp_starttls_port']}",
        f"  IMAP SSL/TLS:    {c['imap_host']}:{c['imap_port']}",
        f"  Utente:          {c['user']}",
        f"  Password:        {c['password']}",
        f"  Certificato CA:  {c['ca_file']}",
        f"  Scala del tempo: {format_number(args.time_scale, 3)} {'secondo simulato' if args.time_scale == 1 else 'secondi simulati'} per secondo reale",
    ]
    if args.rate_limit:
        lines.append(f"  Limite:          {args.rate_limit} messaggi al minuto")
    if args.no_pipelining:
        lines.append("  PIPELINING:      non annunciato")
    if args.fault:
        lines.append(f"  Guasto simulato: {args.fault}")

    lines.append(f"Dati salvati in {Path(c['dir']) / CONNECTION_FILE}. Premete Ctrl-C per fermare.")
    lines += ["", *quick_start(args.time_scale, Path(c["dir"]))]
    print("\n".join(lines), flush=True)


def quick_start(time_scale: float, directory: Path) -> list[str]:
    """What to do next, printed under the connection details: the workbook, the send, the receipts."""
    lines = [
        "Per provare (in un altro terminale):",
        "  pecmass new prova.xlsx            (Gestore «Sandbox» già impostato)",
        "  pecmass send prova.xlsx --yes",
        "  pecmass receipts prova.xlsx --follow   (segue le ricevute con l'orologio della sandbox)",
    ]
    from pecmass_xl.core.paths import default_sandbox_dir

    if Path(directory).resolve() != Path(default_sandbox_dir()).resolve():  # the Sandbox preset looks there
        lines.append(f"  con la cartella di questa sandbox: PECMASS_SANDBOX_DIR={directory}")
    if time_scale == 1:
        lines += [
            "Il tempo scorre come nella realtà: consegne lente, preavvisi di 12 e 24 ore e rimbalzi arrivano dopo ore.",
            "Per vederli in pochi secondi riavviate con: pecmass sandbox --time-scale 3600   (un'ora simulata al secondo)",
        ]
    else:
        hour = duration(3600 / time_scale)
        lines.append(f"Tempo accelerato: un'ora simulata passa in {hour}; anche --follow misura le attese su questo orologio.")
    return lines


def _install_signal_handlers(stop: threading.Event) -> dict:
    """Ctrl-C and SIGTERM end the wait loop so the sandbox stops cleanly (ports released, lock freed)."""
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    names = ["SIGINT", "SIGTERM", "SIGBREAK"]
    for name in names:
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            previous[number] = signal.signal(number, lambda *_: stop.set())
        except (ValueError, OSError):
            continue
    return previous


def _restore_signal_handlers(previous: dict) -> None:
    for number, handler in previous.items():
        try:
            signal.signal(number, handler)
        except (ValueError, OSError):
            pass
