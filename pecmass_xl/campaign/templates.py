"""Subject and text templates: jinja2, sandboxed, strict (DESIGN §3).

Cell values are data passed to the template, never templates themselves. Identifier headers are
variables (`{{ Nome }}`), any header is `{{ riga["Data di nascita"] }}`. An empty cell printed
without a guard (`{% if %}`, `or`) is an error for that row: an `EmptyValue` records each use.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import difflib
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from pecmass_xl.campaign.template_limits import (
    LimitedEnvironment,
    TemplateLimit,
    count_loops,
    limit_filters,
    reset_budget,
)
from pecmass_xl.core.italian import format_decimal_it
from pecmass_xl.workbook.cell_values import CellText, format_date, legacy_parse_number, read_italian_number

ROW_VARIABLE = "riga"
DEFAULT_MAX_CHARS = 30_000_000  # the output stops here unless the caller gives its size limit
log = logging.getLogger("pecmass.templates")


class EmptyUse(Exception):
    pass


class EmptyValue(CellText):
    """An empty cell: falsy for guards; printing or transforming it is recorded as a use."""

    def __new__(cls, field_name: str, uses: list[str]) -> EmptyValue:
        obj = super().__new__(cls, "", None)
        obj.field_name = field_name
        obj.uses = uses
        return obj

    def _used(self) -> str:
        self.uses.append(self.field_name)
        return ""

    def __str__(self) -> str:
        return self._used()

    def __add__(self, other):
        return self._used() + other

    def __radd__(self, other):
        return other + self._used()

    def __format__(self, spec: str) -> str:
        return self._used()

    def __getattribute__(self, name: str):
        if name in ("field_name", "uses", "_used", "raw", "__class__", "__dict__"):
            return object.__getattribute__(self, name)
        if not name.startswith("__"):
            self._used()
        return super().__getattribute__(name)


def _raw_of(value: object) -> object:
    if isinstance(value, EmptyValue):
        value._used()
        return None
    return getattr(value, "raw", value)


class FieldError(ValueError):
    """A value a filter cannot use; the message is already Italian."""


class AmbiguousNumber(FieldError):
    """A text value used as a number that is not written the Italian way (a `check` problem of its own)."""


# Set while a row is rendered: the values whose reading differs from pecmass 0.1.0's (`1.500`), so the
# send plan can recognise a PEC sent before the upgrade; with `legacy` set, that old reading is used.
_READINGS: contextvars.ContextVar[list | None] = contextvars.ContextVar("number_readings", default=None)
_LEGACY: contextvars.ContextVar[bool] = contextvars.ContextVar("legacy_numbers", default=False)


@contextlib.contextmanager
def legacy_number_reading():
    """Render with pecmass 0.1.0's reading of numbers in text (only to recompute an old content hash)."""
    token = _LEGACY.set(True)
    try:
        yield
    finally:
        _LEGACY.reset(token)


def _number_of(raw: object, what: str) -> int | float | Decimal:
    """A cell's value as a number: real numbers as they are, text by Italian rules (DESIGN §3)."""
    if isinstance(raw, bool):
        raise FieldError(f"un valore Sì/No non è {what}")
    if isinstance(raw, (int, float, Decimal)):
        return raw
    text = str(raw)
    reading = read_italian_number(text)
    legacy = legacy_parse_number(text)
    if reading.value is not None and legacy != reading.value:
        seen = _READINGS.get()
        if seen is not None:
            seen.append(text)
    if _LEGACY.get() and legacy is not None:
        return legacy
    if reading.problem:
        error = AmbiguousNumber(reading.problem)
        error.value = text
        raise error
    if reading.value is None:
        raise FieldError(f"«{text}» non è {what}")
    return reading.value


def euro_filter(value: object) -> str:
    """`1234.5` → `1.234,50 €`; text is read by Italian rules (`1.500` is one thousand five hundred)."""
    raw = _raw_of(value)
    if raw is None or raw == "":
        return ""
    return f"{format_decimal_it(_number_of(raw, 'un importo'), 2, thousands=True)} €"


