"""The `app.ui.Ui` of Excel: message boxes through xlwings, dialogs in Python, the status bar.

`ExcelDialogue` words the use cases' questions for a message box; it needs only `confirm`, so a
scripted Ui in the tests inherits it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pecmass_xl.app.ui import SendFacts
from pecmass_xl.core.italian import duration, plural
from pecmass_xl.excel import dialogs
from pecmass_xl.excel.live_workbook import ExcelWorkbook

TITLE = "PEC Massiva"


def minutes_text(seconds: float) -> str:
    if seconds < 90:
        return "meno di due minuti"
    return f"circa {duration(seconds)}"


class ExcelDialogue:
    """The questions of the use cases, as Excel asks them (one message box each)."""

    def confirm(self, text: str) -> bool:
        raise NotImplementedError

    def confirm_send(self, facts: SendFacts) -> bool:
        if facts.notice:
            if not self.confirm(f"{facts.notice}\n\nAvete letto l'avviso e confermate?"):
                return False
            facts.acknowledge_notice()
        lines = [
            f"{'Reinviare' if facts.resend else 'Inviare'} {plural(facts.rows, 'PEC')} da {facts.mailbox} (gestore {facts.provider})?",
            f"Ritmo: {facts.pace_text}; durata stimata: {minutes_text(facts.estimated_seconds)}.",
        ]
        if facts.attachments:
            lines.append(facts.attachments)
        if facts.invalid:
            lines.append(plural(facts.invalid, "riga con errori non sarà inviata", "righe con errori non saranno inviate")
                         + " (Verifica le segna).")
        lines += [f"Avviso: {w}" for w in facts.warnings]
        lines += ["", "La cartella di lavoro viene salvata; Excel resta utilizzabile durante l'invio "
                  "(avanzamento nella barra di stato, Interrompi per fermarlo)."]
        return self.confirm("\n".join(lines))

    def confirm_test(self, row: int, to: str) -> bool:
        return self.confirm(f"Inviare una PEC di prova con il messaggio della riga {row} a {to}?")


class ExcelUi(ExcelDialogue):
    """Message boxes through Excel (xlwings' `App.alert`), dialogs in Python, Excel's status bar."""

    def __init__(self, book: ExcelWorkbook):
        self.book = book
        self.status_shown = False  # the handler gives the Mac status bar back when nothing was shown

    def info(self, text: str) -> None:
        self.book.app.alert(text, title=TITLE, buttons="ok", mode="info")

    def error(self, text: str) -> None:
        self.book.app.alert(text, title=TITLE, buttons="ok", mode="critical")

    def confirm(self, text: str) -> bool:
        return self.book.app.alert(text, title=TITLE, buttons="yes_no") == "yes"

    def choose_csv(self) -> Path | None:
        return dialogs.choose_csv(self.book.folder)

    def ask_password(self, prompt: str) -> str | None:
        return dialogs.ask_password(prompt)

    def open_folder(self, folder: Path) -> None:
        if sys.platform.startswith("win"):
            os.startfile(folder)  # type: ignore[attr-defined]
        else:
            subprocess.Popen(["open" if sys.platform == "darwin" else "xdg-open", str(folder)])

    def status(self, text: str | None) -> None:
        self.status_shown = True
        self.book.set_status(text)
