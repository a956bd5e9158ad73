"""Benchmark of `pecmass check` against merely reading the same workbook with openpyxl.

Builds workbooks of 1k / 10k / 100k recipients (10 parameter columns plus the result columns, no
attachments; strings in a shared-strings table and a `<dimension>`, as Excel saves them — `--inline`
keeps openpyxl's own way), then, each in a fresh child process so peak memory is that run's own:

- read:  openpyxl read-only, data-only, every cell of Destinatari touched (value and number format);
- check: what `pecmass check PATH` does: read the workbook, run every check, render subject and
         text of every row.

Prints wall and CPU seconds, rows per second, peak resident memory (ru_maxrss), and check/read.
Targets (issue 2): cost linear in rows; 100k rows in <= 15 s and <= 1 GiB; check <= 2.5x the bare
read. Workbooks are built once per folder (`--keep DIR` reuses them).

    python benchmarks/bench_check.py                 # 1000 10000 100000
    python benchmarks/bench_check.py --sizes 1000 5000 --keep /tmp/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PARAMETERS = ["PEC", "Nome", "Cognome", "Codice fiscale", "Indirizzo", "CAP", "Città", "Importo", "Scadenza", "Note"]
SUBJECT = "Avviso di pagamento per {{ Nome }} {{ Cognome }}"
TEXT = (
    "Gentile {{ Nome }} {{ Cognome }} (C.F. {{ riga[\"Codice fiscale\"] }}),\n\n"
    "residente in {{ Indirizzo }}, {{ CAP }} {{ Città }},\n"
    "le comunichiamo che l'importo di {{ Importo|euro }} è da versare entro il {{ Scadenza|data }}.\n"
    "{% if Note %}Nota: {{ Note }}\n{% endif %}\n"
    "Cordiali saluti\nL'ufficio tributi"
)


def build_workbook(path: Path, rows: int) -> None:
    """A contract workbook written with openpyxl's write-only mode (fast for 100k rows)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from pecmass_xl.workbook import contract as c

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(c.SHEET_LIST)
    ws.append(PARAMETERS + list(c.RESULT_COLUMNS))
    cities = ["Roma", "Milano", "Forlì", "Napoli", "Torino", "Cantù"]
    start = dt.datetime(2026, 1, 1)
    for i in range(rows):
        cap = WriteOnlyCell(ws, value=(184 + i) % 100000)
        cap.number_format = "00000"
        amount = WriteOnlyCell(ws, value=round(100 + (i * 37.17) % 5000, 2))
        amount.number_format = "#,##0.00"
        due = WriteOnlyCell(ws, value=start + dt.timedelta(days=i % 365))
        due.number_format = "dd/mm/yyyy"
        ws.append([
            f"destinatario{i}@pec.esempio.it", f"Nome{i}", f"Cognome{i}", f"CGNNMO80A01H501{i % 10}",
            f"Via Roma {i % 300 + 1}", cap, cities[i % len(cities)], amount, due,
            "Rata unica" if i % 3 == 0 else None,
        ])
    msg = wb.create_sheet(c.SHEET_MESSAGE)
    for label, value in ((c.MSG_SUBJECT, SUBJECT), (c.MSG_TEXT, TEXT), (c.MSG_RECEIPT_TYPE, "completa")):
        msg.append([label, value])
    settings = wb.create_sheet(c.SHEET_SETTINGS)
    for label, value in ((c.SET_MAILBOX, "tributi@pec.comune.esempio.it"), (c.SET_PROVIDER, "Personalizzato"),
                         (c.SET_SMTP_HOST, "smtp.pec.esempio.it"), (c.SET_IMAP_HOST, "imap.pec.esempio.it")):
        settings.append([label, value])
    marker = wb.create_sheet(c.SHEET_MARKER)
    marker.append([c.MARKER_VERSION, c.CONTRACT_VERSION])
    marker.append([c.MARKER_CAMPAIGN, "CBENCHMARK001"])
    wb.save(path)


_INLINE = re.compile(rb'<c r="([A-Z]+[0-9]+)"( s="[0-9]+")? t="inlineStr"><is><t(?: xml:space="preserve")?>(.*?)</t></is></c>', re.S)


