"""Subject and text templates: jinja2, sandboxed, strict (DESIGN §3).

Cell values are data passed to the template, never templates themselves. Identifier headers are
variables (`{{ Nome }}`), any header is `{{ riga["Data di nascita"] }}`. An empty cell printed
without a guard (`{% if %}`, `or`) is an error for that row: an `EmptyValue` records each use.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from pecmass_xl.workbook.cell_values import CellText, format_date, format_decimal_it, parse_italian_number

ROW_VARIABLE = "riga"


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


def euro_filter(value: object) -> str:
    """`1234.5` → `1.234,56 €`; text like `1234,5` is parsed as an Italian number."""
    raw = _raw_of(value)
    if raw is None or raw == "":
        return ""
    if isinstance(raw, bool):
        raise ValueError("un valore Sì/No non è un importo")
    if isinstance(raw, (int, float)):
        number = raw
    else:
        number = parse_italian_number(str(raw))
        if number is None:
            raise ValueError(f"«{raw}» non è un importo")
    return f"{format_decimal_it(number, 2, thousands=True)} €"


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
    raise ValueError(f"«{text}» non è una data")


def number_filter(value: object, decimals: int = 2) -> str:
    raw = _raw_of(value)
    if raw is None or raw == "":
        return ""
    number = raw if isinstance(raw, (int, float)) else parse_italian_number(str(raw))
    if number is None:
        raise ValueError(f"«{raw}» non è un numero")
    return format_decimal_it(number, decimals, thousands=True)


def make_environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["euro"] = euro_filter
    env.filters["data"] = date_filter
    env.filters["numero"] = number_filter
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


def compile_template(label: str, source: str, headers: list[str]) -> CompiledTemplate:
    compiled = CompiledTemplate(label, source or "")
    try:
        ast = ENVIRONMENT.parse(compiled.source)
        compiled.template = ENVIRONMENT.from_string(compiled.source)
        compiled.template.globals = {}  # no globals (see make_environment): nothing to copy per render
    except TemplateSyntaxError as exc:
        compiled.issues.append(TemplateIssue("template_syntax", f"Errore di sintassi alla riga {exc.lineno} del modello: {exc.message}."))
        return compiled
    used, unknown = _referenced_fields(ast, set(headers))
    compiled.fields = used
    for name in sorted(unknown):
        near = nearest_header(name, headers)
        hint = f" Forse intendevate «{near}»?" if near else f" Campi disponibili: {', '.join(headers)}."
        compiled.issues.append(TemplateIssue("template_unknown_field", f"Il campo «{name}» non è un'intestazione di Destinatari.{hint}"))
    return compiled


def row_context(values: dict[str, CellText], fields: set[str], empty_uses: list[str]) -> dict:
    """Template variables for one row; empty cells become `EmptyValue`s that record their use."""
    row: dict[str, object] = dict(values)  # a copy: a template never changes the row it reads
    for name in fields:
        if row.get(name) == "":
            row[name] = EmptyValue(name, empty_uses)
    # Only the headers the template names: every other name is an unknown field, refused already.
    context = {name: row[name] for name in fields if name in row and name.isidentifier()}
    context[ROW_VARIABLE] = row
    return context


@dataclass
class Rendered:
    text: str | None
    empty_fields: list[str]
    error: str | None = None


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


def _italian_security(error: SecurityError) -> str:
    match = _UNSAFE_ATTRIBUTE.search(str(error))
    what = f" (accesso a «{match.group(1)}»)" if match else ""
    return f"operazione non consentita nel modello{what}"


def render(compiled: CompiledTemplate, values: dict[str, CellText]) -> Rendered:
    if compiled.template is None:
        return Rendered(None, [], "modello non valido")
    uses: list[str] = []
    template = compiled.template
    try:
        # Template.render() without its copy of the variables (row_context builds a fresh dict).
        context = template.new_context(row_context(values, compiled.fields, uses), shared=True)
        text = ENVIRONMENT.concat(template.root_render_func(context))
    except SecurityError as exc:
        return Rendered(None, [], _italian_security(exc))
    except UndefinedError as exc:
        return Rendered(None, [], _italian_undefined(exc.message))
    except (ValueError, TypeError, ArithmeticError) as exc:
        return Rendered(None, [], str(exc))
    return Rendered(text, sorted(set(uses)))
