"""Which rows need the user's attention: one rule for the `receipts` list and the CSV report.

A row is an anomaly when its outcome is a failure, uncertain, late or without legal proof of
delivery (an ordinary, non-PEC recipient), or when any receipt of its latest attempt failed the
signature check: an unverified receipt may count, so it must never pass silently (DESIGN §5.7).
Where a verified receipt overruled it, or a bounce arrived on a certified row, that is said too
(issue 12), as is a receipt of the row waiting in quarantine.
"""

from __future__ import annotations

from pecmass_xl.core.vocabulary import FIRMA_NON_VERIFICATA
from pecmass_xl.journal.status import DerivedStatus
from pecmass_xl.workbook import contract as c

ANOMALY_STATUSES = frozenset({
    c.ST_NOT_DELIVERED, c.ST_NOT_ACCEPTED, c.ST_REFUSED, c.ST_UNCERTAIN, c.ST_INVALID, c.ST_DELAYED,
    c.ST_ACCEPTED_EXTERNAL,
})
# Anomalies that make `pecmass receipts` end with exit code 1 (done, with failed rows): all but
# the non-PEC recipient, which is an outcome, not a failure.
FAILURE_STATUSES = ANOMALY_STATUSES - {c.ST_ACCEPTED_EXTERNAL, c.ST_INVALID}
UNVERIFIED = "Firma non verificata"
OVERRULED = "ricevuta non verificata: ignorata"
BOUNCE_IGNORED = "busta di anomalia ignorata: il destinatario è PEC"
UNREADABLE = "ricevuta illeggibile in quarantena"


def has_unverified_receipt(status: DerivedStatus) -> bool:
    return status.firma == FIRMA_NON_VERIFICATA or bool(status.unverified_receipts)


def anomaly_reason(stato: str, status: DerivedStatus | None, quarantined: int = 0) -> str:
    """Why the row is an anomaly, in Italian ('' when it is not one). `quarantined`: how many
    unreadable messages quoting this row wait in quarantine."""
    reasons = [stato] if stato in ANOMALY_STATUSES else []
    if status is not None:
        if status.overruled:
            reasons.append(OVERRULED)
        elif has_unverified_receipt(status):
            reasons.append(UNVERIFIED)
        if status.ignored_bounces:
            reasons.append(BOUNCE_IGNORED)
    if quarantined:
        reasons.append(UNREADABLE)
    return "; ".join(reasons)


def is_failure(stato: str, status: DerivedStatus | None) -> bool:
    return stato in FAILURE_STATUSES or (status is not None and (
        has_unverified_receipt(status) or bool(status.ignored_bounces)))
