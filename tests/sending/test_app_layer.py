"""One application layer under both fronts (issue 9, part 2): the terminal's background send is
started the same way as the ribbon's (a confirmation file of rows and content), and both fronts
implement the one `Ui` protocol."""

from __future__ import annotations

import inspect

from openpyxl import load_workbook

from pecmass_xl.app import send as send_case
from pecmass_xl.app.background import read_confirmation, write_confirmation
from pecmass_xl.app.demo import DemoUi
from pecmass_xl.app.ui import Ui
from pecmass_xl.cli.terminal import TerminalUi
from pecmass_xl.excel.excel_ui import ExcelUi
from pecmass_xl.sending.plan import plan_send
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.file_workbook import FileWorkbook

from .conftest import envelopes_for, make_campaign, run, sheet_rows, unique_local


def test_the_terminal_worker_sends_only_the_confirmed_rows_unchanged(sb, tmp_path, capsys):
    recipients = [f"{unique_local('conf')}@studio.pec.test" for _ in range(3)]
    path = make_campaign(tmp_path, recipients)
    plan = plan_send(FileWorkbook(path))
    confirmation = write_confirmation(plan)
    assert {row for row, _ in read_confirmation(confirmation)} == {2, 3, 4}
    wb = load_workbook(path)  # the user edits row 3 after confirming
    wb[c.SHEET_LIST]["B3"] = "Nome cambiato"
    wb.save(path)
    assert run("send", path, "--confirmed", confirmation) == 0
    sb.wait_idle(10)
    assert [envelopes_for(sb, a) for a in recipients] == [1, 0, 1]
    assert not confirmation.exists()
    assert [r[c.COL_STATUS] for r in sheet_rows(path)][1] == c.ST_TO_SEND
    assert "2 PEC consegnate al gestore" in capsys.readouterr().out


def test_a_background_send_with_nothing_to_send_starts_no_worker(sb, tmp_path, capsys):
    path = make_campaign(tmp_path, [f"{unique_local('vuoto')}@studio.pec.test"])
    assert run("send", path, "--yes") == 0
    sb.wait_idle(10)
    capsys.readouterr()
    assert run("send", path, "--yes", "--background") == 0
    out = capsys.readouterr().out
    assert "Nessuna riga da inviare" in out and "background" not in out


def test_an_unknown_resend_group_is_an_italian_error(tmp_path):
    import pytest

    from pecmass_xl.core.errors import CannotRun

    with pytest.raises(CannotRun, match="--resend accetta"):
        send_case.parse_resend("failed,tutto")


def test_terminal_and_excel_implement_every_method_of_the_one_ui_protocol():
    wanted = {name for name, _ in inspect.getmembers(Ui, inspect.isfunction) if not name.startswith("_")}
    assert {"info", "error", "confirm", "status", "confirm_send", "confirm_test"} <= wanted
    for front in (TerminalUi, ExcelUi, DemoUi):
        for name in wanted:
            method = getattr(front, name, None)
            assert callable(method), f"{front.__name__}.{name}"
            assert list(inspect.signature(method).parameters) == list(inspect.signature(getattr(Ui, name)).parameters)


def test_a_background_send_is_refused_while_the_workbook_is_being_worked_on(sb, tmp_path, capsys):
    from pecmass_xl.journal import campaign_lock, new_campaign_id

    recipients = [f"{unique_local('occupato')}@studio.pec.test"]
    path = make_campaign(tmp_path, recipients)
    campaign = new_campaign_id()
    FileWorkbook(path).write(campaign_id=campaign)
    other = campaign_lock(campaign)  # a receipts update of the same workbook, say
    assert other.try_acquire()
    try:
        assert run("send", path, "--yes", "--background") == 2
    finally:
        other.release()
    assert "già in corso" in capsys.readouterr().err
    sb.wait_idle(5)
    assert envelopes_for(sb, recipients[0]) == 0


def test_an_unreadable_confirmation_sends_nothing_and_says_so(sb, tmp_path, capsys):
    recipients = [f"{unique_local('rotta')}@studio.pec.test"]
    path = make_campaign(tmp_path, recipients)
    broken = tmp_path / "conferma.json"
    broken.write_text('{"rows": [{"row": 2}]', encoding="utf-8")
    for confirmation in (broken, tmp_path / "manca.json"):
        assert run("send", path, "--confirmed", confirmation) == 2
        assert "non è leggibile" in capsys.readouterr().err
    sb.wait_idle(5)
    assert envelopes_for(sb, recipients[0]) == 0
