"""Which rows need the user's attention: one rule for the `receipts` list and the CSV report.

A row is an anomaly when its outcome is a failure, uncertain, late or without legal proof of
delivery (an ordinary, non-PEC recipient), or when any receipt of its latest attempt failed the
signature check: an unverified receipt still counts, so it must never pass silently (DESIGN §5.7).
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


def has_unverified_receipt(status: DerivedStatus) -> bool:
    return status.firma == FIRMA_NON_VERIFICATA or bool(status.unverified_receipts)


def anomaly_reason(stato: str, status: DerivedStatus | None) -> str:
    """Why the row is an anomaly, in Italian ('' when it is not one)."""
    reasons = [stato] if stato in ANOMALY_STATUSES else []
    if status is not None and has_unverified_receipt(status):
        reasons.append(UNVERIFIED)
    return "; ".join(reasons)


def is_failure(stato: str, status: DerivedStatus | None) -> bool:
    return stato in FAILURE_STATUSES or (status is not None and has_unverified_receipt(status))
