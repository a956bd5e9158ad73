"""Use case `new`: a contract workbook with one example row (never overwrites)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.journal.ids import new_campaign_id
from pecmass_xl.workbook.file_workbook import FileWorkbook
from pecmass_xl.workbook.write import atomic_save

TEMPLATE_XLSM = Path(__file__).parent.parent / "excel" / "workbook_template.xlsm"


def new_workbook(path: Path) -> Path:
    """Create a contract workbook with one example row; never overwrites."""
    path = Path(path)
    if path.exists():
        raise CannotRun(f"Il file «{path}» esiste già: scegliete un altro nome (pecmass non sovrascrive).")
    if not path.parent.exists():
        raise CannotRun(f"La cartella «{path.parent}» non esiste.")
    suffix = path.suffix.lower()
    if suffix == ".xlsm":
        if not TEMPLATE_XLSM.exists():
            raise CannotRun("Il modello .xlsm con la barra PEC Massiva non è disponibile in questa versione: create un .xlsx.")
        shutil.copyfile(TEMPLATE_XLSM, path)
        FileWorkbook(path).write(campaign_id=new_campaign_id())
        return path
    if suffix != ".xlsx":
        raise CannotRun(f"«{path.name}»: il nome deve finire con .xlsx (o .xlsm).")
    wb = build_new_workbook(new_campaign_id())
    atomic_save(wb, path)
    return path
