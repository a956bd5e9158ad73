"""Exceptions that carry an Italian, user-facing message and the exit code of DESIGN §7."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED_ROWS = 1
EXIT_CANNOT_RUN = 2
EXIT_LOGIN_REFUSED = 3


class PecmassError(Exception):
    """An error the user can act on; `str()` is the Italian message shown to them."""

    exit_code = EXIT_CANNOT_RUN


class CannotRun(PecmassError):
    """Bad arguments, missing file, workbook open in Excel, no terminal to confirm on."""

    exit_code = EXIT_CANNOT_RUN


class LoginRefused(PecmassError):
    """The provider refused the credentials: stop at once (repeated failures lock accounts)."""

    exit_code = EXIT_LOGIN_REFUSED


class MessageNotBuilt(PecmassError):
    """A row's message cannot be built (a value no header may hold, an attachment changed since
    the check): that row is not sent, the others are. `code` is the catalogue code to show."""

    exit_code = EXIT_FAILED_ROWS
    code = "header_value_control"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code
