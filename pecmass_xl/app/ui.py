"""The one interface between a use case and whoever is in front of the user: a terminal or Excel.

The CLI (`cli.terminal.TerminalUi`) and the ribbon (`excel.excel_ui.ExcelUi`) implement it; each
words its own texts, the use case decides what happens and in which order. Results a use case
returns (dataclasses) are presented by the front; questions the use case must ask go through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass
class SendFacts:
    """What the user confirms before a send: rows, sender, pace, estimated time, notices."""

    rows: int
    mailbox: str
    provider: str
    pace_per_minute: int | None
    estimated_seconds: float
    adopted: int  # rows recognised as already handed over (their ID invio comes back)
    invalid: int  # rows with errors, not sent
    warnings: list[str] = field(default_factory=list)
    attachments: str = ""  # how many attachments leave and their total size (SendPlan.attachments_line)
    resend: bool = False
    is_sandbox: bool = False
    notice: str | None = None  # the provider's contract notice, when this mailbox has not acknowledged it yet
    acknowledge_notice: Callable[[], None] = lambda: None  # call once the user has accepted `notice`

    @property
    def pace_text(self) -> str:
        return f"{self.pace_per_minute} al minuto" if self.pace_per_minute else "senza limite di ritmo"


class Ui(Protocol):
    """What the use cases need from the user interface."""

    def info(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...
    def confirm(self, text: str) -> bool: ...
    def choose_csv(self) -> Path | None: ...
    def ask_password(self, prompt: str) -> str | None: ...
    def open_folder(self, folder: Path) -> None: ...
    def status(self, text: str | None) -> None: ...

    def confirm_send(self, facts: SendFacts) -> bool:
        """Show the facts (and the notice: on acceptance call `facts.acknowledge_notice()`); go ahead?"""
        ...

    def confirm_test(self, row: int, to: str) -> bool:
        """A test send of row `row`'s message to `to`: go ahead?"""
        ...
