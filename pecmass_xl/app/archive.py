"""Use case `open archive`: which folder of the receipts archive to show the user."""

from __future__ import annotations

from pathlib import Path

from pecmass_xl.app.preconditions import valid_settings
from pecmass_xl.campaign.files import campaign_archive
from pecmass_xl.workbook.gateway import WorkbookGateway


def archive_folder(book: WorkbookGateway, row: int | None = None) -> tuple[Path, bool]:
    """(folder, exists): the row's archive folder when it has one, else the campaign's archive."""
    root = campaign_archive(book.path, valid_settings(book))
    folder = root
    if row is not None:
        found = next((r for r in book.read().rows if r.number == row), None)
        if found is not None and found.id_invio and (root / found.id_invio).is_dir():
            folder = root / found.id_invio
    return folder, folder.is_dir()
