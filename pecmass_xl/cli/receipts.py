"""`pecmass receipts` and `pecmass report`."""

from __future__ import annotations

import sys
from pathlib import Path

from pecmass_xl.cli.common import busy_message, invalid_settings_as, print_counts
from pecmass_xl.cli.main import print_json
from pecmass_xl.core.errors import EXIT_FAILED_ROWS, EXIT_OK, CannotRun
from pecmass_xl.core.italian import clause, plural

SETTINGS_TO_CHECK = "Impostazioni non valide: eseguite «pecmass check» per i dettagli."
DEFAULT_POLL = 60.0
SANDBOX_POLL = 2.0


def _poll_seconds(args, book) -> float:
    """`--poll`, else one minute; against a time-scaled sandbox a few seconds (its minutes are short)."""
    if args.poll is not None:
        return args.poll
    from pecmass_xl.campaign.settings import resolve_settings
    from pecmass_xl.tracking.follow import provider_time_scale

    sheet = book.read()
    settings, _problems = resolve_settings(sheet.settings, sheet.message, sheet.folder)
    return SANDBOX_POLL if provider_time_scale(settings) > 1 else DEFAULT_POLL


def register(subparsers) -> None:
    p = subparsers.add_parser("receipts", help="legge le ricevute dalla casella e aggiorna le righe")
    p.add_argument("path", type=Path)
    p.add_argument("--follow", action="store_true", help="continua finché ogni riga ha un esito (al massimo 30 ore)")
    p.add_argument("--poll", type=float, default=None, metavar="SECONDI",
                   help="secondi tra due letture con --follow (predefinito 60; con una sandbox accelerata, 2)")
    p.add_argument("--bounce-window", type=float, default=7200.0, metavar="SECONDI",
                   help="secondi di attesa di un rimbalzo per i destinatari non PEC (predefinito 7200)")
    p.add_argument("--background", action="store_true", help="lavora in un processo separato e torna subito")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_receipts)

    p = subparsers.add_parser("report", help="esporta il report CSV della campagna, anomalie per prime")
    p.add_argument("path", type=Path)
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="file CSV (predefinito: <cartella>_report_<AAAAMMGG-HHMM>.csv)")
    p.add_argument("--delimiter", choices=[";", ","], default=";", help="separatore delle colonne del CSV (predefinito ;)")
    p.set_defaults(handler=cmd_report)


def cmd_receipts(args) -> int:
    from pecmass_xl.app import receipts as receipts_case
    from pecmass_xl.journal import SendInProgress
    from pecmass_xl.tracking.follow import FollowOptions
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    book = FileWorkbook(args.path)
    if args.background:
        def start_worker() -> int:
            from pecmass_xl.app.background import spawn_worker

            return spawn_worker(["receipts", str(book.path), "--follow", "--poll", str(_poll_seconds(args, book)),
                                 "--bounce-window", str(args.bounce_window)])

        with invalid_settings_as(SETTINGS_TO_CHECK, list_problems=False):
            start = receipts_case.start_in_background(book, start_worker)
        if start.stage == receipts_case.NO_CAMPAIGN:
            raise receipts_case.NothingSent()
        if start.stage == receipts_case.BUSY:
            raise CannotRun(busy_message(start.campaign_id, args.path))
        print(f"Aggiornamento delle ricevute avviato in background (processo {start.pid}); per fermarlo: pecmass stop {args.path}")
        return EXIT_OK

    def show(outcome) -> None:
        if not args.json and args.follow:
            print(f"Lettura {outcome.rounds}: {plural(outcome.sync.recorded, 'ricevuta nuova')}, "
                  f"{plural(outcome.pending, 'riga')} in attesa.", file=sys.stderr)

    options = FollowOptions(follow=args.follow, poll_seconds=_poll_seconds(args, book), bounce_window=args.bounce_window)
    try:
        with invalid_settings_as(SETTINGS_TO_CHECK, list_problems=False):
            outcome = receipts_case.update(book, options, on_round=show)
    except SendInProgress as exc:
        raise CannotRun(busy_message(book.read().campaign_id, args.path)) from exc
    if args.json:
        print_json(outcome.as_json())
    else:
        print(f"Ricevute: {plural(outcome.sync.scanned, 'messaggio esaminato')}, {plural(outcome.sync.recorded, 'ricevuta nuova registrata')}.")
        print_counts(outcome.counts)
        for a in outcome.anomalies:
            where = f"riga {a['row']}" if a["row"] else "riga non più nel foglio"
            print(f"  {where}, {a['to'] or '—'} ({a['id']}): {a['reason']} — {clause(a['detail'] or '—')} "
                  f"(firma {a['signature'] or '—'})")
        if outcome.sync.unreadable:
            print(f"Ricevute illeggibili: {outcome.sync.unreadable}, conservate nella cartella «quarantena» "
                  "dell'archivio; saranno rilette alla prossima lettura.")
        if outcome.write_error:
            print(f"Avviso: risultati non scritti nel file ({clause(outcome.write_error)}).")
        if outcome.error:
            print(f"Avviso: {outcome.error}")
    if outcome.error or outcome.write_error or outcome.sync.unreadable:
        return EXIT_FAILED_ROWS
    return EXIT_FAILED_ROWS if any(a["failure"] for a in outcome.anomalies) else EXIT_OK


def cmd_report(args) -> int:
    from pecmass_xl.app.report import export_report
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    summary = export_report(FileWorkbook(args.path), args.output, args.delimiter)
    print(f"Report di {plural(summary.rows, 'riga')} ({plural(summary.anomalies, 'anomalia')}, elencate per prime) in {summary.path}.")
    if summary.unreadable:
        print(f"Ricevute illeggibili: {summary.unreadable} (in quarantena nell'archivio; la prima riga del report le conta).")
    print_counts(summary.counts)
    return EXIT_OK
