"""Regenerates the README pictures of a finished demo workbook: `docs/demo-destinatari.png` and
`docs/demo-riepilogo.png` (Riepilogo with its chart).

    python tools/demo_pictures.py [OUT_DIR]        (default: docs/)

Runs `pecmass demo` in a temporary folder (its own sandbox: nothing leaves the computer), then
renders the two sheets through LibreOffice with `tools/render_workbook.py`. Needs `soffice` and
`pdftoppm`. The IDs, dates and campaign change at every run; the layout does not.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.render_workbook import render_sheets  # noqa: E402

PICTURES = {"Destinatari": "demo-destinatari.png", "Riepilogo": "demo-riepilogo.png"}


def demo_workbook(folder: Path) -> Path:
    """A finished demo workbook in `folder` (its data folder too, so the user's is untouched)."""
    os.environ["PECMASS_DATA_DIR"] = str(folder / "dati")
    from pecmass_xl.app.demo import run_demo

    return run_demo(folder / "demo").workbook


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else ROOT / "docs"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pecmass-demo-pictures-") as tmp:
        workbook = demo_workbook(Path(tmp))
        rendered = render_sheets(workbook, Path(tmp) / "png", resolution=110)
        for sheet, name in PICTURES.items():
            shutil.copyfile(rendered[sheet], out_dir / name)
            print(f"{sheet}: {out_dir / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
