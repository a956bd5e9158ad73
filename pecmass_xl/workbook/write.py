"""Writing a workbook file: result columns, Riepilogo, marker; atomic, never over an open workbook.

openpyxl rewrites the whole file, so before writing we refuse when Excel's lock file shows the
workbook open, and report what openpyxl would lose (the user's shapes, charts or pictures).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook

from pecmass_xl.core.errors import CannotRun
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import styles
from pecmass_xl.workbook.layout import alignment_for_result

log = logging.getLogger("pecmass.write")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def lock_file(path: Path) -> Path:
    return path.with_name("~$" + path.name)


def ensure_not_open(path: Path) -> None:
    if lock_file(path).exists():
        raise CannotRun(
            f"La cartella di lavoro «{path.name}» risulta aperta in Excel (file {lock_file(path).name}): "
            "chiudetela e riprovate, oppure usate i pulsanti della barra PEC Massiva."
        )


def lossy_parts(path: Path) -> list[str]:
    """What an openpyxl save would drop or damage: the user's drawings, charts, pictures, controls."""
    found: list[str] = []
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            summary_drawings = _summary_drawings(archive)
    except (OSError, zipfile.BadZipFile):
        return found
    drawings = [n for n in names if re.match(r"xl/drawings/drawing\d+\.xml$", n) and n not in summary_drawings]
    if drawings:
        found.append("forme, immagini o grafici")
    for prefix, label in (("xl/pivotTables/", "tabelle pivot"), ("xl/slicers/", "filtri dei dati"),
                          ("xl/activeX/", "controlli ActiveX"), ("xl/ctrlProps/", "controlli modulo"),
                          ("xl/timelines/", "sequenze temporali")):
        if any(n.startswith(prefix) for n in names):
            found.append(label)
    return found


def _summary_drawings(archive: zipfile.ZipFile) -> set[str]:
    """The drawing parts of the Riepilogo sheet (pecmass's own chart: not the user's)."""
    try:
        workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    except KeyError:
        return set()
    match = re.search(r'<(?:\w+:)?sheet [^>]*name="' + re.escape(c.SHEET_SUMMARY) + r'"[^>]*r:id="([^"]+)"', workbook)
    if not match:
        return set()
    target = re.search(r'Id="' + re.escape(match.group(1)) + r'"[^>]*Target="([^"]+)"', rels) or re.search(
        r'Target="([^"]+)"[^>]*Id="' + re.escape(match.group(1)) + r'"', rels)
    if not target:
        return set()
    sheet_part = "xl/" + target.group(1).lstrip("/").removeprefix("xl/")
    rel_part = sheet_part.replace("worksheets/", "worksheets/_rels/") + ".rels"
    try:
        sheet_rels = archive.read(rel_part).decode("utf-8", "replace")
    except KeyError:
        return set()
    return {"xl/drawings/" + m.split("/")[-1] for m in re.findall(r'Target="([^"]*drawings/[^"]+)"', sheet_rels)}


def clean_text(value: str) -> str:
    return _CONTROL.sub("", value)


@dataclass
class ResultUpdate:
    """Result cells to write. Rows with an `ID invio` are found by it; the others by row number."""

    by_id: dict[str, dict[str, object]] = field(default_factory=dict)
    by_row: dict[int, dict[str, object]] = field(default_factory=dict)
    new_ids: dict[int, str] = field(default_factory=dict)  # row number -> ID invio to write once


def set_text(cell, value: str) -> None:
    """Text stays text: no formula, number or date conversion (DESIGN §3)."""
    cell.value = clean_text(value)
    cell.data_type = "s"


def write_result_cell(cell, column: str, value: object) -> None:
    if value is None or value == "":
        cell.value = None
    elif column == c.COL_RECEIPTS and isinstance(value, str) and value.startswith("=HYPERLINK("):
        cell.value = value
    elif isinstance(value, dt.datetime):
        cell.value = value.replace(tzinfo=None)
        cell.number_format = styles.DATE_TIME_FORMAT
    else:
        set_text(cell, str(value))
    cell.font = styles.RESULT_FONT
    cell.alignment = alignment_for_result(column)


