"""`pecmass new`, `import-csv`, `check`, `preview`: preparing a campaign (nothing is sent)."""

from __future__ import annotations

import sys
from pathlib import Path

from pecmass_xl.cli.common import count_severity, lossy_confirmation, print_problems
from pecmass_xl.cli.main import print_json
from pecmass_xl.core.errors import EXIT_FAILED_ROWS, EXIT_OK, CannotRun
from pecmass_xl.core.italian import describe_error, format_number, plural


def register(subparsers) -> None:
    p = subparsers.add_parser("new", help="crea una cartella di lavoro pronta da compilare")
    p.add_argument("path", type=Path, help="file .xlsx (o .xlsm) da creare")
    p.set_defaults(handler=cmd_new)

    p = subparsers.add_parser("import-csv", help="importa l'elenco dei destinatari da un CSV")
    p.add_argument("csv", type=Path, metavar="CSV", help="file CSV con le intestazioni nella prima riga (separatore , ; o tabulazione)")
    p.add_argument("path", type=Path, help="cartella di lavoro (creata se non esiste)")
    p.add_argument("--replace", action="store_true", help="sostituisce un elenco non vuoto")
    p.set_defaults(handler=cmd_import_csv)

    p = subparsers.add_parser("check", help="controlla ogni riga senza inviare nulla")
    p.add_argument("path", type=Path)
    p.add_argument("--json", action="store_true", help="stampa un documento JSON")
    p.add_argument("--write", action="store_true", help="scrive Stato invio e Dettaglio nelle righe")
    p.add_argument("--yes", action="store_true", help="non chiede conferme")
    p.set_defaults(handler=cmd_check)

    p = subparsers.add_parser("preview", help="mostra il messaggio esatto di una riga")
    p.add_argument("path", type=Path)
    p.add_argument("--row", type=int, required=True, help="numero di riga di Excel (dalla 2)")
    p.add_argument("--eml", type=Path, metavar="FILE", help="salva il messaggio in questo file .eml")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_preview)


def cmd_new(args) -> int:
    from pecmass_xl.app.new import new_workbook

    path = new_workbook(args.path)
    print(f"Creata la cartella di lavoro {path}.")
    print("Compilate Destinatari, Messaggio e Impostazioni, poi: pecmass check " + str(path))
    return EXIT_OK


def cmd_import_csv(args) -> int:
    from pecmass_xl.app.import_list import import_csv_file

    def may_replace(existing: int, _new: int) -> bool:
        if not args.replace:
            raise CannotRun(
                f"Il foglio Destinatari contiene già {plural(existing, 'riga')}: usate --replace per "
                f"{'sostituirla' if existing == 1 else 'sostituirle'} "
                "(il registro degli invii già fatti resta: nessuna PEC partirà due volte)."
            )
        return True

    result = import_csv_file(args.csv, args.path, may_replace)
    warnings = list(result.warnings)
    if result.missing_address_column:
        warnings.append(f"Il CSV non ha la colonna «{result.missing_address_column}» (Colonna indirizzo): "
                        "indicate in Impostazioni quale colonna contiene la PEC.")
    for warning in warnings:
        print(f"Avviso: {warning}", file=sys.stderr)
    separator = {";": "punto e virgola", ",": "virgola", "\t": "tabulazione"}[result.delimiter]
    print(f"{'Importata' if result.rows == 1 else 'Importate'} {plural(result.rows, 'riga')} ({plural(len(result.headers), 'colonna')}, separatore {separator}, codifica {result.encoding}) in {args.path}.")
    return EXIT_OK


def cmd_check(args) -> int:
    from pecmass_xl.app.check import check
    from pecmass_xl.workbook.file_workbook import FileWorkbook  # not needed by --help

    book = FileWorkbook(args.path)
    report = check(book, write=args.write, confirm_lossy=lossy_confirmation(args.yes))
    problems = report.problems
    errors, warnings = count_severity(problems)
    if args.json:
        print_json(report.as_json())
    else:
        print_problems(problems)
        ok_rows = sum(1 for r in report.rows if r.ok)
        print(f"{plural(len(report.rows), 'riga')}: {ok_rows} {'pronta' if ok_rows == 1 else 'pronte'}, {len(report.rows) - ok_rows} con errori; {plural(errors, 'errore')}, {plural(warnings, 'avviso')}.")
        if args.write:
            print("Stato invio e Dettaglio aggiornati nel foglio Destinatari.")
    return EXIT_FAILED_ROWS if errors else EXIT_OK


def cmd_preview(args) -> int:
    from pecmass_xl.app.preview import preview
    from pecmass_xl.workbook.file_workbook import FileWorkbook  # not needed by --help

    book = FileWorkbook(args.path)
    result, problems = preview(book, args.row)
    if result is None:
        if args.json:
            print_json({"row": args.row, "problems": [p.as_dict() for p in problems]})
        else:
            print(f"La riga {args.row} ha errori e non verrebbe inviata:")
            print_problems(problems)
        return EXIT_FAILED_ROWS
    if args.eml:
        try:
            args.eml.write_bytes(result.eml)
        except OSError as exc:
            raise CannotRun(f"Non riesco a scrivere «{args.eml}» ({describe_error(exc)}).") from exc
    if args.json:
        print_json(result.as_json())
        return EXIT_OK
    print(f"Riga {result.row}")
    print(f"A:        {result.to}")
    print(f"Oggetto:  {result.subject}")
    print("Allegati: " + (", ".join(f"{a['name']} ({_size(a['size'])})" for a in result.attachments) or "nessuno"))
    print(f"Dimensione del messaggio codificato: {_size(result.size)}")
    if result.placeholder:
        print("Nota: ID invio e tentativo non esistono ancora (la riga non è in coda): il Message-ID mostra un segnaposto.")
    print("-" * 72)
    print(result.text)
    print("-" * 72)
    if args.eml:
        print(f"Messaggio salvato in {args.eml}.")
    warnings = [p for p in problems if p.severity != "error"]
    if warnings:
        print_problems(warnings)
    return EXIT_OK


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} byte"
    if size < 1024 * 1024:
        return f"{format_number(size / 1024)} KB"
    return f"{format_number(size / 1024 / 1024)} MB"
