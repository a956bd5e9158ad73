"""`pecmass check-connection`: log in to SMTP and IMAP and examine the receipts folders, sending nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun, LoginRefused
from pecmass_xl.mailclient.smtp_session import SmtpSession


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
                    report.folders[folder] = f"{int(info.get(b'EXISTS', 0))} messaggi"
                except CannotRun as exc:
                    report.imap_ok = False
                    report.folders[folder] = str(exc)
    except LoginRefused as exc:
        report.imap_detail, report.login_refused = str(exc), True
    except CannotRun as exc:
        report.imap_detail = str(exc)
    return report
