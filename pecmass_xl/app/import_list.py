"""Use case `import`: the recipients of a CSV file replace the list in `Destinatari`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.app.new import new_workbook
from pecmass_xl.campaign.new_workbook import is_untouched_example
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.csv_import import CsvList, read_csv_list
from pecmass_xl.workbook.file_workbook import FileWorkbook
from pecmass_xl.workbook.gateway import WorkbookGateway
from pecmass_xl.workbook.write import ensure_not_open

MayReplace = Callable[[int, int], bool]  # (rows in the sheet, rows in the CSV) -> replace them?


@dataclass
class ImportResult:
    rows: int
    headers: list[str]
    encoding: str
    delimiter: str
    warnings: list[str] = field(default_factory=list)  # the CSV reader's
    missing_address_column: str | None = None  # `Colonna indirizzo` names no column of the CSV


def import_csv(book: WorkbookGateway, csv_path: Path, may_replace: MayReplace) -> ImportResult | None:
    """Replace the list with the CSV's rows; None when the user keeps the rows already there."""
    return _import(book, read_csv_list(Path(csv_path)), may_replace)


def _import(book: WorkbookGateway, listing: CsvList, may_replace: MayReplace) -> ImportResult | None:
    clash = [h for h in listing.headers if h in c.RESULT_COLUMNS]
    if clash:
        raise CannotRun(f"Il CSV usa intestazioni riservate ai risultati di pecmass: {', '.join(clash)}. Rinominatele.")
    sheet = book.read()
    if sheet.rows and not is_untouched_example(sheet) and not may_replace(len(sheet.rows), len(listing.rows)):
        return None
    book.replace_list(listing.headers, listing.rows)
    address_column = str(sheet.settings.get(c.SET_ADDRESS_COLUMN) or c.DEFAULT_ADDRESS_HEADER).strip()
    return ImportResult(len(listing.rows), listing.headers, listing.encoding, listing.delimiter, list(listing.warnings),
                        None if address_column in listing.headers else address_column)


def import_csv_file(csv_path: Path, workbook_path: Path, may_replace: MayReplace) -> ImportResult | None:
    """`import_csv` into a workbook file, created when it does not exist yet."""
    listing = read_csv_list(Path(csv_path))  # an unreadable CSV creates no workbook
    workbook_path = Path(workbook_path)
    if not workbook_path.exists():
        new_workbook(workbook_path)
        may_replace = _always  # the example row of a brand-new workbook is not the user's list
    ensure_not_open(workbook_path)
    return _import(FileWorkbook(workbook_path), listing, may_replace)


def _always(_existing: int, _new: int) -> bool:
    return True
