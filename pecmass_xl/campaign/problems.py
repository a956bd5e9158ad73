"""Problems found by the checks, and the published catalogue of their codes (README)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    row: int | None  # Excel row number; None for settings and templates
    column: str | None  # header, or the label in Messaggio/Impostazioni
    code: str
    severity: str
    message: str  # Italian, says what to do

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"riga {self.row}")
        if self.column:
            where.append(f"colonna «{self.column}»" if self.row is not None else f"«{self.column}»")
        prefix = ", ".join(where)
        kind = "Errore" if self.severity == ERROR else "Avviso"
        return f"{kind} ({prefix}): {self.message}" if prefix else f"{kind}: {self.message}"


# code -> (severity, what it means). The README's table is generated from this.
CATALOGUE: dict[str, tuple[str, str]] = {
    "sheet_missing": (ERROR, "manca un foglio del contratto (Destinatari, Messaggio, Impostazioni)"),
    "list_empty": (ERROR, "nessun destinatario nel foglio Destinatari"),
    "label_duplicate": (WARNING, "un'etichetta compare due volte in Messaggio o Impostazioni: vale la prima"),
    "header_duplicate": (ERROR, "due colonne hanno la stessa intestazione (anche solo per maiuscole o spazi)"),
    "header_reserved": (ERROR, "un'intestazione somiglia a una colonna dei risultati di pecmass, o una colonna dei risultati compare due volte"),
    "header_spaces": (WARNING, "intestazione con spazi iniziali o finali: pecmass li ignora"),
    "header_line_break": (ERROR, "intestazione con a capo o caratteri di controllo"),
    "header_merged": (ERROR, "celle unite nella riga delle intestazioni"),
    "header_missing": (WARNING, "valori in una colonna senza intestazione: ignorati"),
    "address_missing": (ERROR, "indirizzo del destinatario vuoto"),
    "address_invalid": (ERROR, "indirizzo del destinatario non valido"),
    "address_multiple": (ERROR, "più indirizzi nella stessa cella: uno per riga"),
    "address_reserved_domain": (ERROR, "dominio di prova (.test, .example…) ammesso solo con il gestore Sandbox"),
    "address_duplicate": (WARNING, "lo stesso indirizzo compare in più righe"),
    "address_column_missing": (ERROR, "la colonna dell'indirizzo indicata in Impostazioni non esiste"),
    "template_syntax": (ERROR, "errore di sintassi nel modello (Oggetto o Testo), con la riga"),
    "template_unknown_field": (ERROR, "il modello usa un campo che non è un'intestazione (indica la più simile)"),
    "template_empty_value": (ERROR, "il modello usa un valore vuoto in questa riga senza condizione {% if %}"),
    "template_render": (ERROR, "il modello non si può comporre per questa riga (es. filtro su un valore non adatto)"),
    "number_ambiguous": (ERROR, "un valore usato come numero (euro, numero, confronti) non è scritto all'italiana: 1.234,56"),
    "subject_empty": (ERROR, "l'oggetto composto è vuoto"),
    "subject_multiline": (ERROR, "l'oggetto composto va su più righe"),
    "text_empty": (WARNING, "il testo composto è vuoto"),
    "header_value_control": (ERROR, "a capo, caratteri di controllo, separatori di riga o di paragrafo (U+2028, U+2029, U+0085) o controlli di direzione del testo in un valore che finisce in un'intestazione del messaggio (oggetto, indirizzo, nome di allegato); il messaggio indica il carattere"),
    "header_value_encoded_word": (ERROR, "una parola codificata `=?…?…?…?=` in un valore che finisce in un'intestazione del messaggio: il programma di posta la decodificherebbe, anche in nuove intestazioni"),
    "header_value_invisible": (WARNING, "caratteri invisibili (trattino morbido, BOM, spazio a larghezza zero) in oggetto, indirizzo o nome di allegato: tolti nel messaggio"),
    "formula_no_value": (ERROR, "formula senza valore calcolato: aprire il file in Excel, ricalcolare e salvare"),
    "attachment_missing": (ERROR, "allegato inesistente"),
    "attachment_not_file": (ERROR, "l'allegato indicato non è un file normale: una cartella, un dispositivo, una pipe, o un file di sistema (/proc, /sys, /dev)"),
    "attachment_unreadable": (ERROR, "allegato non leggibile"),
    "attachment_outside": (ERROR, "allegato fuori dalla cartella della cartella di lavoro e dalle «Cartelle allegati» (anche tramite collegamento simbolico)"),
    "attachment_forbidden_type": (ERROR, "tipo di allegato rifiutato dai gestori (exe, bat, cmd, com, scr, js, vbs, ps1, msi, jar, lnk, hta…)"),
    "attachment_empty": (WARNING, "allegato di 0 byte"),
    "message_too_large": (ERROR, "il messaggio codificato supera la dimensione massima"),
    "receipts_volume": (WARNING, "con ricevute complete gli allegati tornano nella casella del mittente: molti MB in totale"),
    "setting_missing": (ERROR, "impostazione obbligatoria mancante"),
    "setting_invalid": (ERROR, "impostazione non valida"),
    "setting_uncertain": (WARNING, "valore del gestore non confermato da fonti ufficiali: verificarlo"),
    "provider_notice": (WARNING, "avviso contrattuale del gestore (es. Legalmail: 6 al minuto, invii automatici)"),
    "row_already_sent": (WARNING, "la riga ha già un ID invio: i controlli non cambiano il suo stato"),
}


def problem(code: str, message: str, row: int | None = None, column: str | None = None) -> Problem:
    severity, _ = CATALOGUE[code]
    return Problem(row, column, code, severity, message)
