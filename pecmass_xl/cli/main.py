"""The `pecmass` command: parses arguments, calls a use case, prints the result.

Each group of subcommands lives in its own module under `pecmass_xl.cli` and exposes
`register(subparsers)`; a handler returns the exit code of DESIGN §7.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import sys
from pathlib import Path

from pecmass_xl import __version__
from pecmass_xl.core.errors import EXIT_CANNOT_RUN, EXIT_FAILED_ROWS, PecmassError

# Each module under pecmass_xl.cli and the commands it registers. A command imports only its own
# group (a lighter start: `send` needs neither the sandbox's servers nor the receipts' signature
# checks); a test checks this table against what the modules really register, and a command missing
# here still works, with every group imported.
COMMAND_GROUPS = {
    "pecmass_xl.cli.workbook": ("new", "import-csv", "check", "preview"),
    "pecmass_xl.cli.send": ("send", "test", "check-connection", "login", "status", "stop"),
    "pecmass_xl.cli.receipts": ("receipts", "report"),
    "pecmass_xl.cli.demo": ("demo",),
    "pecmass_xl.cli.sandbox": ("sandbox",),
    "pecmass_xl.cli.template": ("build-template",),
    "pecmass_xl.cli.excel_setup": ("excel",),
}
COMMAND_MODULES = list(COMMAND_GROUPS)
COMMAND_OWNERS = {command: module for module, commands in COMMAND_GROUPS.items() for command in commands}

log = logging.getLogger("pecmass.cli")


# argparse's own texts (it reads them through gettext, which has no Italian catalogue for it).
ARGPARSE_TEXTS = {
    "usage: ": "uso: ",
    "positional arguments": "argomenti",
    "options": "opzioni",
    "optional arguments": "opzioni",
    "show this help message and exit": "mostra questo aiuto ed esce",
    "show program's version number and exit": "mostra la versione di pecmass ed esce",
    "the following arguments are required: %s": "mancano questi argomenti: %s",
    "unrecognized arguments: %s": "argomenti non riconosciuti: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "scelta non valida: %(value)r (valori ammessi: %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argomento %(argument_name)s: %(message)s",
    "expected one argument": "serve un valore",
    "expected at most one argument": "al massimo un valore",
    "expected at least one argument": "almeno un valore",
    "invalid %(type)s value: %(value)r": "valore non valido: %(value)r",
    "ambiguous option: %(option)s could match %(matches)s": "opzione ambigua: %(option)s può essere %(matches)s",
    "not allowed with argument %s": "non ammesso insieme a %s",
    "one of the arguments %s is required": "serve uno di questi argomenti: %s",
    "ignored explicit argument %r": "valore %r ignorato",
    "%(prog)s: error: %(message)s\n": "%(prog)s: errore: %(message)s\n",
}
ARGPARSE_PLURALS = {"expected %s argument": ("serve %s valore", "servono %s valori")}

# Arguments every subcommand shares: one wording, and none of them left without help.
COMMON_HELP = {
    "path": ("FILE", "la cartella di lavoro (file .xlsx o .xlsm)"),
    "json": (None, "stampa un solo documento JSON su stdout (i messaggi vanno su stderr)"),
    "yes": (None, "conferma senza chiedere (necessario senza terminale)"),
    "row": ("N", "numero della riga di Excel nel foglio Destinatari (la prima è la 2)"),
}


def _italian(message: str) -> str:
    return ARGPARSE_TEXTS.get(message, message)


def _italian_n(singular: str, plural: str, n: int) -> str:
    one, many = ARGPARSE_PLURALS.get(singular, (singular, plural))
    return one if n == 1 else many


@contextlib.contextmanager
def _argparse_in_italian():
    """argparse reads its texts through module globals `_` and `ngettext`: swap them while we use it."""
    saved = argparse._, argparse.ngettext
    argparse._, argparse.ngettext = _italian, _italian_n
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved


class ItalianHelpFormatter(argparse.HelpFormatter):
    def _format_usage(self, usage, actions, groups, prefix):
        with _argparse_in_italian():
            return super()._format_usage(usage, actions, groups, prefix)


class ItalianArgumentParser(argparse.ArgumentParser):
    """argparse in Italian; exits with 2 on bad arguments, as DESIGN §7 wants."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", ItalianHelpFormatter)
        with _argparse_in_italian():
            super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        name = (args[0] if args else kwargs.get("dest", "")).lstrip("-").replace("-", "_")
        if name in COMMON_HELP:
            metavar, text = COMMON_HELP[name]
            kwargs.setdefault("help", text)
            if metavar:
                kwargs.setdefault("metavar", metavar)
        with _argparse_in_italian():
            return super().add_argument(*args, **kwargs)

    def parse_args(self, *args, **kwargs):
        with _argparse_in_italian():
            return super().parse_args(*args, **kwargs)

    def parse_known_args(self, *args, **kwargs):
        with _argparse_in_italian():
            return super().parse_known_args(*args, **kwargs)

    def format_help(self) -> str:
        with _argparse_in_italian():
            return super().format_help()

    def format_usage(self) -> str:
        with _argparse_in_italian():
            return super().format_usage()

    def error(self, message: str) -> None:  # pragma: no cover - exercised through the CLI tests
        self.print_usage(sys.stderr)
        self.exit(EXIT_CANNOT_RUN, f"pecmass: errore negli argomenti: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with a known `command`, only the group that registers it (same behaviour)."""
    parser = ItalianArgumentParser(prog="pecmass", description="PEC massiva personalizzata da un foglio Excel.")
    parser.add_argument("--version", action="version", version=f"pecmass {__version__}",
                        help="mostra la versione di pecmass ed esce")
    parser.add_argument("-v", "--verbose", action="store_true", help="messaggi tecnici su stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMANDO", parser_class=ItalianArgumentParser,
                                       title="comandi", help="pecmass COMANDO -h mostra l'aiuto di un comando")
    owner = COMMAND_OWNERS.get(command or "")
    for name in [owner] if owner else COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a command group not built yet
            raise
        module.register(subparsers)
    return parser


def print_json(document: object) -> None:
    """One JSON document on stdout (logs go to stderr)."""
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _command_word(argv: list[str]) -> str | None:
    """The subcommand named on the command line (after -v/--verbose), if any."""
    words = [word for word in argv if word not in ("-v", "--verbose")]
    return words[0] if words and not words[0].startswith("-") else None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(_command_word(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    from pecmass_xl.core.logging_setup import configure_logging  # not needed by --help

    configure_logging(verbose=args.verbose)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        return int(args.handler(args))
    except PecmassError as exc:
        print(f"Errore: {exc}", file=sys.stderr)
        return exc.exit_code
    except PermissionError as exc:  # a read-only folder or file reached outside the checks: name it
        from pecmass_xl.core.paths import not_writable_message

        print(f"Errore: {not_writable_message(Path(exc.filename or '.'), 'file di pecmass', exc)}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("Interrotto.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a defect of ours: logged with its frames, said in Italian
        return _unexpected(exc, args.verbose)


def _unexpected(exc: Exception, verbose: bool) -> int:
    """An error pecmass did not foresee: the log gets the type and the frames (never the message, which
    may carry an address); the user gets Italian words and where the details are, not a traceback."""
    import traceback

    from pecmass_xl.core.paths import log_file

    frames = "".join(traceback.format_tb(exc.__traceback__))
    logging.getLogger("pecmass.cli").error("unexpected %s\n%s", type(exc).__name__, frames)
    print("Errore imprevisto: l'operazione non è stata completata. Quanto già inviato è nel registro "
          f"della campagna; i dettagli tecnici sono nel file di registro di pecmass: {log_file()}.", file=sys.stderr)
    if verbose:
        traceback.print_exception(exc)
    return EXIT_FAILED_ROWS
