"""The architecture, checked on the source (docs/architecture.md, DESIGN "one use-case layer").

Every import of every module of `pecmass_xl` and `udfs` is read with `ast` (at the top, inside
functions, under `TYPE_CHECKING`, and modules named as strings, e.g. `python -m …`), each module is
mapped to its package, and:

- no two packages import each other, directly or through others (no cycle);
- a package imports only packages of lower layers:
  core < journal < workbook < campaign < {mailclient, receipts} < tracking < sending < app < {cli, excel}
  (packages on the same layer do not import each other); the sandbox (a separate product) imports
  only `core` and is used only by `app` and the fronts; `udfs` uses only `app` and lower layers;
- the user's vocabulary (row states, Esito and Firma values, result headers) is spelt out only in
  `core/vocabulary.py`, and Rome time is computed only in `core/rome_time.py`.

The checks are plain functions run first on small packages made on purpose with each violation, so a
check that cannot fail would show.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pecmass_xl.core import vocabulary

ROOT = Path(__file__).resolve().parents[1]

ROOT_PACKAGE = "(pecmass_xl)"  # pecmass_xl/__init__.py: the version only
MAIN = "(__main__)"  # pecmass_xl/__main__.py: `python -m pecmass_xl` is the CLI
LAYERS = {
    ROOT_PACKAGE: -1,
    "core": 0,
    "journal": 1,
    "workbook": 2,
    "campaign": 3,
    "mailclient": 4,
    "receipts": 4,
    "tracking": 5,
    "sending": 6,
    "app": 7,
    "cli": 8,
    "excel": 8,
    MAIN: 9,
}
SANDBOX = "sandbox"
SANDBOX_MAY_IMPORT = {ROOT_PACKAGE, "core"}
SANDBOX_USED_BY = {"app", "cli", "excel"}  # the demo and `pecmass sandbox`
UDFS = "udfs"
UDFS_LAYER = LAYERS["app"]  # worksheet functions: a front that uses app and lower layers only

# Edges known to break the rule on `main`, each being removed by an open issue. An entry that no
# longer occurs fails the test: delete it then. (importer module, imported module) -> reason.
ALLOWED: dict[tuple[str, str], str] = {}  # (importer, imported) -> the issue that will remove the edge

VOCABULARY_MODULE = "pecmass_xl.core.vocabulary"
ROME_TIME_MODULE = "pecmass_xl.core.rome_time"
VOCABULARY = frozenset(vocabulary.ALL_STATES + vocabulary.ESITI + vocabulary.FIRME + vocabulary.RESULT_COLUMNS)
ROME_ZONE = "Europe/Rome"


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name (the longest existing module the import names)
    line: int


@dataclass(frozen=True)
class Source:
    name: str
    path: Path
    tree: ast.Module


def read_sources(root: Path, packages: tuple[str, ...]) -> dict[str, Source]:
    """Every module of the given top-level packages under `root`, parsed."""
    sources: dict[str, Source] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join(parts)
            sources[name] = Source(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return sources


def _resolve(name: str, modules: set[str]) -> str | None:
    """The longest prefix of `name` that is a module we know, or None for third-party names."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _is_package(source: Source) -> bool:
    return source.path.name == "__init__.py"


