"""`pecmass build-template`: rebuilds the macro workbook (ribbon + VBA) from its text sources."""

from __future__ import annotations

from pathlib import Path

from pecmass_xl.core.errors import EXIT_OK, CannotRun


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "build-template",
        help="ricrea workbook_template.xlsm (barra PEC Massiva e macro) dai sorgenti di testo",
    )
    p.add_argument(
        "out", type=Path, nargs="?",
        help="file .xlsm da scrivere (predefinito: le due copie del progetto, o ./workbook_template.xlsm)",
    )
    p.set_defaults(handler=cmd_build_template)


def cmd_build_template(args) -> int:
    from pecmass_xl.excel import build

    if args.out is not None:
        outputs = [args.out]
    elif build.repo_root() is not None:
        outputs = build.default_outputs()
    else:  # an installed package: do not write into site-packages
        outputs = [Path.cwd() / build.TEMPLATE_NAME]
    for out in outputs:
        if out.suffix.lower() != ".xlsm":
            raise CannotRun(f"«{out.name}»: il modello deve avere estensione .xlsm.")
        if not out.parent.is_dir():
            raise CannotRun(f"La cartella «{out.parent}» non esiste.")
    for path in build.write_template(outputs):
        print(f"Creato il modello {path}.")
    return EXIT_OK
