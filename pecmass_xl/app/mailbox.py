"""Use cases on the mailbox itself: try the connection without sending, store the password."""

from __future__ import annotations

from pecmass_xl.app.preconditions import valid_settings
from pecmass_xl.campaign.settings import Settings
from pecmass_xl.core.errors import CannotRun
from pecmass_xl.mailclient.credentials import get_password, store_password
from pecmass_xl.sending.connection import ConnectionReport
from pecmass_xl.sending.connection import check_connection as try_connection
from pecmass_xl.workbook.gateway import WorkbookGateway


def check_connection(book: WorkbookGateway) -> ConnectionReport:
    """Log in to SMTP and IMAP and look at the folders, sending nothing."""
    settings = valid_settings(book)
    return try_connection(settings, get_password(settings))


def password_settings(book: WorkbookGateway) -> Settings:
    """The mailbox a password is for (`is_sandbox`: none is needed)."""
    return valid_settings(book)


def save_password(settings: Settings, secret: str, allow_plaintext: bool = False) -> str:
    """Into the keyring, never into the workbook; returns where it went (Italian, for the message)."""
    if not secret:
        raise CannotRun("Password vuota: nulla salvato.")
    return store_password(settings, secret, allow_plaintext=allow_plaintext)
