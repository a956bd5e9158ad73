"""`pecmass demo`: the whole flow against the embedded sandbox, in under a minute, asking nothing:
the same use cases as the fronts (test, send, receipts, report), with a Ui that never asks.

A workbook of 20 recipients that exercises every outcome the sandbox can produce, one test send,
the send, receipts followed until every row is final, the result columns, the report and the
archive.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pecmass_xl.app import receipts
from pecmass_xl.app.report import export_report
from pecmass_xl.app.send import send
from pecmass_xl.app.trial import trial_send
from pecmass_xl.app.ui import SendFacts
from pecmass_xl.campaign.checks import run_checks
from pecmass_xl.campaign.files import campaign_archive, open_journal
from pecmass_xl.campaign.new_workbook import build_new_workbook
from pecmass_xl.core.italian import plural
from pecmass_xl.journal import new_campaign_id
from pecmass_xl.sending.engine import Reporter, SendOptions
from pecmass_xl.tracking.follow import FollowOptions
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import layout
from pecmass_xl.workbook.file_workbook import FileWorkbook
from pecmass_xl.workbook.write import atomic_save

TIME_SCALE = 7200.0  # two simulated hours per real second: the 24-hour timeout arrives in 12 s
VIRUS_MARKER = b"PECMASS-SANDBOX-VIRUS"

# (address, name, what the sandbox will do) — the third column is for the reader of this file.
RECIPIENTS = [
    ("anna.rossi@studio-legale.pec.test", "Anna Rossi", "consegnata"),
    ("bruno.bianchi@comune.pec.test", "Bruno Bianchi", "consegnata"),
    ("carla.verdi@studio-legale.pec.test", "Carla Verdi", "consegnata"),
    ("dario.neri@condominio.pec.test", "Dario Neri", "consegnata"),
    ("elena.galli@comune.pec.test", "Elena Galli", "consegnata"),
    ("fabio.conti@studio-legale.pec.test", "Fabio Conti", "consegnata"),
    ("giulia.ferri@condominio.pec.test", "Giulia Ferri", "consegnata"),
    ("luca.marino@comune.pec.test", "Luca Marino", "consegnata"),
    ("piena.sara.greco@studio-legale.pec.test", "Sara Greco", "casella piena"),
    ("inesistente.paolo@comune.pec.test", "Paolo Russo", "indirizzo inesistente"),
    ("aruba-inesistente.marta@studio-legale.pec.test", "Marta Costa", "indirizzo inesistente (alla Aruba)"),
    ("ufficio@nodominio.pec.test", "Ufficio Tributi", "dominio inesistente"),
    ("giorgio.fontana@posta-ordinaria.example", "Giorgio Fontana", "posta ordinaria (non PEC)"),
    ("rimbalzo.irene@posta-ordinaria.example", "Irene Santoro", "posta ordinaria che rimbalza"),
    ("lenta.matteo@condominio.pec.test", "Matteo Caruso", "consegna dopo 2 ore"),
    ("nadia.longo@studio-legale.pec.test", "Nadia Longo", "allegato con virus di prova"),
    ("silenzio.oscar@comune.pec.test", "Oscar Gentile", "nessuna consegna: preavvisi a 12 e 24 ore"),
    ("paola.moretti@condominio.pec.test", "Paola Moretti", "consegnata"),
    ("quinto.barbieri@comune.pec.test", "Quinto Barbieri", "consegnata"),
    ("rita.lombardi@studio-legale.pec.test", "Rita Lombardi", "consegnata"),
]
VIRUS_ROW = 16


@dataclass
class DemoResult:
    directory: Path
    workbook: Path
    report: Path
    archive: Path
    test_label: str
    rows: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"dir": str(self.directory), "workbook": str(self.workbook), "report": str(self.report),
                "archive": str(self.archive), "test": self.test_label, "counts": self.counts, "rows": self.rows}


@contextmanager
def _sandbox_dir(directory: Path):
    previous = os.environ.get("PECMASS_SANDBOX_DIR")
    os.environ["PECMASS_SANDBOX_DIR"] = str(directory)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PECMASS_SANDBOX_DIR", None)
        else:
            os.environ["PECMASS_SANDBOX_DIR"] = previous


def _tiny_pdf(text: str) -> bytes:
    """A one-page PDF with one line of text (enough to be a real attachment)."""
    content = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _free_name(directory: Path) -> Path:
    path = directory / "demo.xlsx"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return path if not path.exists() else directory / f"demo-{stamp}.xlsx"


def build_demo_workbook(directory: Path) -> Path:
    documents = directory / "documenti"
    documents.mkdir(parents=True, exist_ok=True)
    run_id = dt.datetime.now().strftime("%Y%m%d%H%M%S")
    wb = build_new_workbook(new_campaign_id())
    ws = wb[c.SHEET_LIST]
    ws.delete_rows(1, ws.max_row)
    ws.append(["PEC", "Nome", "Protocollo", "Importo", "Scadenza", "Allegati"] + list(c.RESULT_COLUMNS))
    for index, (address, name, _fate) in enumerate(RECIPIENTS, start=1):
        protocol = f"{run_id}-{index:02d}"
        if index == VIRUS_ROW:
            attachment = "documenti/virus-di-prova.txt"
            (directory / attachment).write_bytes(b"File di prova innocuo per la sandbox: " + VIRUS_MARKER + b"\n")
        else:
            attachment = f"documenti/avviso-{index:02d}.pdf"
            (directory / attachment).write_bytes(_tiny_pdf(f"Avviso {protocol} per {name}"))
        ws.append([address, name, protocol, 100 + 12.5 * index, dt.datetime(2026, 12, 31), attachment])
        ws.cell(ws.max_row, 4).number_format = "#,##0.00"
        ws.cell(ws.max_row, 5).number_format = "dd/mm/yyyy"
        ws.cell(ws.max_row, 5).alignment = layout.DATE_ALIGNMENT  # a right-aligned date runs into Allegati
    from pecmass_xl.workbook.styles import style_result_columns
    style_result_columns(ws, 7, ws.max_row)
    msg = wb[c.SHEET_MESSAGE]
    for row in msg.iter_rows(min_col=1, max_col=2):
        if row[0].value == c.MSG_SUBJECT:
            row[1].value = "Avviso di pagamento prot. {{ Protocollo }} - {{ Nome }}"
        elif row[0].value == c.MSG_TEXT:
            row[1].value = ("Gentile {{ Nome }},\n\nle inviamo l'avviso prot. {{ Protocollo }}: importo {{ Importo|euro }}, "
                            "da versare entro il {{ Scadenza|data }}.\n\nCordiali saluti\nUfficio Tributi (demo pecmass)")
        elif row[0].value == c.MSG_FIELDS:
            row[1].value = "PEC, Nome, Protocollo, Importo, Scadenza, Allegati"
    path = _free_name(directory)
    atomic_save(wb, path)
    return path


class DemoUi:
    """The demo's `Ui`: it asks nothing (the Sandbox is local) and narrates through `say`."""

    def __init__(self, say):
        self.say = say

    def info(self, text: str) -> None:
        self.say(text)

    def error(self, text: str) -> None:
        self.say(text)

    def confirm(self, text: str) -> bool:
        return True

    def choose_csv(self) -> Path | None:
        return None

    def ask_password(self, prompt: str) -> str | None:
        return None

    def open_folder(self, folder: Path) -> None:
        self.say(str(folder))

    def status(self, text: str | None) -> None:
        """Nothing: the send's reporter shows the progress."""

    def confirm_send(self, facts: SendFacts) -> bool:
        self.say(f"Invio di {plural(facts.rows, 'PEC')} alla sandbox…")
        return True

    def confirm_test(self, row: int, to: str) -> bool:
        return True


