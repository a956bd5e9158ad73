"""Where pecmass keeps its per-user files (journals, ledger, log, default sandbox).

Always local to the user, never next to the workbook: journals must not live on a network share.
`PECMASS_DATA_DIR` overrides the location (tests use it).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    """The per-user data folder, created on first use."""
    override = os.environ.get("PECMASS_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir("pecmass", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_sandbox_dir() -> Path:
    """The sandbox folder: `PECMASS_SANDBOX_DIR`, else `<data dir>/sandbox`."""
    override = os.environ.get("PECMASS_SANDBOX_DIR")
    return Path(override) if override else data_dir() / "sandbox"


def journals_dir() -> Path:
    path = data_dir() / "journals"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_file() -> Path:
    return data_dir() / "pecmass.log"
