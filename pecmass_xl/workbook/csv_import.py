"""Reading a distribution list from CSV, the way providers' mass-send tools take it (issue 2).

The first row names the fields. Delimiter sniffed among `,` `;` tab; UTF-8 (with or without BOM)
or Windows-1252; every value kept as text (a CAP `00184` stays `00184`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.core.errors import CannotRun

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
        raise CannotRun(f"Non riesco a leggere il file CSV «{path}» ({exc.strerror}).") from exc
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
