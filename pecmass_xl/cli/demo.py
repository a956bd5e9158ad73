"""`pecmass demo`: the whole flow against the embedded sandbox (never asks: nothing leaves the computer)."""

from __future__ import annotations

import sys
from pathlib import Path

from pecmass_xl.cli.common import print_counts
from pecmass_xl.cli.main import print_json
from pecmass_xl.core.errors import EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="prova completa con il gestore PEC locale (sandbox)")
    p.add_argument("--dir", type=Path, default=Path("pecmass-demo"), metavar="CARTELLA", help="cartella della prova (predefinita ./pecmass-demo)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args) -> int:
    from pecmass_xl.app.demo import run_demo
    from pecmass_xl.cli.terminal import TerminalReporter
    from pecmass_xl.workbook import contract as c

    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    result = run_demo(args.dir, TerminalReporter(quiet=args.json), say)
    if args.json:
        print_json(result.as_json())
        return EXIT_OK
    print()
    print(f"{'Riga':>4}  {'Destinatario':<46} {c.COL_STATUS:<20} {c.COL_OUTCOME:<22} {c.COL_SIGNATURE}")
    for row in result.rows:
        print(f"{row['row']:>4}  {row['to']:<46} {row['status']:<20} {row['esito']:<22} {row['firma']}")
    print()
    print_counts(result.counts)
    print()
    print(f"Cartella di lavoro con le colonne dei risultati: {result.workbook}")
    print(f"Report CSV (anomalie per prime):                 {result.report}")
    print(f"Archivio delle ricevute (.eml + SHA256SUMS.txt):  {result.archive}")
    return EXIT_OK
