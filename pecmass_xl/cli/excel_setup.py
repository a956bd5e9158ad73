"""`pecmass excel installa|verifica`: installs and checks what Excel needs to run the ribbon's buttons
(the xlwings add-in, the interpreter it starts, macro security); the work is in `app.excel_setup`."""

from __future__ import annotations

from pathlib import Path

from pecmass_xl.core.errors import EXIT_CANNOT_RUN, EXIT_OK


def register(subparsers) -> None:
    excel = subparsers.add_parser("excel", help="installa o verifica il collegamento tra Excel e pecmass (xlwings)")
    actions = excel.add_subparsers(dest="excel_command", metavar="AZIONE")
    install = actions.add_parser(
        "installa",
        help="installa il componente aggiuntivo xlwings e fa usare a Excel questo Python (con Excel chiuso)",
    )
    install.set_defaults(handler=cmd_excel_install)
    check = actions.add_parser(
        "verifica",
        help="controlla componente aggiuntivo, Python configurato, macro e blocchi di sicurezza; dice cosa fare",
    )
    check.add_argument("cartella", type=Path, nargs="?", help="la cartella di lavoro .xlsm da controllare (facoltativa)")
    check.set_defaults(handler=cmd_excel_check)
    excel.set_defaults(handler=lambda _args: excel.print_help() or EXIT_CANNOT_RUN)


def cmd_excel_install(args, env=None) -> int:
    from pecmass_xl.app import excel_setup

    env = env or excel_setup.Environment.current()
    for line in excel_setup.install(env):
        print(line)
    print()
    return _print_check(excel_setup.check(env))


def cmd_excel_check(args, env=None) -> int:
    from pecmass_xl.app import excel_setup

    return _print_check(excel_setup.check(env or excel_setup.Environment.current(), args.cartella))


def _print_check(report) -> int:
    print("\n".join(report.lines()))
    return EXIT_OK if report.ready else EXIT_CANNOT_RUN
