"""`pecmass new`: a workbook that follows the contract, ready to fill (DESIGN §3, issue 2)."""

from __future__ import annotations

import datetime as dt

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from pecmass_xl.campaign.presets import PRESET_NAMES, SANDBOX
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook import layout, styles
from pecmass_xl.workbook.layout import format_label_sheet

EXAMPLE_HEADERS = ["PEC", "Nome", "Cognome", "Importo", "Scadenza", "Allegati"]
EXAMPLE_ROW = ["mario.rossi@esempio.pec.test", "Mario", "Rossi", 1234.5, dt.datetime(2026, 12, 31), ""]
EXAMPLE_SUBJECT = "Comunicazione per {{ Nome }} {{ Cognome }}"
EXAMPLE_TEXT = (
    "Gentile {{ Nome }} {{ Cognome }},\n\n"
    "le comunichiamo che l'importo di {{ Importo|euro }} è da versare entro il {{ Scadenza|data }}.\n\n"
    "Cordiali saluti"
)

MESSAGE_ROWS = [
    (c.MSG_SUBJECT, EXAMPLE_SUBJECT, "Oggetto della PEC, su una riga. Campi tra doppie graffe: {{ Nome }}."),
    (c.MSG_TEXT, EXAMPLE_TEXT, "Testo della PEC. {{ riga[\"Nome colonna\"] }} per intestazioni con spazi; "
     "filtri: {{ Importo|euro }}, {{ Scadenza|data }}; condizioni: {% if Nome %}…{% endif %}."),
    (c.MSG_COMMON_ATTACHMENTS, "", "File allegati a tutte le PEC, separati da ; (percorsi relativi alla cartella della cartella di lavoro)."),
    (c.MSG_PERSONAL_ATTACHMENT, "", "Modello del percorso dell'allegato personale, es. documenti/{{ Cognome }}.pdf"),
    (c.MSG_RECEIPT_TYPE, "completa", "completa (prova anche il contenuto), breve o sintetica."),
    (c.MSG_FIELDS, "", "Compilato da pecmass: i campi disponibili (le intestazioni di Destinatari)."),
]

SETTINGS_ROWS = [
    (c.SET_MAILBOX, "mittente@pec.sandbox.test", "Indirizzo PEC del mittente."),
    (c.SET_USER, "", "Nome utente per l'accesso, se diverso dall'indirizzo (Legalmail: codice account)."),
    (c.SET_PROVIDER, SANDBOX, "Gestore: imposta server, porte, ritmo e limiti. Le celle compilate qui sotto prevalgono."),
    (c.SET_SMTP_HOST, "", "Server di invio (vuoto = quello del gestore)."),
    (c.SET_SMTP_PORT, "", "Porta SMTP (vuoto = quella del gestore, di solito 465)."),
    (c.SET_SMTP_SECURITY, "", "SSL/TLS o STARTTLS."),
    (c.SET_IMAP_HOST, "", "Server di ricezione delle ricevute."),
    (c.SET_IMAP_PORT, "", "Porta IMAP (di solito 993)."),
    (c.SET_IMAP_SECURITY, "", "SSL/TLS o STARTTLS."),
    (c.SET_PACE, "", "Messaggi al minuto (0 = nessun limite; vuoto = quello del gestore)."),
    (c.SET_TEST_RECIPIENT, "", "Destinatario dell'invio di prova (vuoto = la casella del mittente)."),
    (c.SET_RECEIPT_FOLDERS, "", "Cartelle IMAP dove arrivano le ricevute, separate da ; (vuoto = INBOX)."),
    (c.SET_ARCHIVE_FOLDER, "", "Cartella dell'archivio delle ricevute (vuoto = accanto alla cartella di lavoro)."),
    (c.SET_MAX_SIZE, "", "Dimensione massima del messaggio codificato, in MB (vuoto = quella del gestore)."),
    (c.SET_CA_FILE, "", "File dei certificati CA da usare al posto di quelli di sistema (facoltativo)."),
    (c.SET_ADDRESS_COLUMN, c.DEFAULT_ADDRESS_HEADER, "Intestazione della colonna con l'indirizzo del destinatario."),
    (c.SET_SAVE_SENT_COPY, "No", "Sì per salvare una copia di ogni PEC nella cartella Inviata del gestore."),
    (c.SET_ATTACHMENT_FOLDERS, "", "Altre cartelle da cui si possono prendere gli allegati, separate da ; "
     "(vuoto = solo la cartella della cartella di lavoro e le sue sottocartelle)."),
]

HEADER_HELP = {
    "PEC": "Indirizzo PEC del destinatario: uno per riga.",
    "Allegati": "Allegati personali: uno o più percorsi separati da ; relativi alla cartella della cartella di lavoro.",
    c.COL_ID: "Colonna di pecmass: non modificare.",
}


