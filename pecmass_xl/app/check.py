"""Use case `check`: every row checked; with `write`, `Stato invio`/`Dettaglio` mark the problems."""

from __future__ import annotations

from collections import Counter

from pecmass_xl.campaign.checks import CheckReport, run_checks
from pecmass_xl.journal.ids import new_campaign_id
from pecmass_xl.workbook import contract as c
from pecmass_xl.workbook.gateway import ConfirmLossy, WorkbookGateway
from pecmass_xl.workbook.riepilogo import Summary
from pecmass_xl.workbook.write import ResultUpdate


def unsent_row_counts(report: CheckReport) -> Counter:
    """Rows without an `ID invio` (never queued): `Da inviare` or `Dati non validi`, as the checks say."""
    counts: Counter = Counter()
    for prepared in report.rows:
        if not prepared.id_invio:
            counts[c.ST_TO_SEND if prepared.ok and not report.blocking else c.ST_INVALID] += 1
    return counts


def counts_from_sheet(report: CheckReport) -> Counter:
    counts: Counter = Counter()
    for sheet_row, prepared in zip(report.sheet.rows, report.rows, strict=False):
        if prepared.id_invio:
            counts[str(sheet_row.results.get(c.COL_STATUS) or c.ST_TO_SEND)] += 1
        else:
            counts[c.ST_TO_SEND if prepared.ok else c.ST_INVALID] += 1
    return counts


def check_status_update(report: CheckReport) -> ResultUpdate:
    """`Dati non validi` + Dettaglio on rows with errors; cleared on rows fixed; rows with an ID untouched."""
    general = "Correggete prima gli errori generali (Impostazioni o Messaggio)."
    update = ResultUpdate()
    for prepared in report.rows:
        if prepared.id_invio:
            continue
        if prepared.ok and not report.blocking:
            update.by_row[prepared.number] = {c.COL_STATUS: c.ST_TO_SEND, c.COL_DETAIL: None, c.COL_OUTCOME: None}
        elif prepared.ok:
            update.by_row[prepared.number] = {c.COL_STATUS: c.ST_TO_SEND, c.COL_DETAIL: general, c.COL_OUTCOME: None}
        else:
            # a row with no error of its own is blocked by a general one (a template that does not compile)
            update.by_row[prepared.number] = {c.COL_STATUS: c.ST_INVALID, c.COL_DETAIL: prepared.error_text or general,
                                              c.COL_OUTCOME: None}
    return update


def check(book: WorkbookGateway, write: bool = False, confirm_lossy: ConfirmLossy | None = None) -> CheckReport:
    report = run_checks(book.read())
    if write:
        campaign = report.sheet.campaign_id or new_campaign_id()
        summary = Summary(counts=dict(counts_from_sheet(report)), campaign_id=campaign)
        book.write(check_status_update(report), summary, campaign_id=None if report.sheet.campaign_id else campaign,
                   confirm_lossy=confirm_lossy)
    return report
