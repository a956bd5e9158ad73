"""The `app.ui.Ui` of the terminal, and the send's progress bar.

Texts go to stdout (stderr with `--json`, which keeps stdout for the one JSON document); a question
is asked only on a terminal, never on a pipe: without one, `--yes` is needed where a real provider
would be used.
"""

from __future__ import annotations

import getpass
import sys
import time
from pathlib import Path

from pecmass_xl.app.ui import SendFacts
from pecmass_xl.cli.common import ask_yes_no
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.italian import duration, plural
from pecmass_xl.sending.engine import Reporter


class TerminalUi:
    """`assume_yes`: --yes was given; `json`: stdout is reserved for the JSON document."""

    def __init__(self, assume_yes: bool = False, json: bool = False):
        self.assume_yes = assume_yes
        self.out = sys.stderr if json else sys.stdout

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def info(self, text: str) -> None:
        self.say(text)

    def error(self, text: str) -> None:
        print(text, file=sys.stderr)

    def confirm(self, text: str) -> bool:
        return self.assume_yes or ask_yes_no(text)

    def choose_csv(self) -> Path | None:
        return None  # the CSV is an argument on the command line

    def ask_password(self, prompt: str) -> str | None:
        if not sys.stdin.isatty():
            raise CannotRun("Serve un terminale per digitare la password (oppure usate PECMASS_PASSWORD).")
        return getpass.getpass(prompt)

    def open_folder(self, folder: Path) -> None:
        self.say(str(folder))

    def status(self, text: str | None) -> None:
        """Nothing: on the terminal the progress bar (TerminalReporter) shows the long work."""

    def confirm_send(self, facts: SendFacts) -> bool:
        self.say(f"Da inviare: {plural(facts.rows, 'PEC')} da {facts.mailbox} (gestore {facts.provider}), {facts.pace_text}, "
                 f"durata stimata {duration(facts.estimated_seconds)}.")
        if facts.attachments:
            self.say(facts.attachments)
        if facts.adopted:
            self.say(plural(facts.adopted, "riga riconosciuta come già inviata", "righe riconosciute come già inviate")
                     + " (ID invio ripristinato, nessun nuovo invio).")
        if facts.invalid:
            self.say(plural(facts.invalid, "riga con errori non sarà inviata", "righe con errori non saranno inviate")
                     + " (pecmass check per i dettagli).")
        for warning in facts.warnings:
            self.say(f"Avviso: {warning}")
        if facts.notice:
            self.say(f"\n{facts.notice}\n")
            if not self.assume_yes and not sys.stdin.isatty():
                raise CannotRun("Conferma necessaria ma nessun terminale: aggiungete --yes per confermare l'avviso e inviare.")
            if not (self.assume_yes or ask_yes_no("Avete letto l'avviso e confermate?")):
                return False
            facts.acknowledge_notice()
        if not facts.rows or self.assume_yes:
            return True
        if not sys.stdin.isatty():
            if facts.is_sandbox:
                return True  # the sandbox is local: nothing leaves the computer
            raise CannotRun("Conferma necessaria ma nessun terminale: aggiungete --yes per inviare.")
        return ask_yes_no("Procedere con l'invio?")

    def confirm_test(self, row: int, to: str) -> bool:
        if self.assume_yes:
            return True
        if not sys.stdin.isatty():
            raise CannotRun("Conferma necessaria ma nessun terminale: aggiungete --yes per l'invio di prova.")
        return ask_yes_no(f"Inviare una PEC di prova (riga {row}) a {to}?")


class TerminalReporter(Reporter):
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.started = 0.0

    def start(self, total: int) -> None:
        self.started = time.monotonic()
        if not self.quiet and total:
            print(f"Invio di {plural(total, 'PEC')}…", file=sys.stderr)

    def row_done(self, done: int, total: int, row_number: int, status: str) -> None:
        if self.quiet:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed * 60
        eta = (total - done) / (done / elapsed) if done else 0
        line = f"[{'#' * int(30 * done / total):<30}] {done}/{total}  {rate:.0f}/min  ancora {eta:.0f} s"
        if self.tty:
            print("\r" + line, end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % 50 == 0:
            print(line, file=sys.stderr)

    def message(self, text: str) -> None:
        if not self.quiet:
            print(("\n" if self.tty else "") + text, file=sys.stderr)
