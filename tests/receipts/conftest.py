"""Shared fixtures for the receipts tests: the real PEC samples and a throw-away PKI.

Samples whose licence allows it are in `tests/fixtures/`; the unlicensed real ones are read from
`../shared/reference/fixtures`, and only the tests that need those skip, with the reason, without it
(tests/fixture_files.py decides).
"""

from __future__ import annotations

import pytest
from receipts_builders import Identity, TestPki, read_fixture


@pytest.fixture(scope="session")
def fixture_bytes():
    """Reads a sample by name: the local copy, else the shared one (skips without ../shared)."""
    return read_fixture


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return TestPki()


@pytest.fixture(scope="session")
def provider(pki) -> Identity:
    """The sandbox-like provider's signing identity: SAN posta-certificata@pec.test, e-mail protection."""
    return pki.leaf()
