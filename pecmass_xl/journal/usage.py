"""Usage counters: messages and mass sends per month per sender mailbox (shown in `Riepilogo`).

Kept in the ledger file (`ledger.LEDGER_FILE_MIGRATIONS`), one counter per (mailbox, month,
campaign, kind). "Mass sends" in a month = campaigns that handed over at least one real (non-test)
message from that mailbox in that month. Months are Italian calendar months.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pecmass_xl.core.rome_time import rome_month
from pecmass_xl.journal._db import utc_now
from pecmass_xl.journal.ledger import LedgerFile, normalise_mailbox


@dataclass(frozen=True)
class MonthlyUsage:
    month: str
    mailbox: str
    messages: int        # real messages handed over
    test_messages: int   # test sends (`pecmass test`)
    mass_sends: int      # campaigns with at least one real message this month


class UsageCounter(LedgerFile):
    """Messages and mass sends per month per mailbox, kept in the ledger file."""

    def record_message(
        self, mailbox: str, campaign_id: str, *, test: bool = False, when: datetime | None = None, count: int = 1
    ) -> None:
        """Count `count` messages handed over (call it on the SMTP 250)."""
        if count < 1:
            raise ValueError("count must be positive")
        with self._db.transaction() as c:
            c.execute(
                "INSERT INTO usage (mailbox, month, campaign_id, kind, messages) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(mailbox, month, campaign_id, kind) DO UPDATE SET messages = messages + excluded.messages",
                (normalise_mailbox(mailbox), rome_month(when or utc_now()), campaign_id,
                 "test" if test else "normal", count),
            )

    def monthly(self, mailbox: str | None = None) -> list[MonthlyUsage]:
        """Every month with activity, oldest first (one mailbox, or all of them)."""
        sql = (
            "SELECT month, mailbox, "
            "SUM(CASE WHEN kind = 'normal' THEN messages ELSE 0 END) AS messages, "
            "SUM(CASE WHEN kind = 'test' THEN messages ELSE 0 END) AS test_messages, "
            "COUNT(DISTINCT CASE WHEN kind = 'normal' AND messages > 0 THEN campaign_id END) AS mass_sends "
            "FROM usage"
        )
        params: tuple[object, ...] = ()
        if mailbox is not None:
            sql += " WHERE mailbox = ?"
            params = (normalise_mailbox(mailbox),)
        sql += " GROUP BY month, mailbox ORDER BY month, mailbox"
        return [
            MonthlyUsage(r["month"], r["mailbox"], r["messages"], r["test_messages"], r["mass_sends"])
            for r in self._db.read(sql, params)
        ]

    def for_month(self, mailbox: str, month: str | None = None) -> MonthlyUsage:
        """One mailbox's usage in `month` (`AAAA-MM`, default: this month); zeros if none."""
        month = month or rome_month(utc_now())
        for entry in self.monthly(mailbox):
            if entry.month == month:
                return entry
        return MonthlyUsage(month, normalise_mailbox(mailbox), 0, 0, 0)
