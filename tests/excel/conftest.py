"""Fixtures for the macro workbook tests: a fresh build, the shared schemas, LibreOffice."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():  # oletools 0.60 uses pyparsing names deprecated since pyparsing 3
    warnings.simplefilter("ignore", DeprecationWarning)
    import oletools.olevba  # noqa: F401

from pecmass_xl.excel import build

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SCHEMA = SHARED / "reference" / "schemas" / "customUI.xsd"


def require_libreoffice() -> str:
    """The soffice path; skips visibly without it, fails instead under PECMASS_REQUIRE_LIBREOFFICE=1."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        reason = "LibreOffice (soffice) non installato: apt-get install libreoffice-calc-nogui"
        if os.environ.get("PECMASS_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail(reason + " (richiesto da PECMASS_REQUIRE_LIBREOFFICE=1)")
        pytest.skip(reason)
    return soffice


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} non installato: apt-get install {package}"
        if os.environ.get("PECMASS_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail(reason + " (richiesto da PECMASS_REQUIRE_LIBREOFFICE=1)")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def template_bytes() -> bytes:
    return build.build_template()


@pytest.fixture(scope="session")
def template_path(tmp_path_factory, template_bytes) -> Path:
    path = tmp_path_factory.mktemp("template") / "workbook_template.xlsm"
    path.write_bytes(template_bytes)
    return path


@pytest.fixture(scope="session")
def ribbon_schema():
    if not SCHEMA.is_file():
        pytest.skip(f"schema del ribbon non trovato in {SCHEMA} (serve la cartella shared/ accanto al repository)")
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA)))
