"""What an action needs before it runs, checked once for every front: valid settings, a campaign."""

from __future__ import annotations

from pecmass_xl.campaign.problems import Problem
from pecmass_xl.campaign.settings import Settings, resolve_settings
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.workbook.gateway import WorkbookGateway

MAX_LISTED_PROBLEMS = 8


class InvalidSettings(CannotRun):
    """The `Impostazioni` sheet has errors; `problems` lists them for the front to show."""

    def __init__(self, problems: list[Problem]):
        super().__init__("Impostazioni non valide:\n" + listing(problems))
        self.problems = problems


def listing(problems: list) -> str:
    """At most MAX_LISTED_PROBLEMS bullet lines, then how many more."""
    lines = [f"• {p}" for p in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(f"… e altri {len(problems) - MAX_LISTED_PROBLEMS}.")
    return "\n".join(lines)


def valid_settings(book: WorkbookGateway, sheet=None) -> Settings:
    """The resolved settings, or InvalidSettings with every error (`sheet`: one just read)."""
    sheet = sheet if sheet is not None else book.read()
    settings, problems = resolve_settings(sheet.settings, sheet.message, sheet.folder)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InvalidSettings(errors)
    return settings


def campaign_of(book: WorkbookGateway) -> str:
    """The campaign id of a workbook that has one (status, stop)."""
    sheet = book.read()
    if not sheet.campaign_id:
        raise CannotRun("Questa cartella di lavoro non ha ancora una campagna: nessun invio registrato.")
    return sheet.campaign_id
