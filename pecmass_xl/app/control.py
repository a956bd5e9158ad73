"""Use cases `status` and `stop`: what the journal says about a campaign, and the stop flag."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pecmass_xl.app.check import unsent_row_counts
from pecmass_xl.campaign.checks import run_checks
from pecmass_xl.campaign.files import open_journal
from pecmass_xl.sending import background
from pecmass_xl.tracking.recover import unknown_row_ids
from pecmass_xl.workbook.gateway import WorkbookGateway


@dataclass
class CampaignStatus:
    campaign: str
    running: bool
    counts: dict[str, int]
    progress: dict
    last_sync: dt.datetime | None
    tests: list[tuple[str, str, str]] = field(default_factory=list)  # (label, recipient, Stato invio)
    unknown_ids: int = 0  # rows whose ID invio the journal does not know (a lost journal, issue 10)

    def as_json(self) -> dict:
        return {"campaign": self.campaign or None, "running": self.running, "counts": self.counts, "progress": self.progress,
                "last_sync": self.last_sync.isoformat() if self.last_sync else None,
                "tests": [{"test": t[0], "to": t[1], "status": t[2]} for t in self.tests],
                "unknown_ids": self.unknown_ids}


def status(campaign: str | None, book: WorkbookGateway | None = None) -> CampaignStatus:
    """Every row's state: the journal's for rows sent, the checks' (`Da inviare`, `Dati non validi`)
    for the rows of `book` never queued (issue 14.9: they were left out)."""
    sheet = book.read() if book is not None else None
    counts: dict[str, int] = dict(unsent_row_counts(run_checks(sheet))) if sheet is not None else {}
    if not campaign:
        return CampaignStatus("", False, counts, {}, None)
    with open_journal(campaign) as journal:
        # `ID invio`s the journal does not know: a lost or damaged journal (issue 10)
        unknown = len(unknown_row_ids(journal, sheet)) if sheet is not None else 0
        for state, n in journal.status_counts().items():
            counts[state] = counts.get(state, 0) + n
        return CampaignStatus(
            campaign=campaign,
            running=background.worker_running(campaign),
            counts=counts,
            progress=background.progress(journal),
            last_sync=journal.last_sync(),
            tests=[(t.attempt.label, t.attempt.recipient, t.status.stato) for t in journal.test_attempts()],
            unknown_ids=unknown,
        )


def stop(campaign: str | None) -> bool:
    """Ask the running worker to stop after the current message; False when none is running."""
    if not campaign or not background.worker_running(campaign):
        return False
    with open_journal(campaign) as journal:
        background.request_stop(journal)
    return True
