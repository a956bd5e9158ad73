"""`pecmass send | test | check-connection | login | status | stop`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pecmass_xl.cli.common import busy_message, invalid_settings_as, print_counts, print_problems
from pecmass_xl.cli.main import print_json
from pecmass_xl.core.errors import EXIT_CANNOT_RUN, EXIT_FAILED_ROWS, EXIT_LOGIN_REFUSED, EXIT_OK, CannotRun
from pecmass_xl.core.italian import clause, plural
from pecmass_xl.core.rome_time import rome_wall_clock
from pecmass_xl.sending import CONNECT_BUDGET

SETTINGS_TO_FIX = "Impostazioni non valide: correggetele nel foglio Impostazioni."


def register(subparsers) -> None:
    p = subparsers.add_parser("send", help="invia una PEC per ogni riga pronta")
    p.add_argument("path", type=Path)
    p.add_argument("--yes", action="store_true", help="non chiede conferma")
    p.add_argument("--limit", type=int, metavar="N", help="invia al massimo N righe")
    p.add_argument("--resend", default="", metavar="GRUPPI", help="reinvia anche: failed, uncertain, sent (separati da virgola)")
    p.add_argument("--in-doubt-wait", type=float, default=300.0, metavar="SECONDI",
                   help="attesa della ricevuta di accettazione per i messaggi in dubbio (predefinito 300)")
    p.add_argument("--retries", type=int, default=5, metavar="N", help="tentativi per gli errori temporanei (predefinito 5)")
    p.add_argument("--backoff", type=float, default=2.0, metavar="SECONDI", help="attesa iniziale tra i tentativi, in secondi")
    p.add_argument("--rate-limit-pause", type=float, default=60.0, metavar="SECONDI",
                   help="pausa quando il gestore chiede di rallentare, in secondi (predefinito 60)")
    p.add_argument("--connect-timeout", type=float, default=CONNECT_BUDGET, metavar="SECONDI",
                   help=f"per quanto tempo provare a raggiungere il server prima di rinunciare (predefinito {CONNECT_BUDGET:g})")
    p.add_argument("--background", action="store_true", help="invia in un processo separato e torna subito")
    p.add_argument("--json", action="store_true")
    p.add_argument("--confirmed", type=Path, help=argparse.SUPPRESS)  # the background worker's rows
    p.set_defaults(handler=cmd_send)

    p = subparsers.add_parser("test", help="invio di prova del messaggio di una riga al destinatario di prova")
    p.add_argument("path", type=Path)
    p.add_argument("--row", type=int, required=True)
    p.add_argument("--to", metavar="INDIRIZZO", help="indirizzo di prova (predefinito: Destinatario di prova, poi il mittente)")
    p.add_argument("--yes", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_test)

    p = subparsers.add_parser("check-connection", help="prova l'accesso SMTP e IMAP senza inviare")
    p.add_argument("path", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_check_connection)

    p = subparsers.add_parser("login", help="salva la password della casella nel portachiavi di sistema")
    p.add_argument("path", type=Path)
    p.add_argument("--allow-plaintext-keyring", action="store_true",
                   help="accetta un portachiavi che salva la password in un file in chiaro (es. keyrings.alt)")
    p.set_defaults(handler=cmd_login)

    p = subparsers.add_parser("status", help="avanzamento e stati dal registro degli invii")
    p.add_argument("path", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    p = subparsers.add_parser("stop", help="ferma un invio o un aggiornamento in corso dopo il messaggio corrente")
    p.add_argument("path", type=Path)
    p.set_defaults(handler=cmd_stop)


def cmd_send(args) -> int:
    from pecmass_xl.app import send as send_case
    from pecmass_xl.app.background import SendJob, spawn_worker
    from pecmass_xl.cli.terminal import TerminalReporter, TerminalUi
    from pecmass_xl.sending.engine import SendOptions
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    resend = send_case.parse_resend(args.resend)
    book = FileWorkbook(args.path)
    options = SendOptions(in_doubt_wait=args.in_doubt_wait, max_retries=args.retries, backoff_base=args.backoff,
                          rate_limit_pause=args.rate_limit_pause, connect_budget=args.connect_timeout)
    if args.confirmed:  # the background worker: the user confirmed these rows in `pecmass send --background`
        sent = send_case.send_confirmed(book, args.confirmed, resend, options, TerminalReporter(quiet=True))
        if sent.outcome is None:
            return _blocked(sent.plan)
        return _sent(sent.outcome, args)

    def start_worker(job: SendJob) -> int:

        return spawn_worker(["send", str(book.path), "--confirmed", str(job.confirmation), *job.resend_arguments(),
                             "--in-doubt-wait", str(args.in_doubt_wait), "--retries", str(args.retries),
                             "--backoff", str(args.backoff), "--rate-limit-pause", str(args.rate_limit_pause),
                             "--connect-timeout", str(args.connect_timeout)])

    start = send_case.send(book, TerminalUi(assume_yes=args.yes, json=args.json), resend, args.limit,
                           start_worker=start_worker if args.background else None, options=options,
                           reporter=TerminalReporter(quiet=args.json))
    if start.stage == send_case.BLOCKED:
        return _blocked(start.plan)
    if start.stage == send_case.DECLINED:
        print("Invio annullato.")
        return EXIT_CANNOT_RUN if not sys.stdin.isatty() else EXIT_OK
    if start.stage == send_case.NOTHING_DUE:
        print("Nessuna riga da inviare: tutte le righe valide sono già state consegnate al gestore.")
        return EXIT_OK
    if start.stage == send_case.BUSY:
        raise CannotRun(busy_message(start.plan.campaign_id, args.path))
    if start.stage == send_case.STARTED:
        print(f"Invio avviato in background (processo {start.pid}). Avanzamento: pecmass status {args.path}; "
              f"per fermarlo: pecmass stop {args.path}")
        return EXIT_OK
    return _sent(start.outcome, args)


def _blocked(plan) -> int:
    print("Errori generali: nessuna PEC inviata.")
    print_problems(plan.blocking)
    return EXIT_FAILED_ROWS


def _sent(outcome, args) -> int:
    if args.json:
        print_json(outcome.as_json())
    else:
        print(f"Campagna {outcome.campaign_id}: {plural(outcome.sent_now, 'PEC consegnata')} al gestore in questo invio.")
        print_counts(outcome.counts)
        for f in outcome.failed:
            print(f"  riga {f['row']} ({f['id']}): {f['status']} — {f['detail']}")
        if outcome.write_error:
            print(f"Avviso: risultati non scritti nel file ({clause(outcome.write_error)}). Sono nel registro: «pecmass status» li mostra.")
    if outcome.login_refused:
        print(f"Errore: {outcome.login_refused}", file=sys.stderr)
        return EXIT_LOGIN_REFUSED
    if outcome.unreachable:
        print(f"Errore: {outcome.unreachable}", file=sys.stderr)
        print("Le righe non inviate restano «Da inviare»: rilanciate l'invio quando il server è raggiungibile.", file=sys.stderr)
        return EXIT_CANNOT_RUN if not outcome.sent_now else EXIT_FAILED_ROWS
    return EXIT_FAILED_ROWS if outcome.has_failures else EXIT_OK


def cmd_test(args) -> int:
    from pecmass_xl.app.trial import trial_send
    from pecmass_xl.cli.terminal import TerminalUi
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    book = FileWorkbook(args.path)
    with invalid_settings_as(SETTINGS_TO_FIX):
        result = trial_send(book, TerminalUi(assume_yes=args.yes, json=args.json), args.row, to=args.to)
    if result is None:
        print("Invio di prova annullato.")
        return EXIT_OK
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
    from pecmass_xl.app import mailbox
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    with invalid_settings_as(SETTINGS_TO_FIX):
        report = mailbox.check_connection(FileWorkbook(args.path))
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
    from pecmass_xl.app import mailbox
    from pecmass_xl.cli.terminal import TerminalUi
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    with invalid_settings_as(SETTINGS_TO_FIX):
        settings = mailbox.password_settings(FileWorkbook(args.path))
    if settings.is_sandbox:
        print("Il gestore Sandbox non ha bisogno di password: la legge dalla cartella della sandbox.")
        return EXIT_OK
    secret = TerminalUi().ask_password(f"Password di {settings.login} ({settings.smtp_host}): ")
    where = mailbox.save_password(settings, secret or "", allow_plaintext=args.allow_plaintext_keyring)
    print(f"Password salvata {where} (mai nella cartella di lavoro).")
    return EXIT_OK


def cmd_status(args) -> int:
    from pecmass_xl.app import control
    from pecmass_xl.tracking.recover import lost_hint
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    book = FileWorkbook(args.path)
    status = control.status(book.read().campaign_id, book)
    if args.json:
        print_json(status.as_json())
        return EXIT_OK
    if not status.campaign:
        print("Nessun invio registrato per questa cartella di lavoro.")
        print_counts(status.counts)
        return EXIT_OK
    print(f"Campagna {status.campaign}: {'invio in corso' if status.running else 'nessun invio in corso'}.")
    info = status.progress
    if info.get("total"):
        print(f"Avanzamento dell'ultimo invio: {info.get('done', 0)}/{info['total']}.")
    print_counts(status.counts)
    if status.unknown_ids:
        print(lost_hint(status.unknown_ids))
    for label, to, state in status.tests:
        print(f"  prova {label} a {to}: {state}")
    last_sync = status.last_sync
    print(f"Ultimo aggiornamento ricevute: {rome_wall_clock(last_sync):%d/%m/%Y %H:%M}" if last_sync
          else "Ricevute mai aggiornate.")
    return EXIT_OK


def cmd_stop(args) -> int:
    from pecmass_xl.app import control
    from pecmass_xl.app.preconditions import campaign_of
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    if not control.stop(campaign_of(FileWorkbook(args.path))):
        print("Nessun invio o aggiornamento in corso per questa cartella di lavoro.")
        return EXIT_OK
    print("Richiesta di arresto inviata: il lavoro si ferma dopo il messaggio corrente.")
    return EXIT_OK
