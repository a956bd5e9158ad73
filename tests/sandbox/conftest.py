"""Fixtures for the sandbox tests: a running sandbox in the test's own folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_helpers import FAST

from pecmass_xl.sandbox import Sandbox


@pytest.fixture
def sandbox_dir(tmp_path) -> Path:
    return tmp_path / "sandbox"


@pytest.fixture
def sb(sandbox_dir):
    """A sandbox whose time runs fast enough that every scheduled receipt is due almost at once."""
    with Sandbox.start(sandbox_dir, time_scale=FAST) as running:
        yield running