def to_shared_strings(path: Path, member: str = "xl/worksheets/sheet1.xml") -> None:
    """Rewrite the list sheet with a shared-strings table, as Excel saves it (openpyxl writes inline strings)."""
    strings: dict[bytes, int] = {}

    def shared(match: re.Match) -> bytes:
        index = strings.setdefault(match.group(3), len(strings))
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (match.group(1), match.group(2) or b"", index)

    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == member:
                data = _INLINE.sub(shared, data)
            elif item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdSharedStrings" Type="http://schemas.'
                                    b'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
                                    b'Target="sharedStrings.xml"/></Relationships>')
            out.writestr(item, data)
        table = [b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/'
                 b'spreadsheetml/2006/main" count="%d" uniqueCount="%d">' % (len(strings), len(strings))]
        table += [b'<si><t xml:space="preserve">' + text + b"</t></si>" for text in strings]
        out.writestr("xl/sharedStrings.xml", b"".join(table) + b"</sst>")
    tmp.replace(path)


def add_dimension(path: Path, rows: int, member: str = "xl/worksheets/sheet1.xml") -> None:
    """Write-only openpyxl omits `<dimension>`, which Excel always writes (openpyxl scans for it)."""
    last_column = chr(ord("A") + len(PARAMETERS) + 9 - 1)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == member and b"<dimension" not in data[:2000]:
                data = data.replace(b"<sheetViews>", b'<dimension ref="A1:%s%d"/><sheetViews>' % (last_column.encode(), rows + 1), 1)
            out.writestr(item, data)
    tmp.replace(path)


# ------------------------------------------------------------------------------ child processes
def _usage() -> tuple[float, float]:
    """(CPU seconds, peak resident MiB) of this process: CPU time is steadier than wall time on a busy machine."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def _peak_mib() -> float:
    return _usage()[1]


def child_read(path: str) -> dict:
    from openpyxl import load_workbook

    cpu = _usage()[0]
    start = time.perf_counter()
    wb = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    cells = 0
    for row in wb["Destinatari"].iter_rows():
        for cell in row:
            if cell.value is not None:
                cells += 1
                _ = cell.number_format
    wb.close()
    return {"seconds": time.perf_counter() - start, "cpu": _usage()[0] - cpu, "cells": cells, "peak_mib": _peak_mib()}


def child_check(path: str) -> dict:
    from pecmass_xl.app import check as check_case
    from pecmass_xl.workbook.file_workbook import FileWorkbook

    cpu = _usage()[0]
    start = time.perf_counter()
    report = check_case.check(FileWorkbook(path))
    seconds = time.perf_counter() - start
    cpu = _usage()[0] - cpu
    rendered = sum(1 for r in report.rows if r.draft is not None)
    errors = sum(1 for p in report.problems if p.severity == "error")
    return {"seconds": seconds, "cpu": cpu, "rows": len(report.rows), "rendered": rendered, "errors": errors,
            "peak_mib": _peak_mib()}


def run_child(kind: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


# ---------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--keep", type=Path, help="folder to keep the generated workbooks in")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (the best is shown)")
    parser.add_argument("--inline", action="store_true",
                        help="keep openpyxl's inline strings and no <dimension> (default: shared strings, as Excel saves)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path = args.child
        print(json.dumps(child_read(path) if kind == "read" else child_check(path)))
        return 0

    folder = args.keep or Path(tempfile.mkdtemp(prefix="pecmass-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PECMASS_DATA_DIR", str(folder / "data"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU; workbooks in {folder}")
    header = (f"{'rows':>8} {'read s':>7} {'cpu':>6} {'rows/s':>8} {'MiB':>5}  "
              f"{'check s':>7} {'cpu':>6} {'rows/s':>8} {'MiB':>5}  {'check/read':>10}")
    print(f"{'':>8} {'openpyxl read-only, every cell':<37}  {'pecmass check (every row rendered)':<37}")
    print(header)
    print("-" * len(header))
    results = []
    for size in args.sizes:
        path = folder / f"bench_{size}{'_inline' if args.inline else ''}.xlsx"
        if not path.exists():
            build_workbook(path, size)
            if not args.inline:
                to_shared_strings(path)
                add_dimension(path, size)
        read = min((run_child("read", path) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        check = min((run_child("check", path) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        assert check["rows"] == size and check["rendered"] == size and check["errors"] == 0, check
        ratio = check["seconds"] / read["seconds"]
        print(f"{size:>8} {read['seconds']:>7.2f} {read['cpu']:>6.2f} {size / read['seconds']:>8,.0f} {read['peak_mib']:>5.0f}  "
              f"{check['seconds']:>7.2f} {check['cpu']:>6.2f} {size / check['seconds']:>8,.0f} {check['peak_mib']:>5.0f}  "
              f"{ratio:>9.2f}x")
        results.append((size, read, check, ratio))
    big = [r for r in results if r[0] >= 100_000]
    if big:
        size, read, check, ratio = big[-1]
        ok = check["seconds"] <= 15 and check["peak_mib"] <= 1024 and ratio <= 2.5
        print(f"targets at {size} rows (<= 15 s, <= 1024 MiB, <= 2.5x read): {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
