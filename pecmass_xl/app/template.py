"""Use case `build-template`: builds `workbook_template.xlsm` from the text sources in `pecmass_xl/excel/`.

    python -m pecmass_xl.excel.build [OUT]        (or `pecmass build-template [OUT]`)

Without OUT it writes both copies: `workbook_template.xlsm` at the root of the source checkout and
the one shipped inside the package (`pecmass_xl/excel/workbook_template.xlsm`). The sheets come
from the contract workbook builder (openpyxl); the VBA project is compiled from `vba/` by
`workbook.ovba`, the ribbon is `ribbon/customUI.xml`; `workbook.macro_parts` assembles the zip. The output is
deterministic: the same sources give the same bytes (tests compare the checked-in file with a
fresh build, member by member).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.formatting.rule import CellIsRule
from openpyxl.utils import get_column_letter

from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.core.vocabulary import STATUS_COLOURS
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import styles
from pecmass_xl.workbook.macro_parts import add_macro_parts
from pecmass_xl.workbook.ovba import MODULE_DOCUMENT, MODULE_PROCEDURAL, Module, Project, build_vba_project

EXCEL_DIR = Path(__file__).resolve().parent.parent / "excel"  # the VBA and ribbon sources, the packaged copy
VBA_DIR = EXCEL_DIR / "vba"
RIBBON_FILE = EXCEL_DIR / "ribbon" / "customUI.xml"
TEMPLATE_NAME = "workbook_template.xlsm"
PACKAGE_TEMPLATE = EXCEL_DIR / TEMPLATE_NAME

VBA_PROJECT_NAME = "VBAProject"
VBA_PROJECT_ID = "{6A1F3C52-8E0B-4D27-9C61-5B2E7F04A9D3}"  # fixed, so builds are reproducible
PROTECTION_SEED = 6  # seeds the random bytes of the CMG/DPB/GC encryption
WORKBOOK_MODULE = "ThisWorkbook"
STANDARD_MODULES = ("PecMassiva",)

# Sheet title -> code name of its document module (vba/<code name>.cls).
SHEET_CODE_NAMES = {
    c.SHEET_LIST: "FoglioDestinatari",
    c.SHEET_MESSAGE: "FoglioMessaggio",
    c.SHEET_SETTINGS: "FoglioImpostazioni",
    c.SHEET_SUMMARY: "FoglioRiepilogo",
    c.SHEET_MARKER: "FoglioPecmass",
}

def repo_root() -> Path | None:
    """The source checkout holding this package, if the package runs from one."""
    root = EXCEL_DIR.parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "pecmass_xl").is_dir() else None


def default_outputs() -> list[Path]:
    root = repo_root()
    return ([root / TEMPLATE_NAME] if root else []) + [PACKAGE_TEMPLATE]


def module_source(name: str) -> str:
    """The text of vba/<name>.bas or vba/<name>.cls, exactly as stored in the module stream."""
    for suffix in (".bas", ".cls"):
        path = VBA_DIR / f"{name}{suffix}"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"no VBA source for module {name!r} in {VBA_DIR}")


def vba_modules(sheet_code_names: list[str]) -> tuple[Module, ...]:
    """ThisWorkbook, one document module per sheet (workbook order), then the standard modules."""
    modules = [Module(WORKBOOK_MODULE, MODULE_DOCUMENT, module_source(WORKBOOK_MODULE))]
    modules += [Module(name, MODULE_DOCUMENT, module_source(name)) for name in sheet_code_names]
    modules += [Module(name, MODULE_PROCEDURAL, module_source(name)) for name in STANDARD_MODULES]
    return tuple(modules)


def ribbon_xml() -> bytes:
    return RIBBON_FILE.read_bytes()


def contract_workbook() -> Workbook:
    """The sheets of the workbook contract, before macros are added; no campaign id (DESIGN §3:
    each copy gets its own id when it is created or first used)."""
    return build_new_workbook(campaign_id="")


def ensure_status_formatting(wb: Workbook) -> None:
    """Colour `Stato invio` by status, unless the contract builder already did."""
    sheet = wb[c.SHEET_LIST]
    column = next((cell.column for cell in sheet[1] if cell.value == c.COL_STATUS), None)
    if column is None:
        return
    letter = get_column_letter(column)
    for ranges in sheet.conditional_formatting:
        if any(r.min_col <= column <= r.max_col for r in ranges.sqref.ranges):
            return
    target = f"{letter}2:{letter}1048576"
    for status, colour in STATUS_COLOURS.items():
        sheet.conditional_formatting.add(
            target, CellIsRule(operator="equal", formula=[f'"{status}"'], fill=styles.status_fill(colour)))


def build_template() -> bytes:
    """The bytes of `workbook_template.xlsm`."""
    wb = contract_workbook()
    ensure_status_formatting(wb)
    code_names = []
    for sheet in wb.worksheets:
        code_name = SHEET_CODE_NAMES.get(sheet.title)
        if code_name is None:
            raise ValueError(f"sheet {sheet.title!r} has no document module: add it to SHEET_CODE_NAMES and vba/")
        sheet.sheet_properties.codeName = code_name
        code_names.append(code_name)
    wb.code_name = WORKBOOK_MODULE
    wb.properties.creator = "pecmass"
    buffer = io.BytesIO()
    wb.save(buffer)
    project = Project(
        name=VBA_PROJECT_NAME,
        project_id=VBA_PROJECT_ID,
        modules=vba_modules(code_names),
        seed=PROTECTION_SEED,
    )
    return add_macro_parts(buffer.getvalue(), build_vba_project(project), ribbon_xml())


def write_template(outputs: list[Path] | None = None) -> list[Path]:
    """Build once and write every output (atomically); returns the paths written."""
    data = build_template()
    written = []
    for path in outputs or default_outputs():
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        written.append(path)
    return written


def build_template_files(out: Path | None = None) -> list[Path]:
    """`pecmass build-template [OUT]`: OUT, or both copies in a checkout, or ./workbook_template.xlsm."""
    if out is not None:
        outputs = [out]
    elif repo_root() is not None:
        outputs = default_outputs()
    else:  # an installed package: do not write into site-packages
        outputs = [Path.cwd() / TEMPLATE_NAME]
    for path in outputs:
        if path.suffix.lower() != ".xlsm":
            raise CannotRun(f"«{path.name}»: il modello deve avere estensione .xlsm.")
        if not path.parent.is_dir():
            raise CannotRun(f"La cartella «{path.parent}» non esiste.")
    return write_template(outputs)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("uso: python -m pecmass_xl.excel.build [FILE.xlsm]", file=sys.stderr)
        return 2
    for path in write_template([Path(args[0])] if args else None):
        print(f"Creato {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