def imports_of(source: Source, modules: set[str]) -> Iterator[Import]:
    """What `source` imports (anywhere in its body) among `modules`, plus modules named in strings."""
    for node in ast.walk(source.tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = source.name.split(".")
                if not _is_package(source):
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import mod` imports pkg.mod; `from mod import name` imports mod
            names = [f"{module}.{alias.name}" for alias in node.names] or [module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in modules:
            names = [node.value] if "." in node.value else []  # e.g. module="pecmass_xl.excel.worker"
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != source.name:
                yield Import(source.name, target, getattr(node, "lineno", 0))


def package_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "pecmass_xl":
        return parts[0]
    if len(parts) == 1:
        return ROOT_PACKAGE
    return MAIN if parts[1] == "__main__" else parts[1]


def all_imports(sources: dict[str, Source]) -> list[Import]:
    modules = set(sources)
    return [imp for source in sources.values() for imp in imports_of(source, modules)]


def package_cycles(imports: list[Import]) -> list[list[str]]:
    """Cycles between packages (each as the packages in order), found by depth-first search."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        a, b = package_of(imp.importer), package_of(imp.imported)
        if a != b:
            graph.setdefault(a, set()).add(b)
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt):]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    cycles.append([*cycle, nxt])
            elif len(path) < len(graph) + 1:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    return cycles


def layer_violations(imports: list[Import], allowed: dict[tuple[str, str], str]) -> list[str]:
    """Imports that go up (or sideways) the layers, except the allowed ones."""
    found = []
    for imp in imports:
        a, b = package_of(imp.importer), package_of(imp.imported)
        if a == b or (imp.importer, imp.imported) in allowed:
            continue
        if a == SANDBOX:
            ok = b in SANDBOX_MAY_IMPORT
        elif b == SANDBOX:
            ok = a in SANDBOX_USED_BY
        elif a == UDFS:
            ok = b in LAYERS and LAYERS[b] <= UDFS_LAYER
        elif a in LAYERS and b in LAYERS:
            ok = LAYERS[b] < LAYERS[a]
        else:
            ok = False  # a package the rule does not place yet: add it to LAYERS first
        if not ok:
            found.append(f"{imp.importer} (line {imp.line}) imports {imp.imported}: {a} -> {b}")
    return found


def stale_allowances(imports: list[Import], allowed: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    present = {(imp.importer, imp.imported) for imp in imports}
    return [edge for edge in allowed if edge not in present]


def spelt_out(sources: dict[str, Source], words: frozenset[str], owner: str) -> list[str]:
    """String constants equal to one of `words` in any module but `owner`.

    The literal text of an f-string is a message, not a value: f"Errore temporaneo{n}" is not the
    Esito `Errore temporaneo` (but f"{'Esito':<9}" spells out a header).
    """
    found = []
    for source in sources.values():
        if source.name == owner:
            continue
        message_parts = {
            id(part) for node in ast.walk(source.tree) if isinstance(node, ast.JoinedStr) for part in node.values
        }
        for node in ast.walk(source.tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in words
                    and id(node) not in message_parts):
                found.append(f"{source.name} line {node.lineno}: {node.value!r}")
    return found


def rome_time_outside(sources: dict[str, Source], owner: str) -> list[str]:
    """Modules other than `owner` that use zoneinfo or name Rome's time zone."""
    found = []
    for source in sources.values():
        if source.name == owner:
            continue
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(n and n.split(".")[0] == "zoneinfo" for n in names):
                    found.append(f"{source.name} line {node.lineno}: imports zoneinfo")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and ROME_ZONE in node.value:
                found.append(f"{source.name} line {node.lineno}: {node.value!r}")
    return found


# ------------------------------------------------------------------------------------------------
# The checks, first on packages made to break them


def _make(root: Path, files: dict[str, str]) -> dict[str, Source]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return read_sources(root, ("pecmass_xl", "udfs"))


_CLEAN = {
    "pecmass_xl/__init__.py": "",
    "pecmass_xl/core/__init__.py": "",
    "pecmass_xl/core/vocabulary.py": 'ST_DELIVERED = "Consegnato"\n',
    "pecmass_xl/journal/__init__.py": "",
    "pecmass_xl/journal/status.py": "from pecmass_xl.core.vocabulary import ST_DELIVERED\n",
    "pecmass_xl/workbook/__init__.py": "",
    "pecmass_xl/workbook/contract.py": "from ..core import vocabulary\n",
    "pecmass_xl/sending/__init__.py": "",
    "pecmass_xl/sending/engine.py": "def run():\n    from pecmass_xl.journal import status\n",
    "pecmass_xl/tracking/__init__.py": "",
    "pecmass_xl/sandbox/__init__.py": "",
    "pecmass_xl/sandbox/clock.py": "from pecmass_xl.core import vocabulary\n",
    "pecmass_xl/app/__init__.py": "",
    "pecmass_xl/app/demo.py": "import pecmass_xl.sandbox.clock\n",
    "udfs/__init__.py": "",
    "udfs/functions.py": "from pecmass_xl.app import demo\n",
}


def test_a_clean_package_passes(tmp_path):
    sources = _make(tmp_path, _CLEAN)
    imports = all_imports(sources)
    assert {(i.importer, i.imported) for i in imports} >= {
        ("pecmass_xl.journal.status", "pecmass_xl.core.vocabulary"),
        ("pecmass_xl.workbook.contract", "pecmass_xl.core.vocabulary"),  # relative import
        ("pecmass_xl.sending.engine", "pecmass_xl.journal.status"),      # inside a function
        ("pecmass_xl.app.demo", "pecmass_xl.sandbox.clock"),
    }
    assert package_cycles(imports) == []
    assert layer_violations(imports, {}) == []
    assert spelt_out(sources, frozenset({"Consegnato"}), "pecmass_xl.core.vocabulary") == []


@pytest.mark.parametrize("name, text, expected", [
    # a lower layer reaching up, inside a function
    ("pecmass_xl/journal/extra.py", "def f():\n    import pecmass_xl.workbook.contract\n", "journal -> workbook"),
    # peers of one layer
    ("pecmass_xl/cli/__init__.py", "from pecmass_xl import excel\n", "cli -> excel"),
    # the sandbox uses more than core; product code uses the sandbox
    ("pecmass_xl/sandbox/extra.py", "from pecmass_xl.journal import status\n", "sandbox -> journal"),
    ("pecmass_xl/tracking/extra.py", "from pecmass_xl.sandbox.clock import x\n", "tracking -> sandbox"),
    # worksheet functions reaching a front
    ("udfs/extra.py", "from pecmass_xl.cli import main\n", "udfs -> cli"),
    # a module started by name from a lower layer
    ("pecmass_xl/sending/extra.py", 'MODULE = "pecmass_xl.app.demo"\n', "sending -> app"),
    # a relative import going up
    ("pecmass_xl/workbook/extra.py", "from ..sending import engine\n", "workbook -> sending"),
])
def test_each_forbidden_import_is_reported(tmp_path, name, text, expected):
    files = dict(_CLEAN)
    files.setdefault("pecmass_xl/cli/__init__.py", "")
    files.setdefault("pecmass_xl/excel/__init__.py", "")
    files[name] = text
    imports = all_imports(_make(tmp_path, files))
    violations = layer_violations(imports, {})
    assert len(violations) == 1 and violations[0].endswith(expected), violations


def test_a_cycle_between_packages_is_reported(tmp_path):
    files = dict(_CLEAN)
    files["pecmass_xl/sending/engine.py"] = "from pecmass_xl.tracking import follow\n"
    files["pecmass_xl/tracking/follow.py"] = "def f():\n    from pecmass_xl.sending.engine import run\n"
    imports = all_imports(_make(tmp_path, files))
    assert package_cycles(imports) == [["sending", "tracking", "sending"]]


def test_an_allowance_hides_one_edge_and_goes_stale_when_the_edge_goes(tmp_path):
    files = dict(_CLEAN)
    files["pecmass_xl/journal/extra.py"] = "import pecmass_xl.workbook.contract\n"
    imports = all_imports(_make(tmp_path, files))
    edge = ("pecmass_xl.journal.extra", "pecmass_xl.workbook.contract")
    assert layer_violations(imports, {edge: "issue N"}) == []
    assert stale_allowances(imports, {edge: "issue N"}) == []
    assert stale_allowances(imports, {("pecmass_xl.app.demo", "pecmass_xl.cli"): "gone"}) != []


def test_a_copy_of_the_vocabulary_or_of_rome_time_is_reported(tmp_path):
    files = dict(_CLEAN)
    files["pecmass_xl/journal/status.py"] = (
        'DELIVERED = "Consegnato"\nMSG = f"Consegnato{x}"\nHEAD = f"{\'Consegnato\':<12}|"\n'
    )
    files["pecmass_xl/workbook/riepilogo.py"] = (
        'def local(m):\n    from zoneinfo import ZoneInfo\n    return m.astimezone(ZoneInfo("Europe/Rome"))\n'
    )
    sources = _make(tmp_path, files)
    assert spelt_out(sources, frozenset({"Consegnato"}), "pecmass_xl.core.vocabulary") == [
        "pecmass_xl.journal.status line 1: 'Consegnato'",
        "pecmass_xl.journal.status line 3: 'Consegnato'",
    ]  # the words of a message (line 2) are not a copy
    assert rome_time_outside(sources, "pecmass_xl.core.rome_time") == [
        "pecmass_xl.workbook.riepilogo line 2: imports zoneinfo",
        "pecmass_xl.workbook.riepilogo line 3: 'Europe/Rome'",
    ]


# ------------------------------------------------------------------------------------------------
# The checks on the product


@pytest.fixture(scope="module")
def product() -> dict[str, Source]:
    return read_sources(ROOT, ("pecmass_xl", "udfs"))


@pytest.fixture(scope="module")
def product_imports(product) -> list[Import]:
    return all_imports(product)


def test_every_package_has_a_layer(product):
    packages = {package_of(name) for name in product}
    assert packages - {SANDBOX, UDFS} == set(LAYERS), "place the new package in LAYERS"


def test_no_import_cycle_between_packages(product_imports):
    assert package_cycles(product_imports) == []


def test_lower_layers_never_import_higher_ones(product_imports):
    assert layer_violations(product_imports, ALLOWED) == []


def test_every_allowance_is_still_needed(product_imports):
    """When the issue that removes an allowed edge is merged, delete its entry from ALLOWED."""
    assert stale_allowances(product_imports, ALLOWED) == []


def test_the_vocabulary_is_spelt_out_only_in_core_vocabulary(product):
    assert spelt_out(product, VOCABULARY, VOCABULARY_MODULE) == []


def test_rome_time_is_computed_only_in_core_rome_time(product):
    assert rome_time_outside(product, ROME_TIME_MODULE) == []
