"""Reading a distribution list from CSV, the way providers' mass-send tools take it (issue 2).

The first row names the fields. Delimiter sniffed among `,` `;` tab; UTF-8 (with or without BOM)
or Windows-1252; every value kept as text (a CAP `00184` stays `00184`).

Why text, also for amounts and dates (issue 14.1): a template prints a text cell exactly as the CSV
wrote it, so `{{ Importo }}` shows `1.500,00` and never a re-formatted number, and the content hash of
a PEC sent before an upgrade stays the same. Where a template uses a value as a number (`euro`,
`numero`, a comparison) it is read by Italian rules, and an ambiguous one is a `check` problem.
`column_kinds` only decides the alignment (amounts right, dates centred), not the stored value.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.italian import describe_error

DELIMITERS = ",;\t"


@dataclass
class CsvList:
    headers: list[str]
    rows: list[list[str]]
    encoding: str
    delimiter: str
    warnings: list[str] = field(default_factory=list)


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        return max(DELIMITERS, key=first.count)


def read_csv_list(path: Path) -> CsvList:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CannotRun(f"Non riesco a leggere il file CSV «{path}» ({describe_error(exc)}).") from exc
    text, encoding = _decode(data)
    if not text.strip():
        raise CannotRun(f"Il file CSV «{Path(path).name}» è vuoto.")
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = [r for r in reader if any(v.strip() for v in r)]
    if not records:
        raise CannotRun(f"Il file CSV «{Path(path).name}» non ha righe.")
    raw_headers = records[0]
    warnings: list[str] = []
    headers: list[str] = []
    for index, raw in enumerate(raw_headers, start=1):
        name = raw.strip()
        if name != raw:
            warnings.append(f"Intestazione «{raw}» (colonna {index}): spazi iniziali o finali rimossi.")
        if not name:
            name = f"Colonna {index}"
            warnings.append(f"La colonna {index} non ha intestazione: chiamata «{name}».")
        headers.append(name)
    width = len(headers)
    rows: list[list[str]] = []
    for line_number, record in enumerate(records[1:], start=2):
        if len(record) > width and any(v.strip() for v in record[width:]):
            warnings.append(f"Riga {line_number} del CSV: più valori che intestazioni, quelli in eccesso sono ignorati.")
        rows.append((record + [""] * width)[:width])
    return CsvList(headers, rows, encoding, delimiter, warnings)


_LEADING_ZERO = re.compile(r"[+-]?0\d")
NUMBER, DATE, TEXT = "numero", "data", "testo"


def _is_date(text: str) -> bool:
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"):
        try:
            dt.datetime.strptime(text, fmt)
            return True
        except ValueError:
            continue
    return False


def column_kinds(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Per column: NUMBER when every value is an unambiguous Italian number without leading zeros
    (a CAP `00184` stays TEXT), DATE when every value is a date, else TEXT. Empty columns are TEXT."""
    from pecmass_xl.workbook.cell_values import read_italian_number

    kinds = []
    for index in range(len(headers)):
        values = [row[index].strip() for row in rows if index < len(row) and row[index].strip()]
        if values and all(read_italian_number(v).value is not None and not _LEADING_ZERO.match(v) for v in values):
            kinds.append(NUMBER)
        elif values and all(_is_date(v) for v in values):
            kinds.append(DATE)
        else:
            kinds.append(TEXT)
    return kinds