def _ensure_result_columns(ws) -> dict[str, int]:
    positions: dict[str, int] = {}
    last = 0
    for cell in ws[1]:
        if cell.value is not None and str(cell.value).strip() != "":
            last = cell.column
            name = str(cell.value).strip()
            if name in c.RESULT_COLUMNS and name not in positions:
                positions[name] = cell.column
    for name in c.RESULT_COLUMNS:
        if name not in positions:
            last += 1
            positions[name] = last
            header = ws.cell(1, last)
            header.value = name
            header.fill = styles.RESULT_HEADER_FILL
            header.font = styles.HEADER_FONT
    return positions


def keep_permissions(original: Path, replacement: Path) -> None:
    """Give `replacement` the mode (and, where allowed, the owner) of `original`, or of a new file.

    A temporary file is created 0600; without this a 0664 workbook in a shared folder would become
    unreadable to the colleagues after the first write.
    """
    try:
        info = original.stat()
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(replacement, 0o666 & ~umask)
        return
    os.chmod(replacement, stat.S_IMODE(info.st_mode))
    if hasattr(os, "chown"):
        replaced = replacement.stat()
        if (replaced.st_uid, replaced.st_gid) != (info.st_uid, info.st_gid):
            try:
                os.chown(replacement, info.st_uid, info.st_gid)
            except OSError:  # only root may give a file away; the group is kept where the user belongs to it
                try:
                    os.chown(replacement, -1, info.st_gid)
                except OSError:
                    log.info("workbook group not kept (not a member of it)")


