"""The workbook contract (DESIGN §3): sheet names, labels, result columns, the hidden marker.

Everything here is user-visible Italian text that other modules and the .xlsm template rely on;
change it only together with `CONTRACT_VERSION`.
"""

from __future__ import annotations

CONTRACT_VERSION = 1

SHEET_LIST = "Destinatari"
SHEET_MESSAGE = "Messaggio"
SHEET_SETTINGS = "Impostazioni"
SHEET_SUMMARY = "Riepilogo"
SHEET_PREVIEW = "Anteprima"
SHEET_MARKER = "pecmass"  # very hidden: contract version and campaign id

MARKER_VERSION = "Versione contratto"
MARKER_CAMPAIGN = "ID campagna"

DEFAULT_ADDRESS_HEADER = "PEC"
ATTACHMENTS_HEADER = "Allegati"

# Messaggio labels
MSG_SUBJECT = "Oggetto"
MSG_TEXT = "Testo"
MSG_COMMON_ATTACHMENTS = "Allegati comuni"
MSG_PERSONAL_ATTACHMENT = "Allegato personale (modello)"
MSG_RECEIPT_TYPE = "Tipo ricevuta"
MSG_FIELDS = "Campi disponibili"

RECEIPT_TYPES = ("completa", "breve", "sintetica")

# Impostazioni labels
SET_MAILBOX = "Casella PEC"
SET_USER = "Utente"
SET_PROVIDER = "Gestore"
SET_SMTP_HOST = "Server SMTP"
SET_SMTP_PORT = "Porta SMTP"
SET_SMTP_SECURITY = "Sicurezza SMTP"
SET_IMAP_HOST = "Server IMAP"
SET_IMAP_PORT = "Porta IMAP"
SET_IMAP_SECURITY = "Sicurezza IMAP"
SET_PACE = "Messaggi al minuto"
SET_TEST_RECIPIENT = "Destinatario di prova"
SET_RECEIPT_FOLDERS = "Cartelle ricevute"
SET_ARCHIVE_FOLDER = "Cartella archivio"
SET_MAX_SIZE = "Dimensione massima (MB)"
SET_CA_FILE = "Certificato CA"
SET_ADDRESS_COLUMN = "Colonna indirizzo"
SET_SAVE_SENT_COPY = "Salva copia in Inviata"

SECURITY_MODES = ("SSL/TLS", "STARTTLS")

# Result columns, in their order on the right of the list (DESIGN §3). Reserved header texts.
COL_ID = "ID invio"
COL_STATUS = "Stato invio"
COL_SENT_AT = "Inviata il"
COL_ACCEPTED_AT = "Accettata il"
COL_DELIVERED_AT = "Consegnata il"
COL_OUTCOME = "Esito"
COL_DETAIL = "Dettaglio"
COL_SIGNATURE = "Firma"
COL_RECEIPTS = "Ricevute"
RESULT_COLUMNS = (
    COL_ID, COL_STATUS, COL_SENT_AT, COL_ACCEPTED_AT, COL_DELIVERED_AT,
    COL_OUTCOME, COL_DETAIL, COL_SIGNATURE, COL_RECEIPTS,
)
DATE_RESULT_COLUMNS = (COL_SENT_AT, COL_ACCEPTED_AT, COL_DELIVERED_AT)

# Row states (DESIGN §4)
ST_TO_SEND = "Da inviare"
ST_INVALID = "Dati non validi"
ST_SENDING = "In invio"
ST_SENT = "Inviato"
ST_ACCEPTED = "Accettato"
ST_DELIVERED = "Consegnato"
ST_ACCEPTED_EXTERNAL = "Accettato (non PEC)"
ST_DELAYED = "Ritardo"
ST_NOT_DELIVERED = "Mancata consegna"
ST_NOT_ACCEPTED = "Non accettato"
ST_REFUSED = "Rifiutato"
ST_UNCERTAIN = "Incerto"
ALL_STATES = (
    ST_TO_SEND, ST_INVALID, ST_SENDING, ST_SENT, ST_ACCEPTED, ST_DELIVERED, ST_ACCEPTED_EXTERNAL,
    ST_DELAYED, ST_NOT_DELIVERED, ST_NOT_ACCEPTED, ST_REFUSED, ST_UNCERTAIN,
)
