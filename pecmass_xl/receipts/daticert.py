"""`daticert.xml`: the provider's certification data attached to every PEC receipt and envelope.

The XML goes through defusedxml (entity declarations and external references are refused, so an
XML bomb or an external entity never expands). Parsing is lenient with what real providers send:
bytes after `</postacert>` (Aruba adds `\\n\\r\\n`), stray text between elements, a missing `msgid`,
element names in another case. Values are kept verbatim, only trimmed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

# Real daticert files are a few kilobytes; anything far larger is not a daticert worth parsing.
MAX_DATICERT_BYTES = 64_000

_ZONA = re.compile(r"^\s*([+-])?(\d{1,2}):?(\d{2})\s*$")
_GIORNO = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
_ORA = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


@dataclass(frozen=True, slots=True)
class Daticert:
    """The fields of `daticert.xml` (DTD of the DM 2/11/2005 technical rules), trimmed."""

    tipo: str | None                 # postacert/@tipo, lower-case: accettazione, avvenuta-consegna, ...
    errore: str                      # postacert/@errore, lower-case; "nessuno" when absent
    errore_esteso: str | None
    mittente: str | None
    destinatari: tuple[tuple[str, str], ...]  # (address, "certificato" | "esterno")
    risposte: str | None
    oggetto: str | None
    gestore: str | None              # gestore-emittente
    identificativo: str | None       # the provider's PEC msgid (no angle brackets in real files)
    msgid: str | None                # the client's Message-ID, normally with <>
    ricevuta_tipo: str | None        # ricevuta/@tipo: completa | breve | sintetica
    consegna: str | None
    ricezioni: tuple[str, ...]
    giorno: str | None               # dd/mm/yyyy as written
    ora: str | None                  # hh:mm:ss local time as written
    zona: str | None                 # offset as written, e.g. "+0200"
    event_time: datetime | None      # aware UTC, computed with `zona`


def parse_zona(zona: str | None) -> timezone | None:
    """`+0200` (also `+02:00`, `0200`) → a fixed-offset timezone; None when unreadable."""
    if not zona:
        return None
    match = _ZONA.match(zona)
    if not match:
        return None
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset > timedelta(hours=14):
        return None
    return timezone(-offset if sign == "-" else offset)


def event_time_utc(giorno: str | None, ora: str | None, zona: str | None) -> datetime | None:
    """The daticert date and local time, read with its `zona` offset, as an aware UTC datetime."""
    if not giorno or not ora:
        return None
    tz = parse_zona(zona)
    day, clock = _GIORNO.match(giorno), _ORA.match(ora)
    if tz is None or day is None or clock is None:
        return None
    dd, mm, yyyy = (int(v) for v in day.groups())
    hh, mi, ss = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
    try:
        local = datetime(yyyy, mm, dd, hh, mi, ss, tzinfo=tz)
    except ValueError:
        return None
    return local.astimezone(UTC)


def _name(element: Element) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1].lower()


def _text(element: Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def _attr(element: Element | None, name: str) -> str | None:
    if element is None:
        return None
    for key, value in element.attrib.items():
        if key.rsplit("}", 1)[-1].lower() == name:
            value = value.strip()
            return value or None
    return None


def _trim(raw: bytes) -> bytes:
    """Drop leading blanks and anything after the closing root tag (real Aruba quirk)."""
    raw = raw.lstrip(b"\r\n\t ")
    end = raw.lower().rfind(b"</postacert>")
    if end >= 0:
        raw = raw[: end + len(b"</postacert>")]
    return raw


def parse_daticert(raw: bytes) -> tuple[Daticert | None, list[str]]:
    """Parse `daticert.xml` bytes. Never raises: returns (None, problems) when it cannot be read.

    Problems are short Italian sentences meant for the anomaly list. The same bytes are read twice
    per receipt (parsing, then checking the signed part), hence the small memo.
    """
    if len(raw) > MAX_DATICERT_BYTES:
        return None, ["daticert.xml troppo grande: ignorato"]
    daticert, problems = _parse_daticert_memo(bytes(raw))
    return daticert, list(problems)


@lru_cache(maxsize=128)
def _parse_daticert_memo(raw: bytes) -> tuple[Daticert | None, tuple[str, ...]]:
    daticert, problems = _parse_daticert(raw)
    return daticert, tuple(problems)


def _parse_daticert(raw: bytes) -> tuple[Daticert | None, list[str]]:
    problems: list[str] = []
    try:
        root = SafeET.fromstring(_trim(raw))
    except DefusedXmlException:
        return None, ["daticert.xml rifiutato: contiene entità o riferimenti esterni"]
    except (ParseError, ValueError, TypeError, LookupError, RecursionError):
        return None, ["daticert.xml illeggibile"]
    if _name(root) != "postacert":
        return None, ["daticert.xml senza elemento postacert"]

    intestazione: Element | None = None
    dati: Element | None = None
    for child in root:
        name = _name(child)
        if name == "intestazione" and intestazione is None:
            intestazione = child
        elif name == "dati" and dati is None:
            dati = child
    if intestazione is None or dati is None:
        problems.append("daticert.xml incompleto")

    index: dict[tuple[int, str], list[Element]] = {}
    for parent in (intestazione, dati):
        for child in parent if parent is not None else ():
            index.setdefault((id(parent), _name(child)), []).append(child)

    def children(parent: Element | None, name: str) -> list[Element]:
        if parent is None:
            return []
        if parent is intestazione or parent is dati:
            return index.get((id(parent), name), [])
        return [c for c in parent if _name(c) == name]

    def first(parent: Element | None, name: str) -> Element | None:
        found = children(parent, name)
        return found[0] if found else None

    destinatari = tuple(
        (text, (_attr(el, "tipo") or "certificato").lower())
        for el in children(intestazione, "destinatari")
        if (text := _text(el))
    )
    data = first(dati, "data")
    giorno, ora = _text(first(data, "giorno")), _text(first(data, "ora"))
    zona = _attr(data, "zona")
    event_time = event_time_utc(giorno, ora, zona)
    if data is not None and event_time is None:
        problems.append("data di daticert.xml illeggibile")

    tipo = _attr(root, "tipo")
    ricevuta_tipo = _attr(first(dati, "ricevuta"), "tipo")
    result = Daticert(
        tipo=tipo.lower() if tipo else None,
        errore=(_attr(root, "errore") or "nessuno").lower(),
        errore_esteso=_text(first(dati, "errore-esteso")),
        mittente=_text(first(intestazione, "mittente")),
        destinatari=destinatari,
        risposte=_text(first(intestazione, "risposte")),
        oggetto=_text(first(intestazione, "oggetto")),
        gestore=_text(first(dati, "gestore-emittente")),
        identificativo=_text(first(dati, "identificativo")),
        msgid=_text(first(dati, "msgid")),
        ricevuta_tipo=ricevuta_tipo.lower() if ricevuta_tipo else None,
        consegna=_text(first(dati, "consegna")),
        ricezioni=tuple(t for el in children(dati, "ricezione") if (t := _text(el))),
        giorno=giorno,
        ora=ora,
        zona=zona,
        event_time=event_time,
    )
    if result.tipo is None:
        problems.append("daticert.xml senza tipo")
    return result, problems
