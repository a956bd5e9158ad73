"""Use cases `status` and `stop`: what the journal says about a campaign, and the stop flag."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pecmass_xl.campaign.files import open_journal
from pecmass_xl.sending import background


@dataclass
class CampaignStatus:
    campaign: str
    running: bool
    counts: dict[str, int]
    progress: dict
    last_sync: dt.datetime | None
    tests: list[tuple[str, str, str]] = field(default_factory=list)  # (label, recipient, Stato invio)

    def as_json(self) -> dict:
        return {"campaign": self.campaign, "running": self.running, "counts": self.counts, "progress": self.progress,
                "last_sync": self.last_sync.isoformat() if self.last_sync else None,
                "tests": [{"test": t[0], "to": t[1], "status": t[2]} for t in self.tests]}


def status(campaign: str) -> CampaignStatus:
    with open_journal(campaign) as journal:
        return CampaignStatus(
            campaign=campaign,
            running=background.worker_running(campaign),
            counts=journal.status_counts(),
            progress=background.progress(journal),
            last_sync=journal.last_sync(),
            tests=[(t.attempt.label, t.attempt.recipient, t.status.stato) for t in journal.test_attempts()],
        )


def stop(campaign: str | None) -> bool:
    """Ask the running worker to stop after the current message; False when none is running."""
    if not campaign or not background.worker_running(campaign):
        return False
    with open_journal(campaign) as journal:
        background.request_stop(journal)
    return True
