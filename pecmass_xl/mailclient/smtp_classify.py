"""What an SMTP answer means for a row: one table (issue 4).

250 → sent. 4xx, or a network error before the end of DATA → temporary (retry with backoff).
A 5xx matching a rate-limit pattern (Legalmail's `550 … Too much traffic`) → pause and retry the
same attempt: nothing was accepted. Other 5xx → refused. 535 at login → stop at once.
Connection lost after the end of DATA → in doubt: it may have left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SENT = "sent"
TEMPORARY = "temporary"
RATE_LIMITED = "rate-limited"
REFUSED = "refused"
LOGIN_REFUSED = "login-refused"
IN_DOUBT = "in-doubt"

DEFAULT_RATE_LIMIT_PATTERNS = (
    r"too much traffic",
    r"rate limit",
    r"too many (messages|mails|connections|recipients)",
    r"limite di invio",
    r"troppi messaggi",
)


@dataclass(frozen=True)
class SmtpAnswer:
    kind: str
    code: int | None
    text: str  # the server's words, verbatim (no password, no address added by us)

    @property
    def detail(self) -> str:
        return f"{self.code} {self.text}".strip() if self.code else self.text


def classify(code: int | None, text: str, *, after_data: bool = False, network_error: bool = False,
             rate_limit_patterns: tuple[str, ...] = DEFAULT_RATE_LIMIT_PATTERNS) -> SmtpAnswer:
    if network_error:
        return SmtpAnswer(IN_DOUBT if after_data else TEMPORARY, code, text)
    if code is None:
        return SmtpAnswer(TEMPORARY, None, text)
    if 200 <= code < 300:
        return SmtpAnswer(SENT, code, text)
    if any(re.search(p, text, re.IGNORECASE) for p in rate_limit_patterns):
        return SmtpAnswer(RATE_LIMITED, code, text)
    if 400 <= code < 500:
        return SmtpAnswer(TEMPORARY, code, text)
    return SmtpAnswer(REFUSED, code, text)