def date_filter(value: object, with_time: bool = False) -> str:
    """A date cell as `gg/mm/aaaa` (text in that form is kept)."""
    raw = _raw_of(value)
    if raw is None or raw == "":
        return ""
    if isinstance(raw, dt.datetime):
        return raw.strftime("%d/%m/%Y %H:%M") if with_time else raw.strftime("%d/%m/%Y")
    if isinstance(raw, dt.date):
        return format_date(raw)
    text = str(raw).strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).strftime("%d/%m/%Y")
        except ValueError:
            continue
    raise FieldError(f"«{text}» non è una data")


def number_filter(value: object, decimals: int = 2) -> str:
    raw = _raw_of(value)
    if raw is None or raw == "":
        return ""
    return format_decimal_it(_number_of(raw, "un numero"), decimals, thousands=True)


class FieldValue(CellText):
    """A row's value as a template sees it: printed as the cell shows it, compared as a number.

    `{% if Importo > 1000 %}` on a text cell "1.500" compares one thousand five hundred, not text
    with a number (which Python refuses in English).
    """

    def _compare(self, other, op):
        if isinstance(other, (int, float, Decimal)) and not isinstance(other, bool):
            return op(_number_of(self.raw, "un numero"), other)
        return op(str(self), other)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    __hash__ = str.__hash__


def _field_value(value: object) -> object:
    if type(value) is str:
        return FieldValue(value, value)
    if type(value) is CellText:
        return FieldValue(value, value.raw)
    return value


def make_environment() -> SandboxedEnvironment:
    env = LimitedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["euro"] = euro_filter
    env.filters["data"] = date_filter
    env.filters["numero"] = number_filter
    limit_filters(env)
    # No globals (range, dict, cycler, lipsum, namespace…): templates only see the row's fields.
    # Every such name was refused as an unknown field anyway; an empty mapping also makes each
    # render cheaper (jinja copies the globals into every new context).
    env.globals.clear()
    return env


ENVIRONMENT = make_environment()


@dataclass
class TemplateIssue:
    code: str
    message: str


@dataclass
class CompiledTemplate:
    label: str
    source: str
    template: object | None = None
    fields: set[str] = field(default_factory=set)  # headers the template refers to
    issues: list[TemplateIssue] = field(default_factory=list)


def _referenced_fields(ast: nodes.Template, headers: set[str]) -> tuple[set[str], set[str]]:
    """(known headers used, unknown names) from variables and `riga["…"]` subscripts."""
    assigned = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    assigned |= {n.name for n in ast.find_all(nodes.Macro)}
    used: set[str] = set()
    unknown: set[str] = set()
    for node in ast.find_all(nodes.Name):
        if node.ctx != "load" or node.name in assigned or node.name in (ROW_VARIABLE, "loop"):
            continue
        (used if node.name in headers else unknown).add(node.name)
    for node in ast.find_all(nodes.Getitem):
        if isinstance(node.node, nodes.Name) and node.node.name == ROW_VARIABLE and isinstance(node.arg, nodes.Const):
            key = str(node.arg.value)
            (used if key in headers else unknown).add(key)
    for node in ast.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == ROW_VARIABLE:
            (used if node.attr in headers else unknown).add(node.attr)
    return used, unknown


def nearest_header(name: str, headers: list[str]) -> str | None:
    lowered = {h.lower(): h for h in headers}
    if name.lower() in lowered:
        return lowered[name.lower()]
    matches = difflib.get_close_matches(name, headers, n=1, cutoff=0.5)
    if matches:
        return matches[0]
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[matches[0]] if matches else None


def field_syntax(header: str) -> str:
    """How a template names a header: `{{ Nome }}`, or `{{ riga["Data scadenza"] }}` when it is no identifier."""
    if header.isidentifier():
        return "{{ " + header + " }}"
    quoted = header.replace("\\", "\\\\").replace('"', '\\"')
    return "{{ " + ROW_VARIABLE + '["' + quoted + '"] }}'


def _unknown_field_hint(near: str | None, headers: list[str]) -> str:
    if near:
        return f" Forse intendevate «{near}»: scrivete {field_syntax(near)}."
    if headers:
        return f" Campi disponibili: {', '.join(headers)}."
    return " Il foglio Destinatari non ha intestazioni: scrivetele nella riga 1."


