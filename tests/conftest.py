"""Shared by every test: pecmass's per-user folders point into the test's own temporary folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_pecmass_dirs(tmp_path_factory, monkeypatch):
    """Journals, ledger, log and the default sandbox never touch the real user's data folder."""
    base = tmp_path_factory.mktemp("pecmass-data")
    monkeypatch.setenv("PECMASS_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("PECMASS_SANDBOX_DIR", str(base / "sandbox"))
    monkeypatch.delenv("PECMASS_CA_FILE", raising=False)
    monkeypatch.delenv("PECMASS_PASSWORD", raising=False)
    return base
