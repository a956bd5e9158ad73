"""Use case `report`: the campaign's CSV report, anomalies first."""

from __future__ import annotations

from pathlib import Path

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
