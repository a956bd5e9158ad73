"""Use case `preview`: the exact message a row will be, before anything is sent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pecmass_xl.campaign.checks import run_checks
from pecmass_xl.campaign.mime import build_message, message_bytes
from pecmass_xl.campaign.problems import Problem
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.journal.ids import normalise_domain
from pecmass_xl.workbook.gateway import WorkbookGateway

PREVIEW_ID = "ANTEPRIMA"


@dataclass
class Preview:
    row: int
    to: str
    subject: str
    text: str
    attachments: list[dict]
    size: int
    eml: bytes
    problems: list[Problem]
    placeholder: bool  # ID invio and attempt not assigned yet

    def as_json(self) -> dict:
        return {"row": self.row, "to": self.to, "subject": self.subject, "text": self.text,
                "attachments": self.attachments, "size": self.size}


def preview(book: WorkbookGateway, row_number: int) -> tuple[Preview | None, list[Problem]]:
    """The exact message row N will be; (None, problems) when the row has errors."""
    report = run_checks(book.read())
    prepared = report.row(row_number)
    if prepared is None:
        raise CannotRun(f"La riga {row_number} di Destinatari è vuota o non esiste (le righe partono dalla 2).")
    problems = [p for p in report.blocking] + prepared.problems
    if not prepared.ok or report.blocking:
        return None, problems
    settings = report.settings
    campaign = report.sheet.campaign_id or PREVIEW_ID
    # Before the row is queued its ID invio and attempt do not exist: a placeholder that no receipt can match.
    message_id = f"<pecmass.{campaign}.{prepared.id_invio or PREVIEW_ID}.0@{normalise_domain(settings.sender_domain)}>"
    msg = build_message(prepared.draft, settings.mailbox, message_id, settings.receipt_type, dt.datetime.now().astimezone())
    data = message_bytes(msg)
    draft = prepared.draft
    return Preview(
        row=row_number, to=draft.to, subject=draft.subject, text=draft.text,
        attachments=[{"name": a.name, "size": a.size} for a in draft.attachments],
        size=len(data), eml=data, problems=problems, placeholder=not prepared.id_invio,
    ), problems
