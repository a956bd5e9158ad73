"""Cell values as the user sees them (DESIGN §3): the text a template prints for a cell.

A template prints what the cell shows, not the stored number: dates `gg/mm/aaaa`, whole numbers
without decimals, booleans `Sì`/`No`, zero-padded formats kept (a CAP `00184` stays `00184`),
Italian decimal comma. The raw value stays available to the explicit filters (`euro`, `data`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from pecmass_xl.core.italian import format_decimal_it


class CellText(str):
    """A cell's displayed text that still carries the raw value for filters."""

    raw: object

    def __new__(cls, text: str, raw: object = None) -> CellText:
        obj = super().__new__(cls, text)
        obj.raw = raw if raw is not None else text
        return obj


_SECTION_SPLIT = re.compile(r';(?=(?:[^"]*"[^"]*")*[^"]*$)')
_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def _clean_format(number_format: str) -> str:
    """First section of the format with literals, colours and locale tags removed."""
    section = _SECTION_SPLIT.split(number_format or "General")[0]
    return _QUOTED.sub("", section)


def _format_general_number(value: float | int) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    text = f"{value:.10g}"
    if "e" in text:
        return text.replace(".", ",")
    return text.replace(".", ",")


def _looks_like_date_format(fmt: str) -> bool:
    return bool(re.search(r"[dmyhs]", fmt.lower())) and "general" not in fmt.lower()


def format_date(value: dt.date | dt.datetime, fmt: str = "") -> str:
    """Dates `gg/mm/aaaa`; date-times with a time part also show `hh:mm` when the format has one."""
    if isinstance(value, dt.time):
        return f"{value.hour:02d}:{value.minute:02d}"
    day = f"{value.day:02d}/{value.month:02d}/{value.year:04d}"  # strftime is three times slower
    if isinstance(value, dt.datetime) and "h" in fmt.lower() and (value.hour or value.minute or value.second):
        return f"{day} {value.hour:02d}:{value.minute:02d}"
    return day


@lru_cache(maxsize=256)
def _number_layout(number_format: str) -> tuple | None:
    """What matters of a number format, worked out once per format: None means General.

    (decimals, thousands separator, minimum integer digits, percent, euro sign)
    """
    fmt = _clean_format(number_format)
    lowered = fmt.lower()
    if not fmt or lowered == "general" or lowered == "@":
        return None
    if _looks_like_date_format(fmt) and not re.search(r"[0#]", fmt):
        return None  # a serial date that openpyxl did not convert: leave it as a plain number
    digits = fmt.replace("%", "")
    integer_part, _, fraction_part = digits.partition(".")
    decimals = fraction_part.count("0") + fraction_part.count("#")
    thousands = "," in integer_part
    min_integer = integer_part.replace(",", "").count("0")
    return decimals, thousands, min_integer, "%" in fmt, "€" in number_format


def format_number(value: float | int, number_format: str | None) -> str:
    """Render a number through the parts of an Excel number format that matter for letters."""
    layout = _number_layout(number_format or "General")
    if layout is None:
        return _format_general_number(value)
    decimals, thousands, min_integer, percent, euro = layout
    if percent:
        value = value * 100
    text = format_decimal_it(value, decimals, thousands)
    if min_integer > 1:
        sign = "-" if text.startswith("-") else ""
        body = text.lstrip("-")
        int_text, sep, frac = body.partition(",")
        int_text = int_text.zfill(min_integer) if "." not in int_text else int_text
        text = sign + int_text + sep + frac
    if euro:
        text = f"{text} €"
    return text + ("%" if percent else "")


def display_text(value: object, number_format: str | None = None) -> str:
    """The text Excel would show for a cell value (Italian locale)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Sì" if value else "No"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return format_date(value, number_format or "")
    if isinstance(value, (int, float)):
        return format_number(value, number_format)
    return str(value)


def cell_text(value: object, number_format: str | None = None) -> str:
    """What a template prints for a cell; text cells stay plain `str` (their raw value is the text)."""
    if isinstance(value, str):
        return value
    return CellText(display_text(value, number_format), value)


_ITALIAN_PLAIN = re.compile(r"[+-]?\d+(,\d+)?")
_ITALIAN_GROUPED = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")
_ENGLISH_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DOT_DECIMAL = re.compile(r"[+-]?\d*\.\d+")


@dataclass(frozen=True)
class NumberReading:
    """How a text cell reads as a number by Italian rules: a value, or why it cannot be trusted."""

    value: Decimal | None
    problem: str | None = None  # Italian: the value is ambiguous or not written the Italian way


def _clean_number_text(text: str) -> str:
    return text.strip().replace("€", "").replace("\u00a0", "").replace(" ", "").replace("'", "")


def read_italian_number(text: str) -> NumberReading:
    """`1.234,56`, `1500`, `1.500` (= 1500) read by Italian rules; `1,234.56` or `1.5` are ambiguous.

    The dot groups thousands and the comma separates decimals, as an Italian office writes them. A
    value that only makes sense with the English convention is never guessed: the `problem` says how
    it would be read either way, so the user fixes the cell instead of sending a wrong amount.
    """
    cleaned = _clean_number_text(text)
    if not cleaned:
        return NumberReading(None)
    if _ITALIAN_PLAIN.fullmatch(cleaned) or _ITALIAN_GROUPED.fullmatch(cleaned):
        return NumberReading(Decimal(cleaned.replace(".", "").replace(",", ".")))
    english = None
    if _ENGLISH_GROUPED.fullmatch(cleaned) and "." in cleaned:
        english = Decimal(cleaned.replace(",", ""))
    elif _DOT_DECIMAL.fullmatch(cleaned):
        english = Decimal(cleaned)
    if english is None:
        return NumberReading(None)
    decimals = max(-english.as_tuple().exponent, 0)
    italian = format_decimal_it(english, decimals, thousands=True)
    return NumberReading(None, (
        f"«{text.strip()}» non è scritto all'italiana (il punto separa le migliaia, la virgola i decimali): "
        f"con il punto decimale si leggerebbe {italian}. Scrivete {italian} se è questo il valore"
    ))


def parse_italian_number(text: str) -> Decimal | None:
    """`1.234,56`, `1.500` or `1234,5 €` → Decimal; None when it is no number or is ambiguous."""
    return read_italian_number(text).value


def legacy_parse_number(text: str) -> Decimal | None:
    """How pecmass 0.1.0 read a number in text (a lone dot was a decimal point: `1.500` → 1,5).

    Kept only to recognise PECs sent before the upgrade whose amount was read this way (their
    content hash holds the old reading); never used to compose a new message.
    """
    cleaned = text.strip().replace("€", "").replace("\u00a0", "").replace(" ", "")
    if not cleaned:
        return None
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        return Decimal(cleaned)
    except Exception:  # noqa: BLE001 - not a number: the caller reports it
        return None
