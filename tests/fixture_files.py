"""Where the tests find their sample files and outside tools, and what happens when one is missing.

Samples whose licence allows it live in `tests/fixtures/` (see its README: java-pec-parser,
Apache-2.0; go-pec, MIT; public CA certificates), so a fresh clone runs those tests. The real Aruba,
Namirial and Postecom samples and Microsoft's ribbon schemas have no licence that lets us copy them:
they are read from `../shared/reference/` beside the repository, and the few tests that need them skip
with the reason when it is absent.

Outside tools (LibreOffice, Dovecot, Xvfb, Tk, xmllint, chromium) are installed by `.ci/run`, which
sets PECMASS_CI=1: there a missing tool fails the test instead of skipping it, so CI cannot pass by
running less than it claims.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCAL = REPO / "tests" / "fixtures"
SHARED_REFERENCE = REPO.parent / "shared" / "reference"
SHARED_FIXTURES = SHARED_REFERENCE / "fixtures"
SHARED_SCHEMAS = SHARED_REFERENCE / "schemas"

UNLICENSED = "campione reale senza licenza che ne permetta la copia: è solo in ../shared/reference"


def in_ci() -> bool:
    """True under .ci/run (PECMASS_CI=1; PECMASS_REQUIRE_LIBREOFFICE=1 is the older name)."""
    return os.environ.get("PECMASS_CI") == "1" or os.environ.get("PECMASS_REQUIRE_LIBREOFFICE") == "1"


def local_fixture(name: str) -> Path:
    """A sample shipped with the tests (never skips: a missing one is a broken checkout)."""
    path = LOCAL / name
    assert path.is_file(), f"{path} manca: tests/fixtures fa parte del repository"
    return path


def shared_fixture(name: str) -> Path:
    """An unlicensed real sample from ../shared: skips, with the reason, when that folder is absent."""
    path = SHARED_FIXTURES / name
    if not path.is_file():
        pytest.skip(f"{name}: {UNLICENSED} (cartella assente: {SHARED_FIXTURES})")
    return path


def fixture_path(name: str) -> Path:
    """A sample by name: the local copy when there is one, else the shared one (which may skip)."""
    return LOCAL / name if (LOCAL / name).is_file() else shared_fixture(name)


def daticert_dtd() -> Path:
    """The daticert DTD of the AgID rules: the shared copy if present, else our transcription of it."""
    shared = SHARED_FIXTURES / "pagopa_daticert-xml-schema.dtd"
    return shared if shared.is_file() else local_fixture("daticert.dtd")


def shared_schema(name: str) -> Path:
    """One of Microsoft's ribbon schemas (not redistributable): skips without ../shared."""
    path = SHARED_SCHEMAS / name
    if not path.is_file():
        pytest.skip(f"schema del ribbon {name} non trovato in {SHARED_SCHEMAS} (schemi Microsoft, solo in ../shared)")
    return path


def require_tool(name: str, package: str, *alternatives: str) -> str:
    """The tool's path; skips visibly without it, fails instead under .ci/run, which installs it."""
    for candidate in (name, *alternatives):
        path = shutil.which(candidate)
        if path:
            return path
    reason = f"{name} non installato: apt-get install {package}"
    if in_ci():
        pytest.fail(f"{reason} (.ci/run lo installa: qui deve esserci)")
    pytest.skip(reason)


def require_module(name: str, package: str):
    """A Python module that comes from a Debian package (e.g. tkinter, uno); same rule as require_tool."""
    try:
        return __import__(name)
    except ImportError:
        reason = f"modulo Python {name} non disponibile: apt-get install {package}"
        if in_ci():
            pytest.fail(f"{reason} (.ci/run lo installa: qui deve esserci)")
        pytest.skip(reason)
