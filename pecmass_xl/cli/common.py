"""Small helpers shared by the subcommands: confirmations, problem listings, the wording of errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pecmass_xl.campaign.problems import ERROR, Problem
from pecmass_xl.core.errors import CannotRun


def ask_yes_no(question: str) -> bool:
    """Ask on the terminal; False when there is none (never wait on a pipe)."""
    if not sys.stdin or not sys.stdin.isatty():
        return False
    try:
        answer = input(f"{question} [s/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("s", "si", "sì", "y", "yes")


def lossy_confirmation(assume_yes: bool):
    def confirm(losses: list[str]) -> bool:
        text = ", ".join(losses)
        print(f"Attenzione: la cartella di lavoro contiene {text}; la scrittura da riga di comando potrebbe perderli.", file=sys.stderr)
        return assume_yes or ask_yes_no("Scrivere comunque?")
    return confirm


def print_problems(problems: list[Problem], stream=None) -> None:
    stream = stream or sys.stdout
    for p in sorted(problems, key=lambda p: (p.row is not None, p.row or 0, p.severity != ERROR)):
        print(f"  {p}", file=stream)


def count_severity(problems: list[Problem]) -> tuple[int, int]:
    errors = sum(1 for p in problems if p.severity == ERROR)
    return errors, len(problems) - errors


def print_counts(counts: dict[str, int]) -> None:
    """Rows per `Stato invio`, most frequent first."""
    for status, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {status}: {n}")


@contextmanager
def invalid_settings_as(message: str, list_problems: bool = True) -> Iterator[None]:
    """The CLI's wording of `app.preconditions.InvalidSettings`: the errors on stderr, then `message`."""
    from pecmass_xl.app.preconditions import InvalidSettings

    try:
        yield
    except InvalidSettings as exc:
        if list_problems:
            print_problems(exc.problems, sys.stderr)
        raise CannotRun(message) from exc


def busy_message(campaign: str, path: Path) -> str:
    from pecmass_xl.journal import campaign_lock

    owner = campaign_lock(campaign).owner() or {}
    who = f" (processo {owner['pid']})" if "pid" in owner else ""
    return (f"Un invio o un aggiornamento delle ricevute di questa cartella di lavoro è già in corso{who} e aggiorna "
            f"le righe da sé. Per fermarlo: pecmass stop {path}")
