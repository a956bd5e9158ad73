"""Fixtures for the macro workbook tests: a fresh build, the shared schemas, LibreOffice."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():  # oletools 0.60 uses pyparsing names deprecated since pyparsing 3
    warnings.simplefilter("ignore", DeprecationWarning)
    import oletools.olevba  # noqa: F401

from fixture_files import require_tool, shared_schema

from pecmass_xl.excel import build

REPO = Path(__file__).resolve().parents[2]


def require_libreoffice() -> str:
    """The soffice path; skips visibly without it, fails instead under .ci/run (PECMASS_CI=1)."""
    return require_tool("soffice", "libreoffice-calc-nogui", "libreoffice")


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
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(shared_schema("customUI.xsd"))))
