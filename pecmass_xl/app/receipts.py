"""Use case `receipts`: read the provider's receipts and rewrite the result columns, here or in a
background worker; one reader of a campaign's mailbox at a time, whichever front started it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pecmass_xl.app.preconditions import valid_settings
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.journal import hold_campaign_lock
from pecmass_xl.mailclient.credentials import get_password
from pecmass_xl.sending import background
from pecmass_xl.tracking.follow import FollowOptions, ReceiptsOutcome, update_receipts
from pecmass_xl.workbook.gateway import WorkbookGateway

NO_CAMPAIGN_TEXT = "Questa cartella di lavoro non ha ancora inviato nulla: nessuna ricevuta da cercare."

# What became of a background request (ReceiptsStart.stage).
NO_CAMPAIGN = "no-campaign"
BUSY = "busy"
STARTED = "started"


class NothingSent(CannotRun):
    """The workbook has no campaign yet: there is no receipt to look for."""

    def __init__(self) -> None:
        super().__init__(NO_CAMPAIGN_TEXT)


def update(book: WorkbookGateway, options: FollowOptions | None = None,
           on_round: Callable[[ReceiptsOutcome], None] | None = None) -> ReceiptsOutcome:
    """Sync and rewrite the sheet, holding the campaign's lock (SendInProgress when it is taken).

    One reader of the mailbox per campaign at a time (a send's in-doubt search included): the
    archive manifests are rewritten by one process only.
    """
    sheet = book.read()
    if not sheet.campaign_id:
        raise NothingSent()
    settings = valid_settings(book, sheet)
    password = get_password(settings)
    lock = hold_campaign_lock(sheet.campaign_id)
    try:
        return update_receipts(book, password, options or FollowOptions(follow=False), on_round=on_round, sheet=sheet)
    finally:
        lock.release()


@dataclass
class ReceiptsStart:
    stage: str
    campaign_id: str | None = None
    pid: int | None = None


def start_in_background(book: WorkbookGateway, start_worker: Callable[[], int]) -> ReceiptsStart:
    """Check what can be checked in front of the user, then `start_worker()` (the front's: it names the book)."""
    sheet = book.read()
    if not sheet.campaign_id:
        return ReceiptsStart(NO_CAMPAIGN)
    settings = valid_settings(book, sheet)
    if background.worker_running(sheet.campaign_id):
        return ReceiptsStart(BUSY, sheet.campaign_id)
    get_password(settings)  # fail now, in front of the user, if no password is stored
    return ReceiptsStart(STARTED, sheet.campaign_id, start_worker())
