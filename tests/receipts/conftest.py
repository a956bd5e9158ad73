"""Shared fixtures for the receipts tests: the real PEC samples and a throw-away PKI.

Real samples live outside the repository (`../shared/reference/fixtures`, licences unclear for some);
tests that need them skip with a reason when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from receipts_builders import Identity, TestPki

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"real PEC samples not found in {FIXTURES} (shared reference folder absent)")
    return FIXTURES.resolve()


@pytest.fixture(scope="session")
def fixture_bytes(fixtures_dir):
    def read(name: str) -> bytes:
        return (fixtures_dir / name).read_bytes()

    return read


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return TestPki()


@pytest.fixture(scope="session")
def provider(pki) -> Identity:
    """The sandbox-like provider's signing identity: SAN posta-certificata@pec.test, e-mail protection."""
    return pki.leaf()
