"""`pecmass send | test | check-connection | login | status | stop`."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from pecmass_xl.campaign.files import open_journal, open_ledger
from pecmass_xl.campaign.settings import resolve_settings
from pecmass_xl.cli.common import ask_yes_no, print_counts, print_problems
from pecmass_xl.cli.main import print_json
from pecmass_xl.core.errors import EXIT_CANNOT_RUN, EXIT_FAILED_ROWS, EXIT_LOGIN_REFUSED, EXIT_OK, CannotRun
from pecmass_xl.journal.store import RESEND_CHOICES
from pecmass_xl.mailclient.credentials import get_password, store_password
from pecmass_xl.sending import background
from pecmass_xl.sending.connection import check_connection
from pecmass_xl.sending.engine import Reporter, SendOptions, SendRun
from pecmass_xl.sending.plan import plan_send
from pecmass_xl.sending.trial_send import send_test
from pecmass_xl.workbook.file_workbook import FileWorkbook

LEGALMAIL_NOTICE_KEY = "legalmail-contratto"


def register(subparsers) -> None:
    p = subparsers.add_parser("send", help="invia una PEC per ogni riga pronta")
    p.add_argument("path", type=Path)
    p.add_argument("--yes", action="store_true", help="non chiede conferma")
    p.add_argument("--limit", type=int, help="invia al massimo N righe")
    p.add_argument("--resend", default="", help="reinvia anche: failed, uncertain, sent (separati da virgola)")
    p.add_argument("--in-doubt-wait", type=float, default=300.0, metavar="SECONDI",
                   help="attesa della ricevuta di accettazione per i messaggi in dubbio (predefinito 300)")
    p.add_argument("--retries", type=int, default=5, help="tentativi per gli errori temporanei (predefinito 5)")
    p.add_argument("--backoff", type=float, default=2.0, help="attesa iniziale tra i tentativi, in secondi")
    p.add_argument("--rate-limit-pause", type=float, default=60.0, help="pausa quando il gestore chiede di rallentare")
    p.add_argument("--background", action="store_true", help="invia in un processo separato e torna subito")
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse_suppress())
    p.set_defaults(handler=cmd_send)

    p = subparsers.add_parser("test", help="invio di prova del messaggio di una riga al destinatario di prova")
    p.add_argument("path", type=Path)
    p.add_argument("--row", type=int, required=True)
    p.add_argument("--to", help="indirizzo di prova (predefinito: Destinatario di prova, poi il mittente)")
    p.add_argument("--yes", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_test)

    p = subparsers.add_parser("check-connection", help="prova l'accesso SMTP e IMAP senza inviare")
    p.add_argument("path", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_check_connection)

    p = subparsers.add_parser("login", help="salva la password della casella nel portachiavi di sistema")
    p.add_argument("path", type=Path)
    p.set_defaults(handler=cmd_login)

    p = subparsers.add_parser("status", help="avanzamento e stati dal registro degli invii")
    p.add_argument("path", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    p = subparsers.add_parser("stop", help="ferma un invio o un aggiornamento in corso dopo il messaggio corrente")
    p.add_argument("path", type=Path)
    p.set_defaults(handler=cmd_stop)


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


def _settings_of(book: FileWorkbook):
    sheet = book.read()
    settings, problems = resolve_settings(sheet.settings, sheet.message, sheet.folder)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        print_problems(errors, sys.stderr)
        raise CannotRun("Impostazioni non valide: correggetele nel foglio Impostazioni.")
    return sheet, settings


class TerminalReporter(Reporter):
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.started = 0.0

    def start(self, total: int) -> None:
        import time
        self.started = time.monotonic()
        if not self.quiet and total:
            print(f"Invio di {total} PEC…", file=sys.stderr)

    def row_done(self, done: int, total: int, row_number: int, status: str) -> None:
        if self.quiet:
            return
        import time
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed * 60
        eta = (total - done) / (done / elapsed) if done else 0
        line = f"[{'#' * int(30 * done / total):<30}] {done}/{total}  {rate:.0f}/min  ancora {eta:.0f} s"
        if self.tty:
            print("\r" + line, end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % 50 == 0:
            print(line, file=sys.stderr)

    def message(self, text: str) -> None:
        if not self.quiet:
            print(("\n" if self.tty else "") + text, file=sys.stderr)


def _confirm_send(plan, args) -> bool:
    s = plan.settings
    out = sys.stderr if args.json else sys.stdout

    def say(text: str) -> None:  # --json keeps stdout for the one JSON document
        print(text, file=out)

    minutes = plan.estimated_seconds / 60
    pace = f"{s.pace_per_minute} al minuto" if s.pace_per_minute else "senza limite di ritmo"
    say(f"Da inviare: {len(plan.due)} PEC da {s.mailbox} (gestore {s.provider}), {pace}, durata stimata {minutes:.1f} minuti.")
    if plan.adopted:
        say(f"{len(plan.adopted)} righe riconosciute come già inviate (ID invio ripristinato, nessun nuovo invio).")
    if plan.invalid:
        say(f"{len(plan.invalid)} righe con errori non saranno inviate (pecmass check per i dettagli).")
    for warning in plan.warnings:
        say(f"Avviso: {warning}")
    if plan.notice:
        with open_ledger(s) as ledger:
            if not ledger.is_acknowledged(s.mailbox, LEGALMAIL_NOTICE_KEY):
                say(f"\n{plan.notice}\n")
                if not args.yes and not sys.stdin.isatty():
                    raise CannotRun("Conferma necessaria ma nessun terminale: aggiungete --yes per confermare l'avviso e inviare.")
                if not (args.yes or ask_yes_no("Avete letto l'avviso e confermate?")):
                    return False
                ledger.acknowledge(s.mailbox, LEGALMAIL_NOTICE_KEY)
    if not plan.due or args.yes or getattr(args, "worker", False):
        return True
    if not sys.stdin.isatty():
        if s.is_sandbox:
            return True  # the sandbox is local: nothing leaves the computer
        raise CannotRun("Conferma necessaria ma nessun terminale: aggiungete --yes per inviare.")
    return ask_yes_no("Procedere con l'invio?")


def cmd_send(args) -> int:
    resend = frozenset(x.strip() for x in args.resend.split(",") if x.strip())
    if resend - RESEND_CHOICES:
        raise CannotRun(f"--resend accetta: {', '.join(sorted(RESEND_CHOICES))}.")
    book = FileWorkbook(args.path)
    plan = plan_send(book, resend=resend, limit=args.limit)
    if plan.blocking:
        print("Errori generali: nessuna PEC inviata.")
        print_problems(plan.blocking)
        return EXIT_FAILED_ROWS
    if not _confirm_send(plan, args):
        print("Invio annullato.")
        return EXIT_CANNOT_RUN if not sys.stdin.isatty() else EXIT_OK
    password = get_password(plan.settings)
    if args.background and not args.worker:
        forwarded = [str(Path(args.path).resolve()), "--yes", "--worker", "--in-doubt-wait", str(args.in_doubt_wait),
                     "--retries", str(args.retries), "--backoff", str(args.backoff), "--rate-limit-pause", str(args.rate_limit_pause)]
        if args.limit is not None:
            forwarded += ["--limit", str(args.limit)]
        if args.resend:
            forwarded += ["--resend", args.resend]
        pid = background.spawn_worker(["send", *forwarded])
        print(f"Invio avviato in background (processo {pid}). Avanzamento: pecmass status {args.path}; per fermarlo: pecmass stop {args.path}")
        return EXIT_OK
    options = SendOptions(in_doubt_wait=args.in_doubt_wait, max_retries=args.retries, backoff_base=args.backoff,
                          rate_limit_pause=args.rate_limit_pause)
    outcome = SendRun(plan, password, options, TerminalReporter(quiet=args.json or args.worker)).run()
    if args.json:
        print_json(outcome.as_json())
    else:
        print(f"Campagna {outcome.campaign_id}: {outcome.sent_now} PEC consegnate al gestore in questo invio.")
        print_counts(outcome.counts)
        for f in outcome.failed:
            print(f"  riga {f['row']} ({f['id']}): {f['status']} — {f['detail']}")
        if outcome.write_error:
            print(f"Avviso: risultati non scritti nel file ({outcome.write_error}). Sono nel registro: «pecmass status» li mostra.")
    if outcome.login_refused:
        print(f"Errore: {outcome.login_refused}", file=sys.stderr)
        return EXIT_LOGIN_REFUSED
    return EXIT_FAILED_ROWS if outcome.has_failures else EXIT_OK


def cmd_test(args) -> int:
    book = FileWorkbook(args.path)
    sheet, settings = _settings_of(book)
    if not settings.is_sandbox and not args.yes:
        if not sys.stdin.isatty():
            raise CannotRun("Conferma necessaria ma nessun terminale: aggiungete --yes per l'invio di prova.")
        target = args.to or settings.test_recipient or settings.mailbox
        if not ask_yes_no(f"Inviare una PEC di prova (riga {args.row}) a {target}?"):
            print("Invio di prova annullato.")
            return EXIT_OK
    result = send_test(book, args.row, get_password(settings), to=args.to)
    if args.json:
        print_json({"test": result.label, "to": result.to, "status": result.status, "detail": result.detail,
                    "message_id": result.message_id, "eml": str(result.eml) if result.eml else None,
                    "problems": [p.as_dict() for p in result.problems]})
    elif not result.label:
        print(result.detail)
        print_problems(result.problems)
    else:
        print(f"Invio di prova {result.label} a {result.to}: {result.status}. {result.detail}")
        print(f"Messaggio archiviato in {result.eml}")
    if result.failed:
        return EXIT_FAILED_ROWS
    return EXIT_OK


def cmd_check_connection(args) -> int:
    book = FileWorkbook(args.path)
    _sheet, settings = _settings_of(book)
    report = check_connection(settings, get_password(settings))
    if args.json:
        print_json(report.as_json())
    else:
        print(f"SMTP: {'OK' if report.smtp_ok else 'ERRORE'} — {report.smtp_detail}")
        if not report.login_refused or report.imap_detail:
            print(f"IMAP: {'OK' if report.imap_ok else 'ERRORE'} — {report.imap_detail}")
        for folder, text in report.folders.items():
            print(f"  cartella {folder}: {text}")
    if report.login_refused:
        return EXIT_LOGIN_REFUSED
    return EXIT_OK if report.smtp_ok and report.imap_ok else EXIT_FAILED_ROWS


def cmd_login(args) -> int:
    book = FileWorkbook(args.path)
    _sheet, settings = _settings_of(book)
    if settings.is_sandbox:
        print("Il gestore Sandbox non ha bisogno di password: la legge dalla cartella della sandbox.")
        return EXIT_OK
    if not sys.stdin.isatty():
        raise CannotRun("Serve un terminale per digitare la password (oppure usate PECMASS_PASSWORD).")
    password = getpass.getpass(f"Password di {settings.login} ({settings.smtp_host}): ")
    if not password:
        raise CannotRun("Password vuota: nulla salvato.")
    store_password(settings, password)
    print("Password salvata nel portachiavi di sistema (mai nella cartella di lavoro).")
    return EXIT_OK


def _campaign_of(path: Path) -> str:
    sheet = FileWorkbook(path).read()
    if not sheet.campaign_id:
        raise CannotRun("Questa cartella di lavoro non ha ancora una campagna: nessun invio registrato.")
    return sheet.campaign_id


def cmd_status(args) -> int:
    campaign = _campaign_of(args.path)
    with open_journal(campaign) as journal:
        counts = journal.status_counts()
        info = background.progress(journal)
        running = background.worker_running(campaign)
        last_sync = journal.last_sync()
        tests = [(t.attempt.label, t.attempt.recipient, t.status.stato) for t in journal.test_attempts()]
    if args.json:
        print_json({"campaign": campaign, "running": running, "counts": counts, "progress": info,
                    "last_sync": last_sync.isoformat() if last_sync else None,
                    "tests": [{"test": t[0], "to": t[1], "status": t[2]} for t in tests]})
        return EXIT_OK
    print(f"Campagna {campaign}: {'invio in corso' if running else 'nessun invio in corso'}.")
    if info.get("total"):
        print(f"Avanzamento dell'ultimo invio: {info.get('done', 0)}/{info['total']}.")
    print_counts(counts)
    for label, to, status in tests:
        print(f"  prova {label} a {to}: {status}")
    print(f"Ultimo aggiornamento ricevute: {last_sync:%d/%m/%Y %H:%M}" if last_sync else "Ricevute mai aggiornate.")
    return EXIT_OK


def cmd_stop(args) -> int:
    campaign = _campaign_of(args.path)
    with open_journal(campaign) as journal:
        if not background.worker_running(campaign):
            print("Nessun invio o aggiornamento in corso per questa cartella di lavoro.")
            return EXIT_OK
        background.request_stop(journal)
    print("Richiesta di arresto inviata: il lavoro si ferma dopo il messaggio corrente.")
    return EXIT_OK
