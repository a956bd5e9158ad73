"""Use case `report`: the campaign's CSV report, anomalies first; and the archive folder to open."""

from __future__ import annotations

from pathlib import Path

from pecmass_xl.app.settings import valid_settings
from pecmass_xl.campaign.checks import run_checks
from pecmass_xl.campaign.files import campaign_archive, open_journal
from pecmass_xl.tracking.report import ReportSummary, build_report, default_report_path
from pecmass_xl.workbook.gateway import WorkbookGateway


def export_report(book: WorkbookGateway, out: Path | None = None, delimiter: str = ";") -> ReportSummary:
    report = run_checks(book.read())
    out = out or default_report_path(book.path)
    archive_root = campaign_archive(book.path, report.settings)
    campaign = report.sheet.campaign_id
    if campaign:
        with open_journal(campaign) as journal:
            return build_report(report, journal, archive_root, out, delimiter)
    return build_report(report, None, archive_root, out, delimiter)


def archive_folder(book: WorkbookGateway, row: int | None = None) -> tuple[Path, bool]:
    """(folder, exists): the row's archive folder when it has one, else the campaign's archive."""
    root = campaign_archive(book.path, valid_settings(book))
    folder = root
    if row is not None:
        found = next((r for r in book.read().rows if r.number == row), None)
        if found is not None and found.id_invio and (root / found.id_invio).is_dir():
            folder = root / found.id_invio
    return folder, folder.is_dir()