def run_demo(directory: Path, reporter: Reporter | None = None, say=lambda text: None) -> DemoResult:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    from pecmass_xl.sandbox import Sandbox

    sandbox_dir = directory / "sandbox"
    with _sandbox_dir(sandbox_dir), Sandbox.start(sandbox_dir, time_scale=TIME_SCALE) as sandbox:
        path = build_demo_workbook(directory)
        say(f"Cartella di lavoro di prova: {path}")
        book = FileWorkbook(path)
        ui = DemoUi(say)
        test = trial_send(book, ui, 2)
        say(f"Invio di prova {test.label} a {test.to}: {test.status}.")
        send(book, ui, options=SendOptions(in_doubt_wait=5, backoff_base=0.1), reporter=reporter)
        say("Attendo le ricevute (tempo simulato: 2 ore al secondo)…")
        follow = FollowOptions(follow=True, poll_seconds=0.5, max_seconds=120, now=sandbox.now)
        outcome = receipts.update(book, follow)
        csv_path = export_report(book).path
        report = run_checks(book.read())
        archive = campaign_archive(path, report.settings)
        with open_journal(report.sheet.campaign_id) as journal:
            views = journal.row_views()
        rows = []
        for sheet_row in report.sheet.rows:
            view = views.get(sheet_row.id_invio)
            status = view.status if view else None
            rows.append({"row": sheet_row.number, "to": str(sheet_row.values.get("PEC", "")),
                         "id": sheet_row.id_invio, "status": status.stato if status else "",
                         "esito": status.esito if status else "", "firma": status.firma if status else "",
                         "detail": status.dettaglio if status else ""})
        return DemoResult(directory, path, csv_path, archive, test.label, rows, outcome.counts)
