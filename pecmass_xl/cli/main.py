"""The `pecmass` command: parses arguments, calls a use case, prints the result.

Each group of subcommands lives in its own module under `pecmass_xl.cli` and exposes
`register(subparsers)`; a handler returns the exit code of DESIGN §7.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys

from pecmass_xl import __version__
from pecmass_xl.core.errors import EXIT_CANNOT_RUN, PecmassError

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


class ItalianArgumentParser(argparse.ArgumentParser):
    """argparse exits with 2 on bad arguments, as DESIGN §7 wants; only the wording is ours."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised through the CLI tests
        self.print_usage(sys.stderr)
        self.exit(EXIT_CANNOT_RUN, f"pecmass: errore negli argomenti: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with a known `command`, only the group that registers it (same behaviour)."""
    parser = ItalianArgumentParser(prog="pecmass", description="PEC massiva personalizzata da un foglio Excel.")
    parser.add_argument("--version", action="version", version=f"pecmass {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="messaggi tecnici su stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMANDO", parser_class=ItalianArgumentParser)
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
    except KeyboardInterrupt:
        print("Interrotto.", file=sys.stderr)
        return 130
