"""The ribbon's send confirmation states the attachment total (issue 11 part 3)."""

from __future__ import annotations

from openpyxl import load_workbook

from pecmass_xl.excel import ribbon_actions
from pecmass_xl.excel.live_workbook import ExcelWorkbook
from pecmass_xl.workbook import contract as c

from .fake_xlwings import FakeApp, workbook_from_openpyxl
from .test_excel_ribbon import RecordingUi, addresses, open_campaign, sandbox, sb  # noqa: F401 (fixtures)


def test_the_send_confirmation_states_the_attachment_total(sb, tmp_path):  # noqa: F811
    (tmp_path / "informativa.pdf").write_bytes(b"x" * 3000)
    _book, fake, _apps = open_campaign(tmp_path, addresses(2))
    path = tmp_path / "campagna.xlsm"
    wb = load_workbook(path)
    for row in wb[c.SHEET_MESSAGE].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_COMMON_ATTACHMENTS:
            row[1].value = "informativa.pdf"
    wb.save(path)
    book = ExcelWorkbook(workbook_from_openpyxl(wb, str(path), FakeApp()))
    ui = RecordingUi(answers=[False])
    ribbon_actions.invia(book, ui, spawn=lambda arguments: None)
    assert any("Allegati: 2 in tutto (1 file diverso), 5,9 KB da inviare" in q for q in ui.questions), ui.questions
