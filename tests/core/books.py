"""Real workbook files for the core tests, built with openpyxl from what `pecmass new` creates.

`build_book(...)` starts from the new-workbook builder and changes what a test needs (headers, rows,
Messaggio and Impostazioni labels, number formats, anything through `edit`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook

from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.workbook import contract as c

CAMPAIGN = "CTESTCAMP01"
HEADERS = ["PEC", "Nome", "Cognome", "Allegati"]
ROW = ["mario.rossi@pec.test", "Mario", "Rossi", None]
SUBJECT = "Avviso per {{ Nome }} {{ Cognome }}"
TEXT = "Gentile {{ Nome }} {{ Cognome }},\nle scriviamo per l'avviso.\n\nCordiali saluti"
# A real provider's settings (not Sandbox): reserved test domains are refused with them.
REAL_PROVIDER = {
    c.SET_PROVIDER: "Personalizzato",
    c.SET_MAILBOX: "studio@pec.esempio.it",
    c.SET_SMTP_HOST: "smtp.pec.esempio.it",
    c.SET_IMAP_HOST: "imap.pec.esempio.it",
}


def set_label(ws, label: str, value: object) -> None:
    """Set the value of a Messaggio/Impostazioni label (column A) in column B; append when absent."""
    for row in ws.iter_rows(min_col=1, max_col=2):
        if row[0].value is not None and str(row[0].value).strip() == label:
            row[1].value = value
            return
    ws.append([label, value])


def write_list(ws, headers: list, rows: list[list], results: bool = True) -> None:
    """Replace the Destinatari content: headers (plus the result columns) and rows from row 2."""
    ws.delete_rows(1, ws.max_row)
    full = list(headers) + (list(c.RESULT_COLUMNS) if results else [])
    for col, name in enumerate(full, start=1):
        ws.cell(1, col).value = name
    for r, values in enumerate(rows, start=2):
        for col, value in enumerate(values, start=1):
            if value is not None:
                ws.cell(r, col).value = value


def build_book(path: Path, headers: list | None = None, rows: list[list] | None = None,
               message: dict | None = None, settings: dict | None = None, results: bool = True,
               formats: dict[str, str] | None = None, edit: Callable | None = None) -> Path:
    """Save a contract workbook at `path` (see the module docstring); returns the path."""
    wb = build_new_workbook(CAMPAIGN)
    write_list(wb[c.SHEET_LIST], HEADERS if headers is None else headers,
               [list(ROW)] if rows is None else rows, results=results)
    base_message = {c.MSG_SUBJECT: SUBJECT, c.MSG_TEXT: TEXT}
    for label, value in {**base_message, **(message or {})}.items():
        set_label(wb[c.SHEET_MESSAGE], label, value)
    for label, value in (settings or {}).items():
        set_label(wb[c.SHEET_SETTINGS], label, value)
    for coordinate, number_format in (formats or {}).items():
        wb[c.SHEET_LIST][coordinate].number_format = number_format
    if edit is not None:
        edit(wb)
    wb.save(path)
    return path


@dataclass
class Run:
    rc: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


def problems_with(doc: dict, code: str) -> list[dict]:
    return [p for p in doc["problems"] if p["code"] == code]


def run_subprocess(*args, stdin=subprocess.DEVNULL, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real console entry point in a child process (no terminal attached)."""
    return subprocess.run([sys.executable, "-m", "pecmass_xl", *map(str, args)], capture_output=True,
                          text=True, stdin=stdin, cwd=cwd, env=dict(os.environ), timeout=120)


def list_values(path: Path) -> list[tuple]:
    wb = load_workbook(path)
    try:
        return [tuple(r) for r in wb[c.SHEET_LIST].iter_rows(values_only=True)]
    finally:
        wb.close()


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def list_member(path: Path) -> str:
    """The zip member holding the Destinatari sheet (openpyxl writes it as sheet1)."""
    return "xl/worksheets/sheet1.xml"


def rewrite_member(path: Path, member: str, rewrite: Callable[[bytes, object], None]) -> None:
    """Copy the workbook zip, streaming `member` through `rewrite(data, out_stream)`."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == member:
                with out.open(item.filename, "w", force_zip64=True) as stream:
                    rewrite(data, stream)
            else:
                out.writestr(item, data)
    tmp.replace(path)


def patch_list_xml(path: Path, old: str, new: str) -> None:
    """Replace a piece of the Destinatari sheet XML (e.g. give a formula a cached value)."""
    def rewrite(data: bytes, stream) -> None:
        text = data.decode("utf-8")
        assert old in text, old
        stream.write(text.replace(old, new).encode("utf-8"))
    rewrite_member(path, list_member(path), rewrite)


def add_formatted_empty_rows(path: Path, first: int, last: int = 1_048_576, columns: tuple[str, ...] = ("A", "B", "O"),
                             replace: dict[int, str] | None = None) -> None:
    """Append rows `first..last` of styled empty cells (what formatting whole rows in Excel leaves).

    Written straight into the sheet XML: openpyxl would take minutes for a million rows.
    `columns=()` writes formatted rows without cells (`<row s=".." customFormat="1"/>`); `replace`
    gives the XML of some rows instead (a recipient far below).
    """
    replace = replace or {}
    def rewrite(data: bytes, stream) -> None:
        text = data.decode("utf-8")
        text = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:O{last}"/>', text, count=1)
        head, tail = text.split("</sheetData>", 1)
        stream.write(head.encode("utf-8"))
        batch: list[str] = []
        for r in range(first, last + 1):
            if r in replace:
                batch.append(replace[r])
            elif columns:
                cells = "".join(f'<c r="{col}{r}" s="1"/>' for col in columns)
                batch.append(f'<row r="{r}" spans="1:15">{cells}</row>')
            else:
                batch.append(f'<row r="{r}" s="1" customFormat="1" ht="15"/>')
            if len(batch) == 65536:
                stream.write("".join(batch).encode("ascii"))
                batch.clear()
        stream.write("".join(batch).encode("ascii"))
        stream.write(("</sheetData>" + tail).encode("utf-8"))
    rewrite_member(path, list_member(path), rewrite)


SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def replace_list_sheet(path: Path, sheet_data: str, shared_strings: list[str] | None = None,
                       root: str | None = None, date1904: bool = False, dimension: str = "A1") -> None:
    """Replace the Destinatari sheet XML with hand-written `<sheetData>` content (what other
    writers produce), optionally with a shared-strings part (`<si>` bodies) and the 1904 epoch."""
    xml = root or (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{SHEET_NS}">'
                   f'<dimension ref="{dimension}"/><sheetData>{sheet_data}</sheetData></worksheet>')
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == list_member(path):
                data = xml.encode("utf-8")
            elif item.filename == "xl/workbook.xml" and date1904:
                data = re.sub(rb"<workbookPr[^>]*/>", b'<workbookPr date1904="1"/>', data)
                if b"date1904" not in data:
                    data = data.replace(b"<bookViews>", b'<workbookPr date1904="1"/><bookViews>')
            elif shared_strings is not None and item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            elif shared_strings is not None and item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdSst" Type="http://schemas.openxmlformats'
                                    b'.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                                    b"</Relationships>")
            out.writestr(item, data)
        if shared_strings is not None:
            body = "".join(f"<si>{si}</si>" for si in shared_strings)
            out.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="{SHEET_NS}" '
                                                 f'count="{len(shared_strings)}">{body}</sst>'.encode())
    tmp.replace(path)