def compile_template(label: str, source: str, headers: list[str]) -> CompiledTemplate:
    compiled = CompiledTemplate(label, source or "")
    try:
        ast = ENVIRONMENT.parse(compiled.source)
        used, unknown = _referenced_fields(ast, set(headers))
        for node in ast.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)):
            raise TemplateSyntaxError("include, extends e import non sono disponibili: scrivete tutto nel modello", node.lineno)
        compiled.template = ENVIRONMENT.from_string(count_loops(ast))
        compiled.template.globals = {}  # no globals (see make_environment): nothing to copy per render
    except TemplateSyntaxError as exc:
        compiled.issues.append(TemplateIssue("template_syntax", f"Errore di sintassi alla riga {exc.lineno} del modello: {italian_syntax_error(exc.message)}."))
        return compiled
    except RecursionError:
        compiled.template = None
        compiled.issues.append(TemplateIssue("template_syntax", "Il modello ha troppi livelli annidati (parentesi o blocchi uno dentro l'altro): semplificatelo."))
        return compiled
    except Exception as exc:  # noqa: BLE001 - any other failure of the compiler: said in Italian, logged
        log.warning("template not compiled: %s", type(exc).__name__)
        compiled.template = None
        compiled.issues.append(TemplateIssue("template_syntax", "Il modello non si può preparare: semplificatelo (il registro di pecmass ha i dettagli tecnici)."))
        return compiled
    compiled.fields = used
    for name in sorted(unknown):
        near = nearest_header(name, headers)
        hint = _unknown_field_hint(near, headers)
        compiled.issues.append(TemplateIssue("template_unknown_field", f"Il campo «{name}» non è un'intestazione di Destinatari.{hint}"))
    return compiled


def row_context(values: dict[str, CellText], fields: set[str], empty_uses: list[str]) -> dict:
    """Template variables for one row; empty cells become `EmptyValue`s that record their use."""
    row: dict[str, object] = dict(values)  # a copy: a template never changes the row it reads
    for name in fields:
        value = row.get(name)
        if value == "":
            row[name] = EmptyValue(name, empty_uses)
        elif value is not None:
            row[name] = _field_value(value)
    # Only the headers the template names: every other name is an unknown field, refused already.
    context = {name: row[name] for name in fields if name in row and name.isidentifier()}
    context[ROW_VARIABLE] = row
    return context


@dataclass
class Rendered:
    text: str | None
    empty_fields: list[str]
    error: str | None = None
    error_code: str = "template_render"
    legacy_readings: list[str] = field(default_factory=list)  # values pecmass 0.1.0 read differently
    error_value: str | None = None  # the cell text an error is about, when there is one


_UNDEFINED_NAME = re.compile(r"'([^']*)' is undefined")
_MISSING_ATTRIBUTE = re.compile(r"has no attribute '([^']*)'")
_UNSAFE_ATTRIBUTE = re.compile(r"attribute '([^']*)'")


def _italian_undefined(message: str | None) -> str:
    """jinja's English wording of an undefined name or attribute, said in Italian."""
    text = message or ""
    if match := _UNDEFINED_NAME.search(text):
        return f"il campo «{match.group(1)}» non esiste"
    if match := _MISSING_ATTRIBUTE.search(text):
        return f"«{match.group(1)}» non esiste per questo valore"
    return "un campo usato non esiste"


def _italian_python_error(error: Exception) -> str:
    """Python's English wording of an operation on unsuitable values, said in Italian."""
    if isinstance(error, ZeroDivisionError):
        return "divisione per zero nel modello"
    if isinstance(error, TypeError):
        return "operazione tra valori di tipo diverso (per esempio testo e numero): usate i filtri numero o euro"
    if isinstance(error, ArithmeticError):
        return "calcolo non possibile con questi valori"
    return "un valore non è adatto all'operazione del modello"


_EXPECTED_TOKEN = re.compile(r"expected token '([^']*)', got '([^']*)'")
_UNEXPECTED_CHAR = re.compile(r"unexpected (?:char )?'([^']*)'")
_UNKNOWN_TAG = re.compile(r"[Ee]ncountered unknown tag '([^']*)'")
_NO_FILTER = re.compile(r"No (filter|test) named '([^']*)'")
_LOOKING_FOR = re.compile(r"looking for the following tags: ([^.]*)")
_TOKEN_NAMES = {"end of print statement": "}}", "end of statement block": "%}", "end of template": "fine del modello",
                "name": "un nome", "string": "un testo", "integer": "un numero"}


