"""Renders the visible sheets of a workbook to PNG through LibreOffice, to look at the layout.

Used by the tests and to refresh `docs/template.png` (the `Destinatari` page, with `--esempio`:
example rows that show the status colours, columns after `Stato invio` left out):

    python tools/render_workbook.py [--esempio] WORKBOOK OUT_DIR

Needs `soffice` (Debian: libreoffice-calc-nogui) and `pdftoppm` (poppler-utils). Each sheet is
printed from a copy on one page as large as its content (the workbook itself is not touched), so page N of the PDF is the N-th sheet (LibreOffice's "SinglePageSheets"
export, hidden sheets included).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

SOFFICE_TIMEOUT = 180
SINGLE_PAGE_PDF = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'


class RenderError(RuntimeError):
    """LibreOffice or poppler is missing or failed."""


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(source: Path, target_format: str, out_dir: Path, profile_dir: Path) -> Path:
    """`soffice --convert-to` with a throw-away profile; returns the converted file."""
    soffice = soffice_path()
    if soffice is None:
        raise RenderError("soffice not found")
    command = [
        soffice, f"-env:UserInstallation={profile_dir.resolve().as_uri()}", "--headless", "--norestore",
        "--convert-to", target_format, "--outdir", str(out_dir), str(source),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=SOFFICE_TIMEOUT)
    produced = out_dir / f"{source.stem}.{target_format.split(':')[0]}"
    if result.returncode != 0 or not produced.is_file():
        raise RenderError(f"soffice failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return produced


def render_sheets(workbook: Path, out_dir: Path, resolution: int = 96,
                  prepare: Callable[[Workbook], None] | None = None) -> dict[str, Path]:
    """One PNG per visible sheet, named after it; returns {sheet title: png path}.

    `prepare` may change the copy before it is printed (e.g. fill example rows for a picture).
    """
    if shutil.which("pdftoppm") is None:
        raise RenderError("pdftoppm not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pecmass-render-") as tmp:
        tmp_dir = Path(tmp)
        printable = tmp_dir / "fogli.xlsx"
        sheets = _printable_copy(workbook, printable, prepare)
        pdf = convert(printable, SINGLE_PAGE_PDF, tmp_dir, tmp_dir / "profile")
        prefix = tmp_dir / "pagina"
        subprocess.run(["pdftoppm", "-r", str(resolution), "-png", str(pdf), str(prefix)],
                       check=True, capture_output=True, timeout=SOFFICE_TIMEOUT)
        pages = sorted(tmp_dir.glob("pagina-*.png"))
        if len(pages) != len(sheets):
            raise RenderError(f"expected {len(sheets)} pages, got {len(pages)}")
        result = {}
        for (title, visible), page in zip(sheets, pages, strict=False):
            if visible:
                target = out_dir / f"{title}.png"
                shutil.copyfile(page, target)
                result[title] = target
        return result


def _printable_copy(workbook: Path, target: Path,
                    prepare: Callable[[Workbook], None] | None) -> list[tuple[str, bool]]:
    """A plain copy (no macros); returns (title, visible) in sheet order."""
    wb = load_workbook(workbook)
    if prepare is not None:
        prepare(wb)
    wb.save(target)
    return [(sheet.title, sheet.sheet_state == "visible") for sheet in wb.worksheets]


def fill_example_rows(wb: Workbook) -> None:
    """Example recipients with results in several state colours, for the README picture only."""
    from pecmass_xl.workbook import contract as c

    sheet = wb[c.SHEET_LIST]
    headers = [cell.value for cell in sheet[1]]
    examples = [
        {"PEC": "mario.rossi@esempio.pec.test", "Nome": "Mario", "Cognome": "Rossi", "Importo": 1234.5,
         c.COL_ID: "R7KQ2M4XA", c.COL_STATUS: c.ST_DELIVERED, c.COL_OUTCOME: "Consegnata"},
        {"PEC": "anna.bianchi@esempio.pec.test", "Nome": "Anna", "Cognome": "Bianchi", "Importo": 89.9,
         c.COL_ID: "RB3TT9W2C", c.COL_STATUS: c.ST_ACCEPTED},
        {"PEC": "studio.verdi@esempio.pec.test", "Nome": "Luca", "Cognome": "Verdi", "Importo": 310,
         c.COL_ID: "RJ4NP6Q8D", c.COL_STATUS: c.ST_NOT_DELIVERED, c.COL_OUTCOME: "Casella piena",
         c.COL_DETAIL: "5.2.2 casella piena"},
        {"PEC": "giulia.neri@esempio", "Nome": "Giulia", "Cognome": "Neri", "Importo": 45,
         c.COL_STATUS: c.ST_INVALID, c.COL_DETAIL: "Indirizzo PEC non valido"},
    ]
    for offset, example in enumerate(examples):
        for column, header in enumerate(headers, start=1):
            if header in example:
                cell = sheet.cell(row=2 + offset, column=column, value=example[header])
                if header == "Importo":
                    cell.number_format = "#,##0.00"
    # A README-sized picture: the columns after `Stato invio` are left out of the print.
    last = headers.index(c.COL_STATUS) + 1
    for column in range(last + 1, len(headers) + 1):
        sheet.column_dimensions[get_column_letter(column)].hidden = True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    examples = "--esempio" in args
    args = [a for a in args if a != "--esempio"]
    if len(args) != 2:
        print("uso: python tools/render_workbook.py [--esempio] CARTELLA_DI_LAVORO CARTELLA_PNG", file=sys.stderr)
        return 2
    prepare = fill_example_rows if examples else None
    for title, path in render_sheets(Path(args[0]), Path(args[1]), prepare=prepare).items():
        print(f"{title}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
