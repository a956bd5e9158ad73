"""Italian wording shared by every front: plurals and numbers with a decimal comma.

One place so that "1 righe" or "0.5 minuti" cannot come back through a second copy.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Nouns the product counts, singular -> plural (the few irregular ones included).
_PLURALS = {
    "riga": "righe", "errore": "errori", "avviso": "avvisi", "ricevuta": "ricevute", "secondo": "secondi",
    "minuto": "minuti", "ora": "ore", "PEC": "PEC", "messaggio": "messaggi", "anomalia": "anomalie",
    "colonna": "colonne", "campagna": "campagne", "destinatario": "destinatari", "allegato": "allegati",
    "lettura": "letture", "prova": "prove", "tentativo": "tentativi", "giorno": "giorni",
}
# Adjectives after the noun agree with it: "1 ricevuta nuova", "2 ricevute nuove".
_ADJECTIVES = {"nuova": "nuove", "nuovo": "nuovi", "pronta": "pronte", "registrata": "registrate",
               "esaminato": "esaminati", "importata": "importate", "inviata": "inviate", "consegnata": "consegnate"}


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`plural(1, "riga")` → "1 riga", `plural(3, "riga")` → "3 righe"; "ricevuta nuova" agrees too."""
    words = singular.split(" ")
    if count != 1:
        if plural_form is not None:
            words = plural_form.split(" ")
        else:
            words = [_PLURALS.get(w, _ADJECTIVES.get(w, w)) for w in words]
    return f"{format_count(count)} {' '.join(words)}"


def format_count(count: int) -> str:
    """A whole count as Italians write it: `12.345`."""
    return format_decimal_it(int(count), 0, thousands=True)


def _group_thousands(integer_digits: str) -> str:
    groups = []
    while len(integer_digits) > 3:
        groups.insert(0, integer_digits[-3:])
        integer_digits = integer_digits[:-3]
    groups.insert(0, integer_digits)
    return ".".join(groups)


def format_decimal_it(value: float | int | Decimal, decimals: int, thousands: bool = False) -> str:
    """`1234.5` → `1234,50` (or `1.234,50` with thousands), rounding half up like Excel."""
    if type(value) is int:  # exact already (a CAP, a count): no Decimal needed
        integer = str(abs(value))
        text = (_group_thousands(integer) if thousands else integer) + ("," + "0" * decimals if decimals else "")
        return "-" + text if value < 0 else text
    quantum = Decimal(1).scaleb(-decimals)
    number = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    integer, _, fraction = text.partition(".")
    if thousands:
        integer = _group_thousands(integer)
    return sign + integer + ("," + fraction if decimals else "")


def format_number(value: float | int, decimals: int = 1) -> str:
    """A measured quantity shown to the user: `0,5`, `12`, `1.234,5` (trailing `,0` dropped)."""
    text = format_decimal_it(value, decimals, thousands=True)
    if "," in text:
        text = text.rstrip("0").rstrip(",")
    return text


def duration(seconds: float) -> str:
    """`45` → "45 secondi", `90` → "1,5 minuti", `7200` → "2 ore"."""
    if seconds < 1:
        return "meno di un secondo"
    if seconds < 60:
        value = max(round(seconds), 0)
        return plural(value, "secondo")
    if seconds < 3600:
        minutes = seconds / 60
        return f"{format_number(minutes)} {'minuto' if format_number(minutes) == '1' else 'minuti'}"
    hours = seconds / 3600
    return f"{format_number(hours)} {'ora' if format_number(hours) == '1' else 'ore'}"


def join_sentence(text: str, tail: str = ".") -> str:
    """End a sentence once: no ".)." or ".." when the text already ends with punctuation."""
    text = text.rstrip()
    if text.endswith((".", "!", "?", "…")) and tail.startswith("."):
        return text + tail[1:]
    return text + tail


_ERRNO_TEXTS = {
    "ENOENT": "file o cartella inesistente", "EACCES": "permesso negato", "EPERM": "operazione non permessa",
    "EISDIR": "è una cartella", "ENOTDIR": "un elemento del percorso non è una cartella", "ENOSPC": "disco pieno",
    "EROFS": "disco in sola lettura", "EBUSY": "file in uso", "EEXIST": "il file esiste già",
    "ECONNREFUSED": "connessione rifiutata: nessun servizio in ascolto su quella porta",
    "ECONNRESET": "connessione chiusa dal server", "ETIMEDOUT": "nessuna risposta entro il tempo massimo",
    "EHOSTUNREACH": "server non raggiungibile", "ENETUNREACH": "rete non raggiungibile", "EPIPE": "connessione interrotta",
}


def describe_error(error: BaseException) -> str:
    """A short Italian description of a system, network or TLS error (Python's texts are English)."""
    import errno
    import imaplib
    import socket
    import ssl

    if isinstance(error, imaplib.IMAP4.abort):
        return "connessione interrotta dal server"
    if isinstance(error, ssl.SSLCertVerificationError):
        return "certificato del server non valido"
    if isinstance(error, ssl.SSLError):
        return "errore nella connessione cifrata (TLS): controllate porta e sicurezza"
    if isinstance(error, socket.gaierror):
        return "nome del server sconosciuto: controllate l'indirizzo e la rete"
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "nessuna risposta entro il tempo massimo"
    if isinstance(error, OSError) and error.errno is not None:
        name = errno.errorcode.get(error.errno, "")
        if name in _ERRNO_TEXTS:
            return _ERRNO_TEXTS[name]
        return f"errore di sistema {error.errno}"
    if isinstance(error, ConnectionError):
        return "connessione interrotta"
    if isinstance(error, EOFError):
        return "connessione chiusa dal server"
    return "errore imprevisto"


def clause(text: object) -> str:
    """A message used inside another sentence: without its final full stop (no ".)." or "..")."""
    return str(text).strip().rstrip(".").rstrip()
