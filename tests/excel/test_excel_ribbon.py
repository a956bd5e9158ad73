"""The ribbon's actions on a workbook open in (fake) Excel, against a real sandbox PEC provider.

The background worker runs in this process on the same fake Excel (a real one would be a second
process finding the workbook among the running Excel instances).
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest

from pecmass_xl.app import send as send_case
from pecmass_xl.campaign.files import open_journal
from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.excel import handlers, ribbon_actions, worker
from pecmass_xl.excel.excel_ui import ExcelDialogue
from pecmass_xl.excel.live_workbook import ExcelWorkbook
from pecmass_xl.sandbox import Sandbox
from pecmass_xl.workbook import contract as c

from .fake_xlwings import FakeApp, FakeApps, FakeBook, workbook_from_openpyxl

_serial = itertools.count(1)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with Sandbox.start(tmp_path_factory.mktemp("sandbox"), time_scale=3600) as sb:
        yield sb


@pytest.fixture
def sb(sandbox, monkeypatch):
    monkeypatch.setenv("PECMASS_SANDBOX_DIR", str(sandbox.connection["dir"]))
    sandbox.set_fault(None)
    yield sandbox


class RecordingUi(ExcelDialogue):
    """A scripted user: answers confirmations in order, records what Excel would show (worded as Excel does)."""

    def __init__(self, answers=(), csv_path=None, secret=None):
        self.answers = list(answers)
        self.infos, self.errors, self.questions, self.statuses, self.opened = [], [], [], [], []
        self.csv_path, self.secret = csv_path, secret

    def info(self, text):
        self.infos.append(text)

    def error(self, text):
        self.errors.append(text)

    def confirm(self, text):
        self.questions.append(text)
        return self.answers.pop(0) if self.answers else False

    def choose_csv(self):
        return self.csv_path

    def ask_password(self, prompt):
        self.questions.append(prompt)
        return self.secret

    def open_folder(self, folder):
        self.opened.append(folder)

    def status(self, text):
        self.statuses.append(text)


def addresses(n):
    return [f"x{next(_serial)}r{id(object()) % 9999}@studio.pec.test" for _ in range(n)]


def open_campaign(folder: Path, recipients: list[str], provider: str | None = None):
    """A Sandbox workbook saved in `folder` and open in a fake Excel: (ExcelWorkbook, FakeBook, apps)."""
    wb = build_new_workbook("")
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(["PEC", "Nome", "N"] + list(c.RESULT_COLUMNS))
    for index, address in enumerate(recipients, start=1):
        ws.append([address, f"Persona {index}", index])
    for row in wb[c.SHEET_MESSAGE].iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = "Comunicazione {{ N }} per {{ Nome }}"
        if row[0].value == c.MSG_TEXT:
            row[1].value = "Gentile {{ Nome }}, comunicazione n. {{ N }}."
    if provider:
        for row in wb[c.SHEET_SETTINGS].iter_rows(min_col=1, max_col=2):
            if row[0].value == c.SET_PROVIDER:
                row[1].value = provider
            if row[0].value == c.SET_MAILBOX:
                row[1].value = "studio@legalmail.it"
    path = folder / "campagna.xlsm"
    wb.save(path)
    app = FakeApp()
    fake = workbook_from_openpyxl(wb, str(path), app)
    return ExcelWorkbook(fake), fake, FakeApps(app)


def in_process(apps, before=None, log=None):
    """A `spawn` that runs the worker here, on the same fake Excel."""

    def spawn(arguments):
        if log is not None:
            log.append(arguments)
        if before:
            before()
        return worker.main(arguments, apps=apps)

    return spawn


def column(fake: FakeBook, header: str) -> list:
    sheet = fake.sheets.items[0]
    headers = [sheet.peek(1, col) for col in range(1, 30)]
    col = headers.index(header) + 1
    last = max(r for r, _ in sheet.cells)
    return [sheet.peek(r, col) for r in range(2, last + 1)]


def envelopes(sb, address):
    return sum(1 for raw in sb.mailbox_messages(address) if b"X-Trasporto: posta-certificata" in raw)


def test_check_preview_send_receipts_report_archive(sb, tmp_path):
    recipients = addresses(3)
    book, fake, apps = open_campaign(tmp_path, recipients + ["non-un-indirizzo"])
    ui = RecordingUi(answers=[True])

    report = ribbon_actions.verifica(book, ui)
    assert "3 righe pronte, 1 con errori" in ui.infos[-1]
    assert column(fake, c.COL_STATUS) == [c.ST_TO_SEND] * 3 + [c.ST_INVALID]
    assert len(report.rows) == 4

    fake.sheets[c.SHEET_LIST].select(3)
    ribbon_actions.anteprima(book, ui)
    preview = fake.sheets[c.SHEET_PREVIEW]
    assert fake.active is preview
    shown = {preview.peek(r, 1): preview.peek(r, 2) for r in range(1, 10)}
    assert shown["A"] == recipients[1] and shown["Oggetto"] == "Comunicazione 2 per Persona 2"

    spawned = []
    plan = ribbon_actions.invia(book, ui, spawn=in_process(apps, log=spawned))
    assert "Inviare 3 PEC" in ui.questions[-1] and len(plan.due) == 3
    assert spawned[0][:2] == ["send", book.fullname] and fake.saves == 1
    sb.wait_idle(10)
    assert [envelopes(sb, a) for a in recipients] == [1, 1, 1]
    ids = column(fake, c.COL_ID)
    assert all(ids[:3]) and ids[3] is None
    assert set(column(fake, c.COL_STATUS)[:3]) <= {c.ST_SENT, c.ST_ACCEPTED, c.ST_DELIVERED}
    assert "invio terminato, 3 PEC" in fake.app._state["status_bar"]

    ribbon_actions.invia(book, ui, spawn=in_process(apps))  # nothing left: nothing sent twice
    assert "Nessuna riga da inviare" in ui.infos[-1]

    assert ribbon_actions.aggiorna_ricevute(book, ui, spawn=in_process(apps))
    assert column(fake, c.COL_STATUS)[:3] == [c.ST_DELIVERED] * 3
    assert all(isinstance(v, str) and v.startswith("Apri") for v in column(fake, c.COL_RECEIPTS)[:3])
    receipts_col = [fake.sheets.items[0].peek(1, col) for col in range(1, 30)].index(c.COL_RECEIPTS) + 1
    link = fake.sheets.items[0].peek_cell(2, receipts_col).formula
    assert link.startswith('=HYPERLINK("') and str(tmp_path) not in link  # relative to the workbook
    assert fake.app.references == 0  # the worker let Excel go
    assert "ricevute aggiornate" in fake.app._state["status_bar"]

    out = ribbon_actions.esporta_report(book, ui)
    with out.open(encoding="utf-8-sig") as handle:
        assert len(list(csv.reader(handle, delimiter=";"))) >= 5

    fake.sheets[c.SHEET_LIST].select(2)
    folder = ribbon_actions.apri_archivio(book, ui)
    assert folder.name == ids[0] and ui.opened == [folder]

    assert not ribbon_actions.interrompi(book, ui)
    assert ui.errors == []


def test_a_row_edited_after_the_confirmation_is_not_sent(sb, tmp_path):
    recipients = addresses(2)
    book, fake, apps = open_campaign(tmp_path, recipients)
    ui = RecordingUi(answers=[True, True])
    sheet = fake.sheets.items[0]

    def edit_second_row():
        sheet.put(3, 2, "Nome cambiato")

    ribbon_actions.invia(book, ui, spawn=in_process(apps, before=edit_second_row))
    sb.wait_idle(10)
    assert [envelopes(sb, a) for a in recipients] == [1, 0]
    assert "1 riga modificata dopo la conferma" in fake.app._state["status_bar"]
    assert column(fake, c.COL_ID)[1] is None
    ribbon_actions.invia(book, ui, spawn=in_process(apps))  # confirmed now, with the new text
    sb.wait_idle(10)
    assert [envelopes(sb, a) for a in recipients] == [1, 1]


def test_a_workbook_closed_before_the_worker_starts_sends_nothing(sb, tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "FIND_TIMEOUT", 0.2)
    recipients = addresses(1)
    book, fake, apps = open_campaign(tmp_path, recipients)
    ui = RecordingUi(answers=[True])
    results = []

    def spawn(arguments):
        fake.app.books.remove(fake)  # the user closed it
        results.append(worker.main(arguments, apps=apps))
        return 0

    plan = ribbon_actions.invia(book, ui, spawn=spawn)
    assert results == [2]
    sb.wait_idle(5)
    assert envelopes(sb, recipients[0]) == 0
    with open_journal(plan.campaign_id) as journal:
        assert journal.row_views() == {}


def test_a_closed_workbook_becomes_a_cannot_run_and_a_reopened_one_is_found_again(tmp_path):
    book, fake, apps = open_campaign(tmp_path, addresses(2))
    detached = worker.DetachedWorkbook(fake.fullname, apps, retry_attempts=2, retry_delay=0)
    fake.close()
    with pytest.raises(CannotRun, match="non è più aperta"):
        detached.write(campaign_id="CAMPAGNA2")
    reopened = FakeBook(fake.app, fake.fullname)
    reopened.sheets.items = fake.sheets.items
    detached.write(campaign_id="CAMPAGNA2")
    assert detached.book is None  # connected for the write only
    assert reopened.sheets[c.SHEET_MARKER].peek(2, 2) == "CAMPAGNA2"


def test_legalmail_notice_is_shown_and_declining_sends_nothing(tmp_path):
    # A real-looking address (reserved test domains are valid only with the Sandbox); nothing leaves.
    book, fake, apps = open_campaign(tmp_path, ["ufficio@pec.studiorossi.it"], provider="Legalmail")
    ui = RecordingUi(answers=[False])
    spawned = []
    assert ribbon_actions.invia(book, ui, spawn=lambda a: spawned.append(a)) is None
    assert "Legalmail" in ui.questions[0] and spawned == [] and fake.saves == 0


def test_import_csv_replaces_the_list_with_text_cells(tmp_path):
    book, fake, _apps = open_campaign(tmp_path, addresses(2))
    source = tmp_path / "elenco.csv"
    source.write_text("PEC;Nome;CAP;Nota\nanna@esempio.pec.test;Anna;00184;=1+1\nbruno@esempio.pec.test;Bruno;20121;-5\n",
                      encoding="utf-8")
    ui = RecordingUi(answers=[True], csv_path=source)
    assert ribbon_actions.importa_csv(book, ui)
    assert "sostituirle con le 2 righe del CSV" in ui.questions[0]
    sheet = fake.sheets.items[0]
    assert [sheet.peek(1, col) for col in range(1, 6)] == ["PEC", "Nome", "CAP", "Nota", c.COL_ID]
    assert [sheet.peek(2, col) for col in range(1, 5)] == ["anna@esempio.pec.test", "Anna", "00184", "=1+1"]
    assert sheet.peek_cell(2, 4).formula is None and sheet.peek(3, 4) == "-5"
    assert sheet.peek(4, 1) is None  # the old third row is gone
    data = book.read()
    assert data.message[c.MSG_FIELDS] == "PEC, Nome, CAP, Nota"
    assert [r.values["CAP"] for r in data.rows] == ["00184", "20121"]


def test_preview_needs_a_selected_row_of_destinatari(tmp_path):
    book, fake, _apps = open_campaign(tmp_path, addresses(1))
    fake.sheets[c.SHEET_MESSAGE].select(5)
    with pytest.raises(CannotRun, match="Selezionate prima una cella"):
        ribbon_actions.anteprima(book, RecordingUi())


def test_password_goes_from_the_dialog_to_the_keyring(tmp_path, monkeypatch):
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    keyring.set_keyring(backend)
    monkeypatch.setenv("PECMASS_ALLOW_PLAINTEXT_KEYRING", "1")  # keyrings.alt keeps it in a plain file: opted in
    book, fake, _apps = open_campaign(tmp_path, addresses(1), provider="Legalmail")
    ui = RecordingUi(secret="segreta-123")
    assert ribbon_actions.password(book, ui)
    assert "Password salvata in un file NON cifrato" in ui.infos[-1] and "di sistema" not in ui.infos[-1]
    from pecmass_xl.mailclient.credentials import get_password

    assert get_password(ribbon_actions.settings_of(book)) == "segreta-123"
    assert not any("segreta-123" in text for text in ui.infos + ui.errors + ui.questions)


def test_handlers_turn_errors_into_italian_message_boxes(tmp_path, monkeypatch):
    book, fake, _apps = open_campaign(tmp_path, addresses(1))
    fake.sheets[c.SHEET_MESSAGE].select(2)
    monkeypatch.setattr(handlers, "_caller", lambda: fake)
    handlers.anteprima()  # no row of Destinatari selected: a CannotRun
    assert fake.app.alerts[-1]["title"] == "PEC Massiva" and fake.app.alerts[-1]["mode"] == "critical"
    assert "Selezionate prima una cella" in fake.app.alerts[-1]["prompt"]

    def explode(_book, _ui):
        raise KeyError("mario.rossi@esempio.pec.test")

    monkeypatch.setattr(ribbon_actions, "verifica", explode)
    handlers.verifica()
    text = fake.app.alerts[-1]["prompt"]
    assert text.startswith("Errore imprevisto: l'operazione non è stata completata.") and "mario.rossi" not in text
    assert "KeyError" not in text  # no Python words in front of the user; the type is in the log


def test_a_workbook_without_a_local_copy_gets_a_message_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("OneDrive", "OneDriveConsumer", "OneDriveCommercial"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeBook(FakeApp(), "https://d.docs.live.net/a1b2c3/Documenti/campagna.xlsm")
    monkeypatch.setattr(handlers, "_caller", lambda: fake)
    handlers.verifica()
    assert "OneDrive" in fake.app.alerts[-1]["prompt"] and fake.app.alerts[-1]["mode"] == "critical"


def test_the_receipts_worker_reads_the_mailbox_only_with_the_campaign_lock_like_the_cli(sb, tmp_path):
    from pecmass_xl.journal import campaign_lock, new_campaign_id

    book, fake, apps = open_campaign(tmp_path, addresses(1))
    assert worker.main(["receipts", book.fullname], apps=apps) == 2  # nothing sent yet: nothing to read
    assert "nessuna ricevuta da cercare" in fake.app._state["status_bar"]
    campaign = new_campaign_id()
    book.write(campaign_id=campaign)
    other_reader = campaign_lock(campaign)  # e.g. `pecmass receipts --background` on the same file
    assert other_reader.try_acquire()
    try:
        assert worker.main(["receipts", book.fullname], apps=apps) == 2
        assert "già in corso" in fake.app._state["status_bar"]
    finally:
        other_reader.release()
    assert worker.main(["receipts", book.fullname], apps=apps) == 0
    assert "ricevute aggiornate" in fake.app._state["status_bar"]


def test_an_acknowledgement_given_in_excel_holds_for_the_terminal_too(tmp_path):
    from pecmass_xl.app.send import send_facts
    from pecmass_xl.sending.plan import plan_send

    book, fake, _apps = open_campaign(tmp_path, ["ufficio@pec.studiorossi.it"], provider="Legalmail")
    assert send_facts(plan_send(book)).notice  # not acknowledged yet
    ui = RecordingUi(answers=[True, False])  # reads and accepts the notice, then does not send
    assert ribbon_actions.invia(book, ui, spawn=lambda a: 0) is None
    assert "Legalmail" in ui.questions[0] and "Inviare 1 PEC" in ui.questions[1]
    assert send_facts(plan_send(book)).notice is None  # the CLI's `pecmass send` will not ask again


def test_a_send_while_the_user_edits_a_cell_writes_everything_and_leaves_excel_as_it_was(sb, tmp_path):
    """The worker on a strict fake: Excel refuses calls for a while in the middle of the send (a cell in
    edit mode), as xlwings reports it once its own bounded retries are over."""
    recipients = addresses(3)
    book, fake, apps = open_campaign(tmp_path, recipients)
    fake.app.com_attempts = worker.COM_ATTEMPTS  # what the worker sets in xlwings (N_COM_ATTEMPTS)
    state = {k: fake.app._state[k] for k in ("screen_updating", "calculation", "enable_events")}

    def user_starts_editing():
        fake.app.reject(3 * worker.COM_ATTEMPTS, after=25)

    ribbon_actions.invia(book, RecordingUi(answers=[True]), spawn=in_process(apps, before=user_starts_editing))
    sb.wait_idle(10)
    assert fake.app.rejected == 3 * worker.COM_ATTEMPTS
    assert [envelopes(sb, a) for a in recipients] == [1, 1, 1]
    assert all(column(fake, c.COL_ID)[:3])
    assert "invio terminato, 3 PEC" in fake.app._state["status_bar"]
    assert {k: fake.app._state[k] for k in state} == state
    assert fake.app.references == 0


def test_send_button_checks_the_connection_in_the_foreground(sb, tmp_path, monkeypatch):
    """Issue 14.2: a provider that cannot be reached is a dialog before the worker starts, not a status line."""
    from tests.sending.test_unreachable import unreachable_copy

    monkeypatch.setenv("PECMASS_SANDBOX_DIR", str(unreachable_copy(sb, tmp_path / "sandbox-irraggiungibile")))
    monkeypatch.setattr(send_case, "FOREGROUND_CONNECT_BUDGET", 1.0)
    book, fake, apps = open_campaign(tmp_path, addresses(2))
    ui = RecordingUi(answers=[True])
    spawned = []
    assert ribbon_actions.invia(book, ui, spawn=lambda a: spawned.append(a)) is None
    assert spawned == [] and fake.saves == 0
    assert "Nessuna PEC inviata: il gestore non è raggiungibile" in ui.errors[-1]
    assert "connessione rifiutata" in ui.errors[-1] and "«Porta SMTP»" in ui.errors[-1]
    assert ui.statuses[-1] is None  # the status bar is given back
