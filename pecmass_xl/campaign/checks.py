"""Every check on every row, never stopping at the first (issue 2). Pure: SheetData in, report out.

The report also holds each valid row's frozen `MessageDraft`: what is sent is exactly what was
checked (DESIGN §5.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pecmass_xl.campaign.addresses import address_problem, normalise
from pecmass_xl.campaign.attachments import Attachment, inspect, split_paths
from pecmass_xl.campaign.header_values import header_value_problem, strip_invisible
from pecmass_xl.campaign.mime import MessageDraft
from pecmass_xl.campaign.problems import ERROR, Problem, problem
from pecmass_xl.campaign.settings import Settings, resolve_settings
from pecmass_xl.campaign.templates import (
    CompiledTemplate,
    compile_template,
    field_syntax,
    legacy_number_reading,
    render,
)
from pecmass_xl.core.gc_pause import collector_paused
from pecmass_xl.core.italian import format_count, format_number
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.sheetdata import ListRow, SheetData

RECEIPTS_VOLUME_WARNING_BYTES = 300_000_000
_CONTROL_RE = re.compile("[\x00-\x1f\x7f]")


@dataclass
class PreparedRow:
    number: int
    id_invio: str
    draft: MessageDraft | None
    problems: list[Problem] = field(default_factory=list)
    # The draft as pecmass 0.1.0 composed it, when it read a number in text differently (`1.500`):
    # only to recognise a PEC sent before the upgrade by its content hash.
    legacy_draft: MessageDraft | None = None

    @property
    def ok(self) -> bool:
        return self.draft is not None and not any(p.severity == ERROR for p in self.problems)

    @property
    def error_text(self) -> str:
        return " | ".join(p.message for p in self.problems if p.severity == ERROR)


@dataclass
class CheckReport:
    sheet: SheetData
    settings: Settings
    general: list[Problem]
    rows: list[PreparedRow]

    @property
    def problems(self) -> list[Problem]:
        found = list(self.general)
        for row in self.rows:
            found.extend(row.problems)
        return found

    @property
    def has_errors(self) -> bool:
        return any(p.severity == ERROR for p in self.problems)

    @property
    def blocking(self) -> list[Problem]:
        """Errors that stop every row (settings, templates, sheets)."""
        return [p for p in self.general if p.severity == ERROR]

    def row(self, number: int) -> PreparedRow | None:
        return next((r for r in self.rows if r.number == number), None)

    def as_json(self) -> dict:
        return {"rows": len(self.rows), "problems": [p.as_dict() for p in self.problems]}


def _normal(name: str) -> str:
    return " ".join(name.split()).casefold()


def check_headers(sheet: SheetData) -> list[Problem]:
    found: list[Problem] = []
    seen: dict[str, str] = {}
    reserved = {_normal(name): name for name in c.RESULT_COLUMNS}
    for header in sheet.headers:
        if not header.name:
            continue
        raw = header.raw if isinstance(header.raw, str) else str(header.raw)
        if _CONTROL_RE.search(raw.strip()):
            found.append(problem("header_line_break", f"L'intestazione della colonna {header.column} contiene a capo o caratteri di controllo: scrivetela su una riga.", column=header.name.replace("\n", " ")))
        elif raw != raw.strip():
            found.append(problem("header_spaces", f"L'intestazione «{raw}» ha spazi iniziali o finali: pecmass usa «{header.name}».", column=header.name))
        key = _normal(header.name)
        if header.name in c.RESULT_COLUMNS:
            if key in seen:
                found.append(problem("header_reserved", f"La colonna dei risultati «{header.name}» compare due volte: eliminatene una.", column=header.name))
        elif key in reserved:
            found.append(problem("header_reserved", f"«{header.name}» è riservata ai risultati di pecmass (scritta «{reserved[key]}»): rinominate la colonna.", column=header.name))
        elif key in seen:
            found.append(problem("header_duplicate", f"L'intestazione «{header.name}» compare due volte (anche «{seen[key]}»): i nomi devono essere diversi.", column=header.name))
        seen.setdefault(key, header.name)
    for ref in sheet.merged_header_ranges:
        found.append(problem("header_merged", f"Le celle {ref} della riga delle intestazioni sono unite: separatele, una intestazione per colonna."))
    return found


def _invisible_warning(removed: list[str], what: str, row: int | None, column: str) -> Problem:
    return problem("header_value_invisible", f"{what} conteneva caratteri invisibili ({', '.join(removed)}), tolti nel messaggio: correggete la cella se non li volevate.", row=row, column=column)


def _resolve_attachments(references: list[str], sheet: SheetData, row: int | None, column: str,
                         allowed: list | tuple = ()) -> tuple[list[Attachment], list[Problem]]:
    attachments: list[Attachment] = []
    found: list[Problem] = []
    for reference in references:
        attachment, code, message = inspect(reference, sheet.folder, allowed)
        if attachment is None:
            found.append(problem(code, message, row=row, column=column))
            continue
        _, removed = strip_invisible(reference.replace("\\", "/").rpartition("/")[2])
        if removed:
            found.append(_invisible_warning(removed, f"Il nome dell'allegato «{attachment.name}»", row, column))
        if attachment.size == 0:
            found.append(problem("attachment_empty", f"L'allegato «{reference}» è vuoto (0 byte).", row=row, column=column))
        attachments.append(attachment)
    return attachments, found


def _formula_columns(sheet: SheetData) -> dict[int, set[int]]:
    by_row: dict[int, set[int]] = {}
    for row, column in sheet.formulas_without_value:
        by_row.setdefault(row, set()).add(column)
    return by_row


class _Checker:
    def __init__(self, sheet: SheetData):
        self.sheet = sheet
        self.settings, self.general = resolve_settings(sheet.settings, sheet.message, sheet.folder)
        self.headers = [h.name for h in sheet.parameter_headers]
        self.column_of = {h.name: h.column for h in sheet.headers if h.name}
        self.formulas = _formula_columns(sheet)
        self.seen_addresses: dict[str, int] = {}
        self.legacy_rows: set[int] = set()

    def compile(self, label: str, required: bool) -> CompiledTemplate:
        source = self.sheet.message.get(label)
        text = "" if source is None else str(source)
        if required and not text.strip():
            self.general.append(problem("setting_missing", f"Scrivete il modello di «{label}» nel foglio Messaggio.", column=label))
        compiled = compile_template(label, text, self.headers)
        for issue in compiled.issues:
            self.general.append(problem(issue.code, issue.message, column=label))
        return compiled

    def run(self) -> CheckReport:
        sheet = self.sheet
        self.general += [problem("sheet_missing", f"Manca il foglio «{name}»: usate una cartella di lavoro creata con «pecmass new».") for name in sheet.missing_sheets]
        self.general += [problem("label_duplicate", f"L'etichetta «{label}» compare due volte nel foglio {where}: vale la prima.", column=label) for where, label in sheet.duplicate_labels]
        if c.SHEET_LIST in sheet.missing_sheets:
            return CheckReport(sheet, self.settings, self.general, [])
        self.general += check_headers(sheet)
        address_column = self.settings.address_column
        if address_column not in self.column_of:
            self.general.append(problem("address_column_missing", f"Non trovo la colonna «{address_column}» in Destinatari: aggiungetela o correggete «{c.SET_ADDRESS_COLUMN}».", column=c.SET_ADDRESS_COLUMN))
        self.subject = self.compile(c.MSG_SUBJECT, required=True)
        self.text = self.compile(c.MSG_TEXT, required=True)
        self.personal = self.compile(c.MSG_PERSONAL_ATTACHMENT, required=False)
        self.used_columns = set(self.subject.fields) | set(self.text.fields) | set(self.personal.fields)
        self.used_columns |= {self.settings.address_column, c.ATTACHMENTS_HEADER}
        common_refs = split_paths(str(sheet.message.get(c.MSG_COMMON_ATTACHMENTS) or ""))
        self.common, common_problems = _resolve_attachments(common_refs, sheet, None, c.MSG_COMMON_ATTACHMENTS,
                                                            self.settings.attachment_folders)
        self.general += common_problems
        rows = [self.check_row(row) for row in sheet.rows]
        if not rows:
            self.general.append(problem("list_empty", "Il foglio Destinatari non ha righe: aggiungete almeno un destinatario sotto le intestazioni."))
        self.receipts_volume(rows)
        return CheckReport(sheet, self.settings, self.general, rows)

    def receipts_volume(self, rows: list[PreparedRow]) -> None:
        if self.settings.receipt_type != "completa":
            return
        total = sum(a.size for r in rows if r.draft for a in r.draft.attachments)
        if total > RECEIPTS_VOLUME_WARNING_BYTES:
            self.general.append(problem(
                "receipts_volume",
                f"Con ricevute «completa» circa {format_count(total // 1_000_000)} MB di allegati torneranno nella casella del mittente con le ricevute di consegna: valutate «breve» o «sintetica», o liberate spazio.",
                column=c.MSG_RECEIPT_TYPE,
            ))

    def check_row(self, row: ListRow) -> PreparedRow:
        n = row.number
        found: list[Problem] = []
        for column in sorted(self.formulas.get(n, ())):
            name = next((h for h, col in self.column_of.items() if col == column), None)
            if name in self.used_columns:
                found.append(problem("formula_no_value", "La formula non ha un valore calcolato (file salvato senza ricalcolo): apritelo in Excel, premete F9 e salvate.", row=n, column=name))
        for column in row.stray:
            found.append(problem("header_missing", f"La cella della colonna {column} ha un valore ma la colonna non ha intestazione: viene ignorata.", row=n))

        address, removed = strip_invisible(str(row.values.get(self.settings.address_column, "")).strip())
        if removed:
            found.append(_invisible_warning(removed, "L'indirizzo", n, self.settings.address_column))
        bad = address_problem(address, self.settings.is_sandbox)
        if bad:
            found.append(problem(bad[0], bad[1], row=n, column=self.settings.address_column))
        elif address:
            key = normalise(address)
            if key in self.seen_addresses:
                found.append(problem("address_duplicate", f"«{address}» compare anche alla riga {self.seen_addresses[key]}: riceverà due PEC.", row=n, column=self.settings.address_column))
            else:
                self.seen_addresses[key] = n

        subject = self.render_field(self.subject, row, found)
        text = self.render_field(self.text, row, found)
        if subject is not None:
            subject, removed = strip_invisible(subject)
            if removed:
                found.append(_invisible_warning(removed, "L'oggetto composto", n, c.MSG_SUBJECT))
            stripped = subject.strip(" \r\n")
            unsafe = header_value_problem(stripped)
            if "\n" in stripped or "\r" in stripped:
                found.append(problem("subject_multiline", "L'oggetto composto va su più righe: togliete gli a capo dal modello o dai valori usati.", row=n, column=c.MSG_SUBJECT))
            elif unsafe:
                found.append(problem(unsafe[0], f"L'oggetto composto {unsafe[1]}{self.source_of(row, self.subject)}.", row=n, column=c.MSG_SUBJECT))
            elif not stripped.strip():
                found.append(problem("subject_empty", "L'oggetto composto è vuoto.", row=n, column=c.MSG_SUBJECT))
            subject = stripped.strip()
        if text is not None and not text.strip():
            found.append(problem("text_empty", "Il testo composto è vuoto.", row=n, column=c.MSG_TEXT))

        attachments = list(self.common)
        references = split_paths(str(row.values.get(c.ATTACHMENTS_HEADER, "")))
        if references:
            personal, problems_found = _resolve_attachments(references, self.sheet, n, c.ATTACHMENTS_HEADER,
                                                            self.settings.attachment_folders)
            attachments += personal
            found += problems_found
        if self.personal.template is not None and self.personal.source.strip():
            rendered = self.render_field(self.personal, row, found)
            if rendered and rendered.strip():
                personal, problems_found = _resolve_attachments(split_paths(rendered), self.sheet, n, c.MSG_PERSONAL_ATTACHMENT,
                                                                self.settings.attachment_folders)
                attachments += personal
                found += problems_found

        draft = None
        if subject is not None and text is not None and not bad:
            draft = MessageDraft(address, subject, text, attachments)
            size = draft.estimated_size()
            if size > self.settings.max_size_bytes:
                found.append(problem("message_too_large", f"Il messaggio codificato è di circa {format_number(size / 1_000_000)} MB, oltre il limite di {format_number(self.settings.max_size_mb, 3)} MB: riducete o comprimete gli allegati.", row=n, column=c.ATTACHMENTS_HEADER))
        if row.id_invio and any(p.severity == ERROR for p in found):
            found.append(problem("row_already_sent", f"La riga ha già l'ID invio {row.id_invio}: il suo stato resta quello registrato.", row=n, column=c.COL_ID))
        legacy = self.legacy_draft(row, draft) if draft is not None and n in self.legacy_rows else None
        return PreparedRow(n, row.id_invio, draft, found, legacy)

    def legacy_draft(self, row: ListRow, draft: MessageDraft) -> MessageDraft | None:
        """The message as pecmass 0.1.0 composed it (numbers in text read its way), or None if it failed."""
        with legacy_number_reading():
            subject = render(self.subject, row.values)
            text = render(self.text, row.values)
        if subject.text is None or text.text is None:
            return None
        return MessageDraft(draft.to, subject.text.strip(), text.text, draft.attachments)

    def source_of(self, row: ListRow, compiled: CompiledTemplate) -> str:
        """` (dal valore della colonna «Nome»)`: the first cell that brought an unsafe character, if any."""
        columns = [name for name in sorted(compiled.fields) if header_value_problem(str(row.values.get(name, "")))]
        return f" (dal valore della colonna «{columns[0]}»)" if columns else ""

    def render_field(self, compiled: CompiledTemplate, row: ListRow, found: list[Problem]) -> str | None:
        if compiled.template is None or compiled.issues:
            return None  # the template's own error, said once, blocks every row: no echo per row
        result = render(compiled, row.values, self.settings.max_size_bytes)
        if result.error_code == "number_ambiguous":
            column = next((h for h, v in row.values.items() if str(v) == result.error_value), compiled.label)
            found.append(problem("number_ambiguous", f"Il modello «{compiled.label}» usa questo valore come numero: {result.error}.", row=row.number, column=column))
            return None
        if result.error:
            found.append(problem("template_render", f"Il modello non si compone per questa riga: {result.error}.", row=row.number, column=compiled.label))
            return None
        if result.legacy_readings:
            self.legacy_rows.add(row.number)
        for name in result.empty_fields:
            guard = field_syntax(name)[3:-3]
            found.append(problem("template_empty_value", f"La cella è vuota ma il modello «{compiled.label}» la usa: compilatela o usate {{% if {guard} %}}…{{% endif %}}.", row=row.number, column=name))
        if result.empty_fields:
            return None
        return result.text


def run_checks(sheet: SheetData) -> CheckReport:
    with collector_paused():
        return _Checker(sheet).run()
