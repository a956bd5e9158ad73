"""Use cases `send` and `resend`: plan, confirm (with the provider's notice), then send the confirmed
rows, here or in a background worker; and the worker's half, which sends only what was confirmed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.app.background import SendJob, StartSend, read_confirmation, write_confirmation
from pecmass_xl.app.ui import SendFacts, Ui
from pecmass_xl.campaign.files import open_ledger
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.journal.store import RESEND_CHOICES, RESEND_FAILED, RESEND_UNCERTAIN
from pecmass_xl.mailclient.credentials import get_password
from pecmass_xl.mailclient.smtp_session import SmtpSession
from pecmass_xl.sending import background
from pecmass_xl.sending.connection import connect_within
from pecmass_xl.sending.engine import Reporter, SendOptions, SendOutcome, SendRun
from pecmass_xl.sending.plan import SendPlan, draft_hash, plan_send
from pecmass_xl.workbook.gateway import WorkbookGateway

log = logging.getLogger("pecmass.app.send")

FOREGROUND_CONNECT_BUDGET = 8.0  # seconds the user waits for the SMTP server before a background send starts
LEGALMAIL_NOTICE_KEY = "legalmail-contratto"  # one acknowledgement per mailbox, whichever front asked
RESEND_FAILED_AND_UNCERTAIN = frozenset({RESEND_FAILED, RESEND_UNCERTAIN})

# What became of a send request (SendStart.stage).
BLOCKED = "blocked"  # general errors: nothing sent
NOTHING_DUE = "nothing-due"  # a background send with no row to send: no worker started
BUSY = "busy"  # a send or a receipts update of this workbook is already running
DECLINED = "declined"  # the user said no (to the notice or to the send)
STARTED = "started"  # a background worker has the confirmed rows
DONE = "done"  # sent here; `outcome` says how it went


@dataclass
class SendStart:
    plan: SendPlan
    stage: str
    pid: int | None = None
    outcome: SendOutcome | None = None


def parse_resend(text: str) -> frozenset[str]:
    """`failed,uncertain` → the resend groups; an Italian error for an unknown one."""
    resend = frozenset(x.strip() for x in text.split(",") if x.strip())
    if resend - RESEND_CHOICES:
        raise CannotRun(f"--resend accetta: {', '.join(sorted(RESEND_CHOICES))}.")
    return resend


def send_facts(plan: SendPlan, resend: bool = False) -> SendFacts:
    """The confirmation facts; `notice` only while this mailbox has not acknowledged it."""
    s = plan.settings
    facts = SendFacts(rows=len(plan.due), mailbox=s.mailbox, provider=s.provider, pace_per_minute=s.pace_per_minute,
                      estimated_seconds=plan.estimated_seconds, adopted=len(plan.adopted), invalid=len(plan.invalid),
                      warnings=list(plan.warnings), attachments=plan.attachments_line(), resend=resend,
                      is_sandbox=s.is_sandbox)
    if plan.notice:
        with open_ledger(s) as ledger:
            if not ledger.is_acknowledged(s.mailbox, LEGALMAIL_NOTICE_KEY):
                facts.notice = plan.notice

                def acknowledge() -> None:
                    with open_ledger(s) as ledger:
                        ledger.acknowledge(s.mailbox, LEGALMAIL_NOTICE_KEY)

                facts.acknowledge_notice = acknowledge
    return facts


def send(book: WorkbookGateway, ui: Ui, resend: frozenset[str] = frozenset(), limit: int | None = None, *,
         start_worker: StartSend | None = None, save: Callable[[], None] | None = None,
         options: SendOptions | None = None, reporter: Reporter | None = None) -> SendStart:
    """Plan, confirm, then send here, or, with `start_worker`, hand the confirmed rows to a worker.

    `save` (the open workbook's) runs before the worker starts, so the worker reads what was confirmed.
    """
    # Sending here: claim the workbook and its campaign before planning (issue 10); a worker claims
    # them itself. The claim ends with the send, or below when nothing is sent.
    plan = plan_send(book, resend=resend, limit=limit, claim=start_worker is None)
    try:
        return _send(plan, ui, resend, start_worker, save, options, reporter)
    finally:
        plan.release()


def _send(plan: SendPlan, ui: Ui, resend: frozenset[str], start_worker: StartSend | None,
          save: Callable[[], None] | None, options: SendOptions | None, reporter: Reporter | None) -> SendStart:
    if plan.blocking:
        return SendStart(plan, BLOCKED)
    if start_worker is not None:
        if not plan.due:
            return SendStart(plan, NOTHING_DUE)
        if background.worker_running(plan.campaign_id) or background.workbook_busy(plan.book.path):
            return SendStart(plan, BUSY)
    if not ui.confirm_send(send_facts(plan, resend=bool(resend))):
        return SendStart(plan, DECLINED)
    password = get_password(plan.settings)  # fail now, in front of the user, if no password is stored
    if start_worker is not None:
        # Reach the server now, briefly, in front of the user: a worker that cannot connect would only
        # say so in the status bar (ProviderUnreachable, an Italian CannotRun, says what to check).
        ui.status("PEC Massiva: verifica della connessione al gestore…")
        try:
            with SmtpSession(plan.settings, password) as session:
                connect_within(session, FOREGROUND_CONNECT_BUDGET)
        finally:
            ui.status(None)
        if save is not None:
            save()
        confirmation = write_confirmation(plan)
        pid = start_worker(SendJob(confirmation, resend))
        return SendStart(plan, STARTED, pid=pid)
    return SendStart(plan, DONE, outcome=SendRun(plan, password, options, reporter).run())


@dataclass
class ConfirmedSend:
    """The worker's send: the outcome (None when general errors stopped it) and the rows left out."""

    plan: SendPlan
    outcome: SendOutcome | None
    changed: list[int] = field(default_factory=list)  # rows edited after the confirmation: not sent


def send_confirmed(book: WorkbookGateway, confirmation: Path, resend: frozenset[str] = frozenset(),
                   options: SendOptions | None = None, reporter: Reporter | None = None) -> ConfirmedSend:
    """Send exactly the rows the user confirmed, unchanged; the confirmation file is then removed."""
    confirmed = read_confirmation(confirmation)
    plan = plan_send(book, resend=resend, claim=True)  # claimed before planning (issue 10)
    if plan.blocking:
        plan.release()
        return ConfirmedSend(plan, None)
    try:
        changed = [r.number for r in plan.due if (r.number, draft_hash(r)) not in confirmed]
        plan.due = [r for r in plan.due if (r.number, draft_hash(r)) in confirmed]
        if changed:
            log.info("%d rows changed after the confirmation: left for the next send", len(changed))
        outcome = SendRun(plan, get_password(plan.settings), options, reporter).run()
    finally:
        plan.release()
    Path(confirmation).unlink(missing_ok=True)
    return ConfirmedSend(plan, outcome, changed)
