"""Small helpers shared by the subcommands: confirmations and problem listings."""

from __future__ import annotations

import sys

from pecmass_xl.campaign.problems import ERROR, Problem


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
