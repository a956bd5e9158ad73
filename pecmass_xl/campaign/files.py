"""Where a campaign's per-user files live: journal, ledger (inside the sandbox for the Sandbox
preset, DESIGN §7), archive folder."""

from __future__ import annotations

from pathlib import Path

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.journal import Journal, Ledger, UsageCounter
from pecmass_xl.journal.archive import archive_root


def ledger_path(settings: Settings) -> Path | None:
    """None = the per-user default; the Sandbox preset keeps its own inside the sandbox folder."""
    if settings.is_sandbox and settings.sandbox_dir is not None:
        settings.sandbox_dir.mkdir(parents=True, exist_ok=True)
        return settings.sandbox_dir / "ledger.sqlite"
    return None


def open_ledger(settings: Settings) -> Ledger:
    return Ledger(ledger_path(settings))


def open_usage(settings: Settings) -> UsageCounter:
    return UsageCounter(ledger_path(settings))


def open_journal(campaign_id: str) -> Journal:
    return Journal.for_campaign(campaign_id)


def campaign_archive(workbook: Path, settings: Settings) -> Path:
    return archive_root(workbook, settings.archive_folder)
