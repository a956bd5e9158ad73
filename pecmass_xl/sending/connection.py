"""`pecmass check-connection`: log in to SMTP and IMAP and examine the receipts folders, sending nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun, LoginRefused
from pecmass_xl.core.italian import clause, duration, plural
from pecmass_xl.mailclient.smtp_session import ServerUnreachable, SmtpSession
from pecmass_xl.sending import CONNECT_BUDGET
from pecmass_xl.workbook import contract as c

CONNECT_PAUSE = 2.0  # seconds between two tries within the budget
CONNECT_TIMEOUT = 10.0  # seconds one try may wait for the server's greeting


class ProviderUnreachable(CannotRun):
    """The SMTP server could not be reached within the budget: the run gives up, nothing was handed over."""


def what_to_check(settings: Settings) -> str:
    """The Italian advice that follows a failed connection: which settings and which command."""
    return (f"Controllate in {c.SHEET_SETTINGS} «{c.SET_SMTP_HOST}» ({settings.smtp_host}), «{c.SET_SMTP_PORT}» "
            f"({settings.smtp_port}) e «{c.SET_SMTP_SECURITY}» ({settings.smtp_security}), la connessione a Internet e "
            "un eventuale firewall o proxy; «pecmass check-connection» prova l'accesso senza inviare.")


def connect_within(session: SmtpSession, budget: float = CONNECT_BUDGET,
                   should_stop: Callable[[], bool] | None = None) -> None:
    """Open `session`, retrying a network failure for at most `budget` seconds in total.

    Once per run, not per row: a provider that cannot be reached is said in about 20 s instead of
    each row retrying for a minute. A refused login stops at once (repeated failures lock accounts);
    a configuration error (certificate, STARTTLS, missing host) is not retried.
    """
    deadline = time.monotonic() + budget
    tries = 0
    while True:
        tries += 1
        session.timeout = max(1.0, min(CONNECT_TIMEOUT, deadline - time.monotonic()))
        try:
            session.connect()
            return
        except LoginRefused:
            raise
        except (ServerUnreachable, ConnectionError) as exc:
            failure = exc
        except CannotRun as exc:
            raise ProviderUnreachable(f"{clause(exc)}. {what_to_check(session.settings)}") from exc
        if time.monotonic() + CONNECT_PAUSE >= deadline or (should_stop and should_stop()):
            break
        time.sleep(CONNECT_PAUSE)
    reason = clause(failure) if isinstance(failure, CannotRun) else (
        f"Il server SMTP {session.settings.smtp_host} non accetta la connessione ({clause(failure)})")
    raise ProviderUnreachable(
        f"{reason}; {tries} {'tentativo' if tries == 1 else 'tentativi'} in {duration(budget)}. {what_to_check(session.settings)}"
    ) from failure


@dataclass
class ConnectionReport:
    smtp_ok: bool = False
    smtp_detail: str = ""
    imap_ok: bool = False
    imap_detail: str = ""
    folders: dict[str, str] = field(default_factory=dict)
    login_refused: bool = False

    def as_json(self) -> dict:
        return {"smtp": {"ok": self.smtp_ok, "detail": self.smtp_detail},
                "imap": {"ok": self.imap_ok, "detail": self.imap_detail, "folders": self.folders}}


def check_connection(settings: Settings, password: str) -> ConnectionReport:
    from pecmass_xl.mailclient.imap_session import ImapSession  # on first use: `pecmass send` starts lighter

    report = ConnectionReport()
    try:
        session = SmtpSession(settings, password, timeout=30)
        session.connect()
        session.close()
        report.smtp_ok = True
        report.smtp_detail = f"Accesso riuscito a {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})."
    except LoginRefused as exc:
        report.smtp_detail, report.login_refused = str(exc), True
        return report  # stop at once: repeated failures lock accounts
    except (CannotRun, ConnectionError) as exc:
        report.smtp_detail = str(exc)
    try:
        with ImapSession(settings, password, timeout=30).connect() as imap:
            report.imap_ok = True
            report.imap_detail = f"Accesso riuscito a {settings.imap_host}:{settings.imap_port} ({settings.imap_security})."
            for folder in settings.receipt_folders:
                try:
                    info = imap.examine(folder)
                    report.folders[folder] = plural(int(info.get(b'EXISTS', 0)), "messaggio")
                except CannotRun as exc:
                    report.imap_ok = False
                    report.folders[folder] = str(exc)
    except LoginRefused as exc:
        report.imap_detail, report.login_refused = str(exc), True
    except CannotRun as exc:
        report.imap_detail = str(exc)
    return report
