"""The log file: technical events only, never addresses, passwords or message text (DESIGN §5.6)."""

from __future__ import annotations

import logging
import logging.handlers

from pecmass_xl.core.paths import log_file, private_file, private_opener


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The log, and every file it rotates into, readable by the user only (0600 on POSIX)."""

    def _open(self):
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors, opener=private_opener)

_configured = False


def configure_logging(verbose: bool = False) -> None:
    """Log to the per-user log file; to stderr only with `-v` (log lines are English, for support).

    What a user must know is said by the command itself, in Italian (issue 14.3).
    """
    global _configured
    if _configured:
        return
    _configured = True
    root = logging.getLogger("pecmass")
    root.setLevel(logging.DEBUG)
    try:
        handler = PrivateRotatingFileHandler(private_file(log_file()), maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
        root.addHandler(handler)
    except OSError:
        pass  # a read-only data folder must not stop the tool
    if verbose:
        console = logging.StreamHandler()
        console.setLevel(logging.DEBUG)
        console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(console)
