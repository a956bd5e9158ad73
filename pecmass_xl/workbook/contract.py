"""The workbook contract (DESIGN §3): sheet names, labels, result columns, the hidden marker.

Everything here is user-visible Italian text that other modules and the .xlsm template rely on;
change it only together with `CONTRACT_VERSION`.
"""

from __future__ import annotations

# Result columns (in their order on the right of the list) and row states: the one vocabulary,
# re-exported so the contract reads whole (DESIGN §3, §4).
from pecmass_xl.core.vocabulary import (  # noqa: F401 (re-exported)
    ALL_STATES,
    COL_ACCEPTED_AT,
    COL_DELIVERED_AT,
    COL_DETAIL,
    COL_ID,
    COL_OUTCOME,
    COL_RECEIPTS,
    COL_SENT_AT,
    COL_SIGNATURE,
    COL_STATUS,
    DATE_RESULT_COLUMNS,
    RESULT_COLUMNS,
    ST_ACCEPTED,
    ST_ACCEPTED_EXTERNAL,
    ST_DELAYED,
    ST_DELIVERED,
    ST_INVALID,
    ST_NOT_ACCEPTED,
    ST_NOT_DELIVERED,
    ST_REFUSED,
    ST_SENDING,
    ST_SENT,
    ST_TO_SEND,
    ST_UNCERTAIN,
)

CONTRACT_VERSION = 1

SHEET_LIST = "Destinatari"
SHEET_MESSAGE = "Messaggio"
SHEET_SETTINGS = "Impostazioni"
SHEET_SUMMARY = "Riepilogo"
SHEET_PREVIEW = "Anteprima"
SHEET_MARKER = "pecmass"  # very hidden: contract version and campaign id

MARKER_VERSION = "Versione contratto"
MARKER_CAMPAIGN = "ID campagna"
MARKER_UPDATED = "Ultimo aggiornamento"  # B3: rewritten at every write through Excel; PEC_STATO depends on it

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
SET_ATTACHMENT_FOLDERS = "Cartelle allegati"
SET_IDENTICAL_WINDOW = "Blocco PEC identiche (giorni)"
DEFAULT_IDENTICAL_WINDOW_DAYS = 30

# `Dettaglio` of a row re-adopting an identical PEC handed over earlier (issue 10); the provider's
# words, when they come, follow it.
NOTE_IDENTICAL = "Già inviata: una PEC identica è stata affidata al gestore il {when} ({where}); non inviata di nuovo."
NOTE_IDENTICAL_ROW = "riga {row}, ID invio {row_id}"
NOTE_IDENTICAL_CAMPAIGN = "campagna {campaign}, ID invio {row_id}"

SECURITY_MODES = ("SSL/TLS", "STARTTLS")
