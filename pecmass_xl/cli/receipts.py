"""`pecmass receipts` and `pecmass report`."""

from __future__ import annotations

import sys
from pathlib import Path

from pecmass_xl.campaign.checks import run_checks
from pecmass_xl.campaign.files import campaign_archive, open_journal
from pecmass_xl.campaign.settings import resolve_settings
from pecmass_xl.cli.common import print_counts
from pecmass_xl.cli.main import print_json
from pecmass_xl.core.errors import EXIT_FAILED_ROWS, EXIT_OK, CannotRun
from pecmass_xl.journal import campaign_lock
from pecmass_xl.mailclient.credentials import get_password
from pecmass_xl.sending import background
from pecmass_xl.tracking.follow import FollowOptions, update_receipts
from pecmass_xl.tracking.report import build_report, default_report_path
from pecmass_xl.workbook.file_workbook import FileWorkbook


def register(subparsers) -> None:
    p = subparsers.add_parser("receipts", help="legge le ricevute dalla casella e aggiorna le righe")
    p.add_argument("path", type=Path)
    p.add_argument("--follow", action="store_true", help="continua finché ogni riga ha un esito (al massimo 30 ore)")
    p.add_argument("--poll", type=float, default=60.0, help="secondi tra due letture con --follow (predefinito 60)")
    p.add_argument("--bounce-window", type=float, default=7200.0,
                   help="secondi di attesa di un rimbalzo per i destinatari non PEC (predefinito 7200)")
    p.add_argument("--background", action="store_true", help="lavora in un processo separato e torna subito")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_receipts)

    p = subparsers.add_parser("report", help="esporta il report CSV della campagna, anomalie per prime")
    p.add_argument("path", type=Path)
    p.add_argument("-o", "--output", type=Path, help="file CSV (predefinito: <cartella>_report_<AAAAMMGG-HHMM>.csv)")
    p.add_argument("--delimiter", choices=[";", ","], default=";")
    p.set_defaults(handler=cmd_report)


def cmd_receipts(args) -> int:
    book = FileWorkbook(args.path)
    sheet = book.read()
    settings, problems = resolve_settings(sheet.settings, sheet.message, sheet.folder)
    if any(p.severity == "error" for p in problems):
        raise CannotRun("Impostazioni non valide: eseguite «pecmass check» per i dettagli.")
    if not sheet.campaign_id:
        raise CannotRun("Questa cartella di lavoro non ha ancora inviato nulla: nessuna ricevuta da cercare.")
    password = get_password(settings)
    if args.background:
        if background.worker_running(sheet.campaign_id):
            raise CannotRun(_busy_message(sheet.campaign_id, args.path))
        forwarded = [str(Path(args.path).resolve()), "--follow", "--poll", str(args.poll),
                     "--bounce-window", str(args.bounce_window)]
        pid = background.spawn_worker(["receipts", *forwarded])
        print(f"Aggiornamento delle ricevute avviato in background (processo {pid}); per fermarlo: pecmass stop {args.path}")
        return EXIT_OK
    # One reader of the mailbox per campaign at a time (a send's in-doubt search included): the
    # archive manifests are rewritten by one process only.
    lock = campaign_lock(sheet.campaign_id)
    if not lock.try_acquire():
        raise CannotRun(_busy_message(sheet.campaign_id, args.path))
    try:
        def show(outcome) -> None:
            if not args.json and args.follow:
                print(f"Lettura {outcome.rounds}: {outcome.sync.recorded} ricevute nuove, {outcome.pending} righe in attesa.", file=sys.stderr)

        options = FollowOptions(follow=args.follow, poll_seconds=args.poll, bounce_window=args.bounce_window)
        outcome = update_receipts(book, password, options, on_round=show, sheet=sheet)
    finally:
        lock.release()
    if args.json:
        print_json(outcome.as_json())
    else:
        print(f"Ricevute: {outcome.sync.scanned} messaggi esaminati, {outcome.sync.recorded} ricevute nuove registrate.")
        print_counts(outcome.counts)
        for a in outcome.anomalies:
            print(f"  anomalia {a['id']}: {a['reason']} — {a['detail'] or '—'} (firma {a['signature'] or '—'})")
        if outcome.write_error:
            print(f"Avviso: risultati non scritti nel file ({outcome.write_error}).")
        if outcome.error:
            print(f"Avviso: {outcome.error}")
    if outcome.error or outcome.write_error:
        return EXIT_FAILED_ROWS
    return EXIT_FAILED_ROWS if any(a["failure"] for a in outcome.anomalies) else EXIT_OK


def _busy_message(campaign: str, path: Path) -> str:
    owner = campaign_lock(campaign).owner() or {}
    who = f" (processo {owner['pid']})" if "pid" in owner else ""
    return (f"Un invio o un aggiornamento delle ricevute di questa cartella di lavoro è già in corso{who} e aggiorna "
            f"le righe da sé. Per fermarlo: pecmass stop {path}")


def cmd_report(args) -> int:
    book = FileWorkbook(args.path)
    report = run_checks(book.read())
    out = args.output or default_report_path(book.path)
    archive_root = campaign_archive(book.path, report.settings)
    campaign = report.sheet.campaign_id
    if campaign:
        with open_journal(campaign) as journal:
            summary = build_report(report, journal, archive_root, out, args.delimiter)
    else:
        summary = build_report(report, None, archive_root, out, args.delimiter)
    print(f"Report di {summary.rows} righe ({summary.anomalies} anomalie, elencate per prime) in {summary.path}.")
    print_counts(summary.counts)
    return EXIT_OK
