"""Where a campaign's per-user files live: journal, ledger (inside the sandbox for the Sandbox
preset, DESIGN §7), archive folder."""

from __future__ import annotations

from pathlib import Path

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.journal import Journal, Ledger, UsageCounter
from pecmass_xl.journal.archive import archive_root
from pecmass_xl.journal.ledger_rebuild import rebuild_ledger


def ledger_path(settings: Settings) -> Path | None:
    """None = the per-user default; the Sandbox preset keeps its own inside the sandbox folder."""
    if settings.is_sandbox and settings.sandbox_dir is not None:
        settings.sandbox_dir.mkdir(parents=True, exist_ok=True)
        return settings.sandbox_dir / "ledger.sqlite"
    return None


def open_ledger(settings: Settings) -> Ledger:
    """The mailbox ledger; one found damaged is set aside and rebuilt from the journals at once,
    whoever opens it first (a plan, a send, a receipts sync), so the guard never runs on an empty one."""
    ledger = Ledger(ledger_path(settings))
    if ledger.set_aside is not None:
        ledger.rebuilt = rebuild_ledger(ledger, settings.mailbox)
    return ledger


def open_usage(settings: Settings) -> UsageCounter:
    """The usage counters share the ledger's file: if they open it first and find it damaged, the
    ledger is rebuilt here too (see `open_ledger`)."""
    usage = UsageCounter(ledger_path(settings))
    if usage.set_aside is not None:
        with Ledger(ledger_path(settings)) as ledger:
            rebuild_ledger(ledger, settings.mailbox)
    return usage


def open_journal(campaign_id: str) -> Journal:
    return Journal.for_campaign(campaign_id)


def campaign_archive(workbook: Path, settings: Settings) -> Path:
    return archive_root(workbook, settings.archive_folder)