def is_untouched_example(sheet) -> bool:
    """The list is the one example row `pecmass new` wrote, unchanged: an import may replace it freely."""
    if len(sheet.rows) != 1 or sheet.rows[0].id_invio:
        return False
    names = [h.name for h in sheet.parameter_headers]
    if names[1:] != EXAMPLE_HEADERS[1:]:
        return False
    values = sheet.rows[0].values
    raw = [getattr(values.get(name), "raw", values.get(name)) for name in names]
    expected = [None if v == "" else v for v in EXAMPLE_ROW]
    return [None if v in ("", None) else v for v in raw] == expected


def _label_value_sheet(ws, title: str, rows: list[tuple[str, object, str]]) -> None:
    ws["A1"] = title
    ws["A1"].font = styles.TITLE_FONT
    ws.append([])
    ws.append(["Parametro", "Valore", "Spiegazione"])
    for cell in ws[3]:
        cell.font = styles.HEADER_FONT
        cell.fill = styles.HEADER_FILL
    for label, value, help_text in rows:
        ws.append([label, value, help_text])
        row = ws.max_row
        ws.cell(row, 1).font = styles.LABEL_FONT
        ws.cell(row, 1).alignment = styles.TOP
        ws.cell(row, 2).alignment = styles.WRAP
        ws.cell(row, 3).font = styles.HELP_FONT
        ws.cell(row, 3).alignment = styles.WRAP
        # openpyxl cannot measure wrapped text: give long help texts the lines they need.
        lines = max(1, -(-len(help_text) // 95))
        if lines > 1:
            ws.row_dimensions[row].height = 15 * lines
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 70
    ws.column_dimensions["C"].width = 70


def _row_of(ws, label: str) -> int:
    for row in range(1, ws.max_row + 1):
        if ws.cell(row, 1).value == label:
            return row
    raise KeyError(label)


def _add_list_validation(ws, label: str, choices: tuple[str, ...] | list[str]) -> None:
    validation = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True)
    validation.error = "Scegliere un valore dall'elenco."
    validation.errorTitle = "Valore non valido"
    ws.add_data_validation(validation)
    validation.add(f"B{_row_of(ws, label)}")


def build_new_workbook(campaign_id: str = "", address_header: str = c.DEFAULT_ADDRESS_HEADER) -> Workbook:
    """The contract's sheets with one example row; `campaign_id` empty for the .xlsm template."""
    wb = Workbook()
    ws = wb.active
    ws.title = c.SHEET_LIST
    headers = list(EXAMPLE_HEADERS)
    headers[0] = address_header
    ws.append(headers + list(c.RESULT_COLUMNS))
    ws.append(EXAMPLE_ROW + [None] * len(c.RESULT_COLUMNS))
    ws["D2"].number_format = "#,##0.00"
    ws["E2"].number_format = "dd/mm/yyyy"
    ws["E2"].alignment = layout.DATE_ALIGNMENT
    for col, name in enumerate(headers, start=1):
        cell = ws.cell(1, col)
        cell.font = styles.HEADER_FONT
        cell.fill = styles.HEADER_FILL
        ws.column_dimensions[get_column_letter(col)].width = 30 if col == 1 else 16
        if name in HEADER_HELP:
            cell.comment = Comment(HEADER_HELP[name], "pecmass")
    styles.style_result_columns(ws, len(headers) + 1, 2)
    ws.freeze_panes = "B2"

    msg = wb.create_sheet(c.SHEET_MESSAGE)
    _label_value_sheet(msg, "Messaggio", MESSAGE_ROWS)
    _add_list_validation(msg, c.MSG_RECEIPT_TYPE, c.RECEIPT_TYPES)
    msg.cell(_row_of(msg, c.MSG_FIELDS), 2).value = ", ".join(headers)
    msg.row_dimensions[_row_of(msg, c.MSG_TEXT)].height = 120
    format_label_sheet(msg)

    settings = wb.create_sheet(c.SHEET_SETTINGS)
    _label_value_sheet(settings, "Impostazioni (mai la password: la chiede pecmass e la conserva il sistema)", SETTINGS_ROWS)
    _add_list_validation(settings, c.SET_PROVIDER, PRESET_NAMES)
    _add_list_validation(settings, c.SET_SMTP_SECURITY, c.SECURITY_MODES)
    _add_list_validation(settings, c.SET_IMAP_SECURITY, c.SECURITY_MODES)
    _add_list_validation(settings, c.SET_SAVE_SENT_COPY, ("Sì", "No"))
    format_label_sheet(settings)

    summary = wb.create_sheet(c.SHEET_SUMMARY)
    summary["A1"] = "Riepilogo"
    summary["A1"].font = styles.TITLE_FONT
    summary["A3"] = "Compilato da pecmass a ogni scrittura: nessun invio ancora registrato."

    marker = wb.create_sheet(c.SHEET_MARKER)
    marker["A1"], marker["B1"] = c.MARKER_VERSION, c.CONTRACT_VERSION
    marker["A2"], marker["B2"] = c.MARKER_CAMPAIGN, campaign_id or None
    marker["A3"] = c.MARKER_UPDATED
    marker.sheet_state = "veryHidden"
    wb.active = 0
    return wb
