"""Plain data read from a workbook, whatever the source (file via openpyxl, or Excel via xlwings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.workbook import contract as c


@dataclass
class Header:
    column: int  # 1-based
    raw: object  # the header cell as stored
    name: str  # trimmed text ("" when the cell is empty)


@dataclass
class ListRow:
    number: int  # Excel row number (changes when the user sorts: never a key)
    values: dict[str, str]  # parameter header -> what the cell shows (a CellText unless the cell is text)
    results: dict[str, object] = field(default_factory=dict)  # result header -> stored value
    stray: list[int] = field(default_factory=list)  # columns with a value but no header

    @property
    def id_invio(self) -> str:
        value = self.results.get(c.COL_ID)
        return str(value).strip() if value not in (None, "") else ""


@dataclass
class SheetData:
    """Everything pecmass reads from a workbook, in one go (DESIGN §2: read once)."""

    source: Path | None
    headers: list[Header]
    rows: list[ListRow]
    message: dict[str, object]
    settings: dict[str, object]
    marker: dict[str, object]
    missing_sheets: list[str] = field(default_factory=list)
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)  # (row, column)
    merged_header_ranges: list[str] = field(default_factory=list)
    duplicate_labels: list[tuple[str, str]] = field(default_factory=list)  # (sheet, label)

    @property
    def parameter_headers(self) -> list[Header]:
        return [h for h in self.headers if h.name and h.name not in c.RESULT_COLUMNS]

    @property
    def campaign_id(self) -> str:
        value = self.marker.get(c.MARKER_CAMPAIGN)
        return str(value).strip() if value else ""

    @property
    def folder(self) -> Path:
        return self.source.parent if self.source else Path.cwd()