def atomic_save(wb, path: Path) -> None:
    """Save next to the target, then replace it: a crash never leaves half a workbook; the
    workbook keeps its permissions and, where possible, its owner."""
    fd, tmp = tempfile.mkstemp(prefix=".pecmass-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        _restore_macro_parts(path, Path(tmp))
        keep_permissions(path, Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _restore_macro_parts(original: Path, saved: Path) -> None:
    if original.suffix.lower() != ".xlsm" or not original.exists():
        return
    try:
        from pecmass_xl.workbook.macro_parts import preserve_macro_parts
    except ImportError:
        return
    preserve_macro_parts(original, saved)


# What openpyxl keeps in memory for a loaded workbook, measured with openpyxl 3.1.5 (issue 11): about
# 300 bytes per cell, 340 per row, 500 per formatted empty row; 64 MiB for the rest. Rounded up.
WRITE_MEMORY_LIMIT = 1 << 30  # the README's figure: a write never needs more than 1 GiB
_BYTES_PER_CELL = 380
_BYTES_PER_ROW = 360
_BYTES_PER_FORMATTED_ROW = 200  # on top of the row
_BASE_BYTES = 64 << 20
_CELL_TAGS = (b"<c ", b"<c>", b":c ")
_LAST_ROW = re.compile(rb'<(?:\w+:)?row [^>]*?\br="(\d+)"')


@dataclass
class LoadEstimate:
    bytes: int = _BASE_BYTES
    sheet: str = ""  # the sheet that costs most
    cells: int = 0  # in that sheet
    last_row: int = 0  # its last row, formatted or not


def estimate_write_memory(path: Path) -> LoadEstimate:
    """What loading the workbook for a rewrite would take, from a byte scan of its sheets."""
    from pecmass_xl.workbook.xlsx_stream import XlsxError, XlsxPackage

    estimate = LoadEstimate()
    try:
        package = XlsxPackage(path)
    except XlsxError:
        return estimate  # the load itself will say what is wrong
    worst = 0
    try:
        for name, info in package.sheets.items():
            cells = rows = formatted = last = 0
            tail = b""
            with package.archive.open(info.part) as stream:
                while chunk := stream.read(1 << 20):
                    window = tail + chunk
                    cells += sum(window.count(tag) - tail.count(tag) for tag in _CELL_TAGS)
                    rows += window.count(b"<row") - tail.count(b"<row")
                    formatted += window.count(b'customFormat="1"') - tail.count(b'customFormat="1"')
                    numbers = _LAST_ROW.findall(chunk)
                    last = int(numbers[-1]) if numbers else last
                    tail = window[-16:]
            cost = cells * _BYTES_PER_CELL + rows * _BYTES_PER_ROW + formatted * _BYTES_PER_FORMATTED_ROW
            estimate.bytes += cost
            if cost > worst:
                worst, estimate.sheet, estimate.cells, estimate.last_row = cost, name, cells, last
    finally:
        package.archive.close()
    return estimate


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def ensure_writable_in_memory(path: Path) -> None:
    """Refuse, with advice, a rewrite that would need more than `WRITE_MEMORY_LIMIT`."""
    estimate = estimate_write_memory(path)
    if estimate.bytes > WRITE_MEMORY_LIMIT:
        raise CannotRun(
            f"Per scrivere nel file {path.name} servirebbero circa {estimate.bytes / (1 << 30):.1f} GB di memoria: il foglio "
            f"«{estimate.sheet}» ha {_thousands(estimate.cells)} celle, formattate fino alla riga "
            f"{_thousands(estimate.last_row)}. Eliminate le righe vuote sotto l'ultima compilata (selezionatele fino alla fine del foglio, tasto destro, "
            "Elimina) e salvate; oppure usate i pulsanti della barra PEC Massiva in Excel. «pecmass check» senza --write "
            "funziona comunque."
        )


def open_for_write(path: Path):
    ensure_not_open(path)
    ensure_writable_in_memory(path)
    try:
        return load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm", keep_links=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise CannotRun(f"Il file {path.name} non è una cartella di lavoro Excel leggibile (file danneggiato o di un altro formato).") from exc


def apply_results(wb, update: ResultUpdate) -> None:
    ws = wb[c.SHEET_LIST]
    positions = _ensure_result_columns(ws)
    id_col = positions[c.COL_ID]
    for number, new_id in update.new_ids.items():
        cell = ws.cell(number, id_col)
        if cell.value in (None, ""):
            set_text(cell, new_id)
            cell.font = styles.RESULT_FONT
    if update.by_id:
        for row in ws.iter_rows(min_row=2, min_col=id_col, max_col=id_col):
            cell = row[0]
            key = str(cell.value).strip() if cell.value not in (None, "") else ""
            if key and key in update.by_id:
                for column, value in update.by_id[key].items():
                    write_result_cell(ws.cell(cell.row, positions[column]), column, value)
    for number, values in update.by_row.items():
        if ws.cell(number, id_col).value not in (None, ""):
            continue  # a row with an ID invio shows the journal's status, never a check's
        for column, value in values.items():
            write_result_cell(ws.cell(number, positions[column]), column, value)


def set_marker(wb, campaign_id: str) -> None:
    if c.SHEET_MARKER in wb.sheetnames:
        ws = wb[c.SHEET_MARKER]
    else:
        ws = wb.create_sheet(c.SHEET_MARKER)
        ws.sheet_state = "veryHidden"
    ws["A1"], ws["B1"] = c.MARKER_VERSION, c.CONTRACT_VERSION
    ws["A2"], ws["B2"] = c.MARKER_CAMPAIGN, campaign_id
    ws["A3"] = c.MARKER_UPDATED  # B3 is rewritten by each write through Excel (PEC_STATO depends on it)


def set_label_value(wb, sheet: str, label: str, value: object) -> None:
    ws = wb[sheet]
    for row in ws.iter_rows(min_col=1, max_col=2):
        if row[0].value is not None and str(row[0].value).strip() == label:
            row[1].value = value
            return
    ws.append([label, value])
