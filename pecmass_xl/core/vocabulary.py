"""The Italian words the user reads in the result columns (DESIGN §3, §4), defined once.

The result column headers, the row states (`Stato invio`), the `Esito` and `Firma` values and the
status colours are a contract with the user's workbooks, the .xlsm template, the journal and the
report: every layer imports them from here (the journal too, so they live in `core`). Change a text
only together with `workbook.contract.CONTRACT_VERSION`. tests/test_architecture.py checks that no
other module of the package spells these texts out.
"""

from __future__ import annotations

# --- Result columns, in their order on the right of the list (reserved header texts) ------------
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

# --- Row states: `Stato invio` (DESIGN §4) -------------------------------------------------------
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

# --- Esito: the outcome, a fixed list whatever the provider wrote ---------------------------------
ESITO_CONSEGNATA = "Consegnata"
ESITO_CASELLA_PIENA = "Casella piena"
ESITO_INDIRIZZO_INESISTENTE = "Indirizzo inesistente"
ESITO_DOMINIO_INESISTENTE = "Dominio inesistente"
ESITO_VIRUS = "Virus"
ESITO_TEMPO_SCADUTO = "Tempo scaduto"
ESITO_NON_PEC = "Destinatario non PEC"
ESITO_TROPPO_GRANDE = "Messaggio troppo grande"
ESITO_FORMATO = "Formato non accettato"
ESITO_RIFIUTATO = "Rifiutato dal server"
ESITO_TEMPORANEO = "Errore temporaneo"
ESITO_INCERTO = "Esito incerto"
ESITO_ALTRO = "Altro"
ESITI = (
    ESITO_CONSEGNATA, ESITO_CASELLA_PIENA, ESITO_INDIRIZZO_INESISTENTE, ESITO_DOMINIO_INESISTENTE,
    ESITO_VIRUS, ESITO_TEMPO_SCADUTO, ESITO_NON_PEC, ESITO_TROPPO_GRANDE, ESITO_FORMATO,
    ESITO_RIFIUTATO, ESITO_TEMPORANEO, ESITO_INCERTO, ESITO_ALTRO,
)

# --- Firma: what the receipt's signature proves ----------------------------------------------------
FIRMA_VERIFICATA = "verificata"
FIRMA_NON_VERIFICATA = "non verificata"
FIRMA_ASSENTE = "assente"
FIRME = (FIRMA_VERIFICATA, FIRMA_NON_VERIFICATA, FIRMA_ASSENTE)

# --- Conditional fill colour (RGB hex) of `Stato invio`, per state; also in the .xlsm template -----
# The order is the order of the conditional-format rules written into workbooks.
STATUS_COLOURS = {
    ST_DELIVERED: "C6EFCE",
    ST_ACCEPTED_EXTERNAL: "DDEBF7",
    ST_ACCEPTED: "E2EFDA",
    ST_SENT: "FFF2CC",
    ST_SENDING: "FFF2CC",
    ST_DELAYED: "FCE4D6",
    ST_UNCERTAIN: "F8CBAD",
    ST_NOT_DELIVERED: "FFC7CE",
    ST_NOT_ACCEPTED: "FFC7CE",
    ST_REFUSED: "FFC7CE",
    ST_INVALID: "FFC7CE",
}
