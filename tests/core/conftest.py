"""Fixtures for the campaign core: real workbook files (see books.py) and the real CLI in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from pecmass_xl.cli.main import main

from .books import Run, build_book


@pytest.fixture
def make_book(tmp_path):
    """Factory: `make_book(name="x.xlsx", headers=..., rows=..., message=..., settings=..., edit=...)`."""
    def make(name: str = "campagna.xlsx", **kwargs) -> Path:
        return build_book(tmp_path / name, **kwargs)
    return make


@pytest.fixture
def cli(capsys):
    """Run `pecmass ARGS…` in-process; returns Run(rc, out, err)."""
    def run(*args) -> Run:
        capsys.readouterr()
        rc = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Run(rc, captured.out, captured.err)
    return run


@pytest.fixture
def check(cli):
    """`pecmass check PATH --json`: returns (exit code, problems as (code, row, column) tuples, document)."""
    def run(path: Path, *extra):
        result = cli("check", path, "--json", *extra)
        assert result.rc in (0, 1), result.err
        doc = result.json
        return result.rc, [(p["code"], p["row"], p["column"]) for p in doc["problems"]], doc
    return run


