"""Use case `test`: row N's real message to the test recipient only (a test attempt `P{n}`)."""

from __future__ import annotations

from pecmass_xl.app.preconditions import valid_settings
from pecmass_xl.app.ui import Ui
from pecmass_xl.mailclient.credentials import get_password
from pecmass_xl.sending.trial_send import TrialSendOutcome, send_trial
from pecmass_xl.workbook.gateway import WorkbookGateway


def trial_send(book: WorkbookGateway, ui: Ui, row: int, to: str | None = None,
              in_doubt_wait: float = 60.0) -> TrialSendOutcome | None:
    """None when the user declines; the Sandbox sends without asking (nothing leaves the computer)."""
    settings = valid_settings(book)
    target = to or settings.test_recipient or settings.mailbox
    if not settings.is_sandbox and not ui.confirm_test(row, target):
        return None
    ui.status(f"PEC Massiva: invio di prova a {target}…")
    try:
        return send_trial(book, row, get_password(settings), to=to, in_doubt_wait=in_doubt_wait)
    finally:
        ui.status(None)

