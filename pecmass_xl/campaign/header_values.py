"""What a value may hold when it ends up in a message header (subject, address, file name).

Python's e-mail package decodes RFC 2047 encoded words (`=?utf-8?q?…?=`) while folding a header,
and before the fix for CVE-2024-6923 (3.11.7, 3.12.1…) it writes a decoded CR LF as it is: a cell
value could add a `Bcc:` or end the headers. Line and paragraph separators (U+2028, U+2029, U+0085)
break the folding too, and bidirectional controls disguise what a recipient reads. So a header
value refuses all of them, whatever the Python patch level; invisible characters pasted from Word
(soft hyphen, BOM, zero-width space) are only removed. Values used in the body are never touched.
"""

from __future__ import annotations

import re
import unicodedata

from pecmass_xl.core.errors import MessageNotBuilt

ENCODED_WORD = re.compile(r"=\?[^?]*\?[^?]*\?.*?\?=", re.DOTALL)
LINE_BREAKS = frozenset("\r\n")
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
INVISIBLE = frozenset("\u00ad\u200b\u2060\ufeff")

_NAMES = {
    "\t": "tabulazione",
    "\r": "ritorno a capo",
    "\n": "a capo",
    "\x85": "a capo Unicode NEL",
    "\u2028": "separatore di riga",
    "\u2029": "separatore di paragrafo",
    "\u00ad": "trattino morbido",
    "\u200b": "spazio a larghezza zero",
    "\u2060": "unione di parola invisibile",
    "\ufeff": "BOM, segno di ordine dei byte",
}


def code_point(ch: str) -> str:
    """`U+2028 (separatore di riga)`: the character named so that a user can find it."""
    if ch in _NAMES:
        what = _NAMES[ch]
    elif ch in BIDI_CONTROLS:
        what = "controllo della direzione del testo"
    else:
        what = "carattere di controllo"
    return f"U+{ord(ch):04X} ({what})"


def forbidden_character(value: str) -> str | None:
    """The first character a header value must not hold (control, separator, bidi control)."""
    for ch in value:
        if ch in BIDI_CONTROLS or ch in "\u2028\u2029" or unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return ch
    return None


def header_value_problem(value: str) -> tuple[str, str] | None:
    """(code, Italian reason) when `value` may not reach a header; None when it may."""
    ch = forbidden_character(value)
    if ch is not None:
        return "header_value_control", f"contiene il carattere {code_point(ch)}, non ammesso nelle intestazioni del messaggio"
    match = ENCODED_WORD.search(value)
    if match:
        shown = match.group(0) if len(match.group(0)) <= 40 else match.group(0)[:37] + "…"
        return ("header_value_encoded_word",
                f"contiene «{shown}», una parola codificata (=?…?=) che il programma di posta trasformerebbe "
                "in altro testo, anche in nuove intestazioni: riscrivete il valore in chiaro")
    return None


def strip_invisible(value: str) -> tuple[str, list[str]]:
    """`value` without invisible characters, and the code points removed (for the warning)."""
    if not any(ch in INVISIBLE for ch in value):
        return value, []
    removed = sorted({code_point(ch) for ch in value if ch in INVISIBLE})
    return "".join(ch for ch in value if ch not in INVISIBLE), removed


class UnsafeHeaderValue(MessageNotBuilt):
    """A value the MIME builder refuses to put in a header (the message is Italian)."""


def require_header_value(what: str, value: str) -> None:
    """The MIME builder's own guard: raise `UnsafeHeaderValue` naming `what` and the reason."""
    found = header_value_problem(value)
    if found is not None:
        raise UnsafeHeaderValue(f"{what} {found[1]}.", found[0])
