"""The sheet as a view of the journal: result columns and Riepilogo rebuilt from it in one write."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from pecmass_xl.campaign.checks import CheckReport
from pecmass_xl.core.rome_time import rome_wall_clock
from pecmass_xl.journal import Journal, UsageCounter, proofs
from pecmass_xl.journal.archive import EVIDENCE_PAGE
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.riepilogo import Summary
from pecmass_xl.workbook.write import ResultUpdate

FORMULA_LITERAL_LIMIT = 255  # Excel refuses a formula with a longer string literal

def receipts_link(folder: Path, workbook_folder: Path | None = None) -> str:
    """`Ricevute`: a link to the row's evidence page (its archive folder until the page exists).
    Relative to the workbook when both are on the same drive, so moving the workbook together with
    its archive keeps every link working, and the link stays short; absolute otherwise (Windows:
    another drive letter). A target longer than Excel's 255-character limit for a string literal in
    a formula is split into pieces joined with `&`."""
    page = folder / EVIDENCE_PAGE
    target = str(page if page.exists() else folder)
    if workbook_folder is not None:
        try:
            target = os.path.relpath(target, workbook_folder)
        except ValueError:
            pass  # another drive: keep the absolute path
    pieces = [target[i:i + FORMULA_LITERAL_LIMIT] for i in range(0, len(target), FORMULA_LITERAL_LIMIT)]
    quoted = "&".join('"' + piece.replace('"', '""') + '"' for piece in pieces or [""])
    return f'=HYPERLINK({quoted},"Apri ricevute")'


def journal_update(journal: Journal, report: CheckReport | None, archive: Path,
                   new_ids: dict[int, str] | None = None, workbook_folder: Path | None = None) -> ResultUpdate:
    """Result cells for every row the journal knows, plus check results for rows without an ID;
    `workbook_folder` makes the receipts links relative to it."""
    update = ResultUpdate(new_ids=dict(new_ids or {}))
    # A row given its ID invio whose message then could not be built has no attempt: it shows why.
    invalid = {}
    if report is not None:
        invalid = {(p.id_invio or p.number): p.error_text for p in report.rows if not p.ok}
    for row_id, view in journal.row_views().items():
        values = dict(view.result_columns())
        reason = invalid.get(row_id) or invalid.get(view.row_number) if view.attempt is None else None
        if reason:
            values.update({c.COL_STATUS: c.ST_INVALID, c.COL_DETAIL: reason, c.COL_OUTCOME: None})
        values.pop(c.COL_ID, None)
        for column in c.DATE_RESULT_COLUMNS:
            values[column] = rome_wall_clock(values.get(column))
        if view.attempt is not None:
            proof = proofs.verdict(journal, view.attempt.message_id)
            values[c.COL_DETAIL] = proofs.detail_with_proof(str(values.get(c.COL_DETAIL) or ""), proof)
        folder = archive / row_id
        base = workbook_folder or (report.sheet.folder if report else None)
        values[c.COL_RECEIPTS] = receipts_link(folder, base) if folder.exists() else None
        update.by_id[row_id] = values
    if report is not None:
        frozen = set(update.new_ids)
        for prepared in report.rows:
            if prepared.id_invio or prepared.number in frozen:
                continue
            if prepared.ok:
                update.by_row[prepared.number] = {c.COL_STATUS: c.ST_TO_SEND, c.COL_DETAIL: None, c.COL_OUTCOME: None}
            else:
                update.by_row[prepared.number] = {c.COL_STATUS: c.ST_INVALID, c.COL_DETAIL: prepared.error_text, c.COL_OUTCOME: None}
    return update


def journal_summary(journal: Journal, usage: UsageCounter, mailbox: str, report: CheckReport | None,
                    sheet_ids: set[str] | None = None) -> Summary:
    counts: Counter = Counter()
    views = journal.row_views()
    for row_id, view in views.items():
        if sheet_ids is None or row_id in sheet_ids:
            counts[view.status.stato] += 1
    if report is not None:
        for prepared in report.rows:
            if not prepared.id_invio or prepared.id_invio not in views:
                counts[c.ST_TO_SEND if prepared.ok else c.ST_INVALID] += 1
    monthly = [(u.month, u.mass_sends, u.messages) for u in usage.monthly(mailbox)] if mailbox else []
    tests = [(t.attempt.label, t.attempt.recipient, t.status.stato) for t in journal.test_attempts()]
    return Summary(counts=dict(counts), campaign_id=journal.campaign_id, usage=monthly, test_sends=tests,
                   last_sync=journal.last_sync())
