"""`pecmass build-template`: rebuilds the macro workbook (ribbon + VBA) from its text sources."""

from __future__ import annotations

from pathlib import Path

from pecmass_xl.core.errors import EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "build-template",
        help="ricrea workbook_template.xlsm (barra PEC Massiva e macro) dai sorgenti di testo",
    )
    p.add_argument(
        "out", type=Path, nargs="?", metavar="FILE",
        help="file .xlsm da scrivere (predefinito: le due copie del progetto, o ./workbook_template.xlsm)",
    )
    p.set_defaults(handler=cmd_build_template)


def cmd_build_template(args) -> int:
    from pecmass_xl.app.template import build_template_files

    for path in build_template_files(args.out):
        print(f"Creato il modello {path}.")
    return EXIT_OK