def italian_syntax_error(message: str | None) -> str:
    """jinja's English syntax error, said in Italian with the piece of syntax that is wrong."""
    text = message or ""
    if match := _EXPECTED_TOKEN.search(text):
        expected, got = (_TOKEN_NAMES.get(t, t) for t in match.groups())
        return f"atteso «{expected}», trovato «{got}»"
    if match := _NO_FILTER.search(text):
        kind = "il filtro" if match.group(1) == "filter" else "il test"
        return f"{kind} «{match.group(2)}» non esiste (filtri di pecmass: euro, numero, data)"
    if match := _LOOKING_FOR.search(text):
        tags = [t.strip(" '") for t in match.group(1).replace(" or ", ",").split(",") if t.strip(" '")]
        return "il modello finisce prima della chiusura: manca " + " o ".join("{% " + t + " %}" for t in tags)
    if "end of template" in text.lower():
        return "il modello finisce prima della chiusura di {{ … }} o {% … %}"
    if match := _UNKNOWN_TAG.search(text):
        return f"istruzione «{match.group(1)}» sconosciuta tra {{% … %}}"
    if match := _UNEXPECTED_CHAR.search(text):
        return f"«{match.group(1)}» inatteso"
    return "scrittura non valida: controllate le coppie {{ … }} e {% … %}"


def _italian_security(error: SecurityError) -> str:
    match = _UNSAFE_ATTRIBUTE.search(str(error))
    what = f" (accesso a «{match.group(1)}»)" if match else ""
    return f"operazione non consentita nel modello{what}"


def _stream(template, context, max_chars: int) -> str | None:
    """The output, piece by piece; None as soon as it passes `max_chars`."""
    pieces: list[str] = []
    total = 0
    for piece in template.root_render_func(context):
        total += len(piece)
        if total > max_chars:
            return None
        pieces.append(piece)
    return "".join(pieces)


def render(compiled: CompiledTemplate, values: dict[str, CellText], max_chars: int = DEFAULT_MAX_CHARS) -> Rendered:
    """The template with one row's values; every failure is an Italian `error`, never an exception."""
    if compiled.template is None:
        return Rendered(None, [], "modello non valido")
    uses: list[str] = []
    readings: list[str] = []
    template = compiled.template
    reset_budget()
    token = _READINGS.set(readings)
    try:
        # Template.render() without its copy of the variables (row_context builds a fresh dict).
        context = template.new_context(row_context(values, compiled.fields, uses), shared=True)
        text = _stream(template, context, max_chars)
    except SecurityError as exc:
        return Rendered(None, [], _italian_security(exc))
    except UndefinedError as exc:
        return Rendered(None, [], _italian_undefined(exc.message))
    except TemplateLimit as exc:
        return Rendered(None, [], str(exc))
    except AmbiguousNumber as exc:
        return Rendered(None, [], str(exc), "number_ambiguous", error_value=getattr(exc, "value", None))
    except FieldError as exc:
        return Rendered(None, [], str(exc))
    except (ValueError, TypeError, ArithmeticError) as exc:
        return Rendered(None, [], _italian_python_error(exc))
    except RecursionError:
        return Rendered(None, [], "il modello richiama se stesso troppe volte")
    except MemoryError:
        return Rendered(None, [], "il modello richiede troppa memoria")
    except TemplateError:
        return Rendered(None, [], "istruzione non disponibile nei modelli di pecmass (include, extends, import)")
    except Exception as exc:  # noqa: BLE001 - never a traceback for a template: logged, said in Italian
        log.warning("template not rendered: %s", type(exc).__name__)
        return Rendered(None, [], "errore imprevisto nel modello (il registro di pecmass ha i dettagli tecnici)")
    finally:
        _READINGS.reset(token)
    if text is None:
        return Rendered(None, [], f"il testo composto supera la dimensione massima ({max_chars / 1_000_000:g} MB)")
    return Rendered(text, sorted(set(uses)), legacy_readings=readings)
