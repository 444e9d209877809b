"""The import rules of docs/architecture.md, read from the source with ``ast``.

Every ``import`` and ``from ... import`` of every module under src/pipeline_core
counts, wherever it is written: at the top, inside a function, under
``if TYPE_CHECKING:`` or in a ``try``. How an import statement becomes an arrow
between two modules:

- ``import pipeline_core.a.b`` is an arrow to ``pipeline_core.a.b``;
- ``from pipeline_core.a import b`` is an arrow to ``pipeline_core.a.b`` when ``b``
  is a module, else to ``pipeline_core.a`` (the name is taken from it);
- relative imports are resolved first (``from ..rules import ast`` in
  ``pipeline_core.domain.flows`` is ``from pipeline_core.rules import ast``);
- a package is its ``__init__.py``: importing ``pipeline_core.storage`` runs
  storage/__init__.py, so it is an arrow to the module ``pipeline_core.storage``,
  and that module's own imports (its re-exports) are arrows from it. The packages
  Python imports on the way to a submodule (``pipeline_core`` and
  ``pipeline_core.a`` for ``pipeline_core.a.b``) are not counted: they are the
  same for every import and would make every module depend on the package root.

The checks: no import cycle (type-only cycles included), no arrow up a layer, none
of the arrows in FORBIDDEN, commands modules share code only through
commands._common, nothing imports the package root (except the ``__version__`` of
cli.py and __main__.py), and every module belongs to a layer.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from textwrap import dedent

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = "pipeline_core"

# The layers, bottom to top: (layer, modules, what they hold). A module may import
# modules of its own layer and of the layers below. A name covers the module and
# every module under it (``pipeline_core.storage`` covers storage.sql.base).
LAYERS: tuple[tuple[int, tuple[str, ...], str], ...] = (
    (0, ("pipeline_core.errors",), "PipelineError and its subclasses"),
    (1, ("pipeline_core.customer",), "the Customer record"),
    (2, ("pipeline_core.rules",), "the rule language: AST, parser, evaluation, SQL"),
    (3, ("pipeline_core.domain",), "attrs types and pure logic"),
    (4, ("pipeline_core.storage",), "the Store protocol and its backends"),
    (4, ("pipeline_core.importing",), "file formats: readers, mapping, writers"),
    (5, ("pipeline_core.workspace",), "the facade, the Session, the use cases"),
    (5, ("pipeline_core.render",), "tables, JSON, CSV, charts"),
    (6, ("pipeline_core.testing",), "hypothesis strategies"),
    (7, ("pipeline_core.commands",), "click command groups"),
    (8, ("pipeline_core.cli", "pipeline_core.__main__"), "the root click group"),
)

# Arrows that the layers alone would allow but that are forbidden:
# (importer, imported, why). Names cover the modules under them, as above.
FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    ("pipeline_core.storage", "pipeline_core.importing", "storage knows no file format"),
    ("pipeline_core.importing", "pipeline_core.storage", "file formats know no store"),
    ("pipeline_core.render", "pipeline_core.storage", "render/ knows domain types only"),
    ("pipeline_core.render", "pipeline_core.importing", "render/ knows domain types only"),
    ("pipeline_core.render", "pipeline_core.workspace", "render/ knows domain types only"),
    (
        "pipeline_core.workspace",
        "pipeline_core.render",
        "the library returns objects; commands hand them to render/",
    ),
    ("pipeline_core", "pipeline_core.__main__", "importing it runs the command"),
)

# Inside these packages a module may import only the shared module named here
# from its own package (commands modules do not import each other), except that
# a group's module attaches the commands of its own sub-modules (``customers`` ->
# ``customers_bulk``), which never import it back.
SHARED_ONLY: Mapping[str, str] = {"pipeline_core.commands": "pipeline_core.commands._common"}

# The package root re-exports the public types: it may import anything, and
# nothing inside the package imports it, but for these names in these modules.
ROOT_IMPORTS_ALLOWED: Mapping[str, frozenset[str]] = {
    "pipeline_core.cli": frozenset({"__version__"}),
    "pipeline_core.__main__": frozenset({"__version__"}),
}


@dataclass(frozen=True)
class Arrow:
    """One import statement's arrow from one module to another."""

    importer: str
    imported: str
    line: int
    type_checking: bool
    names: tuple[str, ...]  # names taken from ``imported`` (none for a module import)

    def where(self) -> str:
        """``line 12`` or ``line 12, under TYPE_CHECKING``."""
        return f"line {self.line}" + (", under TYPE_CHECKING" if self.type_checking else "")


def short(module: str) -> str:
    """``pipeline_core.domain.flows`` as ``domain.flows`` (the root stays as it is)."""
    return module.removeprefix(ROOT + ".")


def covers(name: str, module: str) -> bool:
    """Whether ``name`` is ``module`` or one of its enclosing packages."""
    return module == name or module.startswith(name + ".")


def find_modules(src: Path) -> dict[str, Path]:
    """Every module of the package under ``src``, by dotted name (a package is its __init__)."""
    modules: dict[str, Path] = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _statements(tree: ast.AST, type_checking: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """Every Import and ImportFrom anywhere in ``tree``, with whether it is type-only."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from _statements_of(child, True)
            for child in node.orelse:
                yield from _statements_of(child, type_checking)
        else:
            yield from _statements_of(node, type_checking)


def _statements_of(node: ast.AST, type_checking: bool) -> Iterator[tuple[ast.stmt, bool]]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, type_checking
    else:
        yield from _statements(node, type_checking)


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module name a (possibly relative) ``from ... import`` names."""
    if node.level == 0:
        return node.module or ""
    parts = importer.split(".") if is_package else importer.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def _known(name: str, modules: Mapping[str, Path]) -> str:
    """``name``, or the closest enclosing module we have (for a name that is not a file)."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def read_arrows(modules: Mapping[str, Path]) -> list[Arrow]:
    """The arrows of every import statement of every module (imports of other packages left out)."""
    arrows: list[Arrow] = []
    for importer, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, type_checking in _statements(tree):
            line = node.lineno
            targets: list[tuple[str, tuple[str, ...]]] = []
            if isinstance(node, ast.Import):
                targets = [(alias.name, ()) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, importer, is_package)
                names: list[str] = []
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in modules:
                        targets.append((submodule, ()))
                    else:
                        names.append(alias.name)
                if names:
                    targets.append((base, tuple(names)))
            for target, taken in targets:
                if not covers(ROOT, target):
                    continue
                imported = _known(target, modules)
                if imported != importer:
                    arrows.append(Arrow(importer, imported, line, type_checking, taken))
    return arrows


def layer_of(module: str) -> tuple[int, str] | None:
    """The layer of ``module`` and the layer name that covers it (the most specific one)."""
    found: tuple[int, str] | None = None
    for layer, names, _holds in LAYERS:
        for name in names:
            if covers(name, module) and (found is None or len(name) > len(found[1])):
                found = (layer, name)
    return found


def layer_violations(modules: Mapping[str, Path], arrows: list[Arrow]) -> list[str]:
    """Unlayered modules, imports of the root, upward arrows, forbidden and sibling arrows."""
    problems = [
        f"{short(module)} is in no layer: add it to LAYERS in tests/test_architecture.py"
        for module in modules
        if module != ROOT and layer_of(module) is None
    ]
    for arrow in arrows:
        importer, imported = arrow.importer, arrow.imported
        if importer == ROOT:
            continue  # the package root re-exports, and may import anything
        said = f"{short(importer)} -> {short(imported)} ({arrow.where()})"
        if imported == ROOT:
            allowed = ROOT_IMPORTS_ALLOWED.get(importer, frozenset())
            taken = set(arrow.names) if arrow.names else {"(the package)"}
            if not taken <= allowed:
                shown = ", ".join(sorted(taken - allowed))
                problems.append(
                    f"{said}: imports {shown} from the package root; "
                    "import it from the module that defines it"
                )
            continue
        low, high = layer_of(importer), layer_of(imported)
        if low is not None and high is not None and high[0] > low[0]:
            problems.append(
                f"{said}: up a layer, from layer {low[0]} ({short(low[1])}) "
                f"to layer {high[0]} ({short(high[1])})"
            )
        for source, target, why in FORBIDDEN:
            if covers(source, importer) and covers(target, imported):
                problems.append(f"{said}: forbidden, {why}")
        for package, shared in SHARED_ONLY.items():
            attaches = imported.startswith(importer + "_")
            if (
                covers(package, importer)
                and covers(package, imported)
                and imported != shared
                and not attaches
            ):
                problems.append(
                    f"{said}: {short(package)} modules share code only through {short(shared)}"
                )
    return problems


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _shortest_path(
    graph: Mapping[str, set[str]], start: str, goal: str, within: set[str]
) -> list[str]:
    """The shortest path from ``start`` to ``goal`` through the nodes ``within``."""
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [goal]
            while path[-1] != start:
                path.append(previous[path[-1]])
            return path[::-1]
        for successor in sorted(graph.get(node, ())):
            if successor in within and successor not in seen:
                seen.add(successor)
                previous[successor] = node
                queue.append(successor)
    raise AssertionError(f"no path from {start} to {goal} in a strongly connected component")


def cycles(arrows: list[Arrow]) -> list[str]:
    """Each import cycle as ``a -> b -> a``: for every arrow inside a cycle, the shortest
    cycle through it. An arrow made only of type-only imports is drawn ``-(TYPE_CHECKING)->``."""
    graph: dict[str, set[str]] = {}
    type_only: dict[tuple[str, str], bool] = {}
    for arrow in arrows:
        graph.setdefault(arrow.importer, set()).add(arrow.imported)
        pair = (arrow.importer, arrow.imported)
        type_only[pair] = type_only.get(pair, True) and arrow.type_checking
    found: set[tuple[str, ...]] = set()
    for component in _strongly_connected(graph):
        members = set(component)
        if len(members) < 2:
            continue
        for node in component:
            for successor in graph[node] & members:
                loop = [node, *_shortest_path(graph, successor, node, members)]
                start = loop.index(min(loop[:-1]))
                found.add(tuple(loop[start:-1] + loop[:start] + [loop[start]]))

    def chain(loop: tuple[str, ...]) -> str:
        said = short(loop[0])
        for before, after in pairwise(loop):
            said += (
                f" -(TYPE_CHECKING)-> {short(after)}"
                if type_only[before, after]
                else f" -> {short(after)}"
            )
        return said

    return [f"cycle: {chain(loop)}" for loop in sorted(found)]


def check_package(src: Path) -> list[str]:
    """Every violation of the import rules by the package under ``src`` (empty: none)."""
    modules = find_modules(src)
    arrows = read_arrows(modules)
    return cycles(arrows) + layer_violations(modules, arrows)


def test_imports_point_down_the_layers_and_make_no_cycle() -> None:
    violations = check_package(SRC)
    assert not violations, (
        f"{len(violations)} violation(s) of the import rules "
        "(docs/architecture.md, tests/test_architecture.py):\n  " + "\n  ".join(violations)
    )


def _write_package(src: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")


CLEAN_PACKAGE = {
    "pipeline_core/__init__.py": """
        from pipeline_core.customer import Customer
        from pipeline_core.workspace.facade import Workspace
        __version__ = "1"
    """,
    "pipeline_core/__main__.py": "from pipeline_core.cli import main\n",
    "pipeline_core/errors.py": "class PipelineError(Exception): ...\n",
    "pipeline_core/customer.py": "from pipeline_core.errors import PipelineError\n",
    "pipeline_core/rules/__init__.py": "from .ast import Rule\n",
    "pipeline_core/rules/ast.py": "from ..customer import Customer\nclass Rule: ...\n",
    "pipeline_core/domain/__init__.py": "",
    "pipeline_core/domain/flows.py": "from pipeline_core.rules import Rule\n",
    "pipeline_core/storage/__init__.py": "from pipeline_core.storage.sql import base\n",
    "pipeline_core/storage/sql/__init__.py": "",
    "pipeline_core/storage/sql/base.py": "from ...domain import flows\n",
    "pipeline_core/importing/__init__.py": "",
    "pipeline_core/importing/readers.py": "import pipeline_core.domain.flows\n",
    "pipeline_core/workspace/__init__.py": "",
    "pipeline_core/workspace/facade.py": """
        from typing import TYPE_CHECKING
        from pipeline_core.storage import base
        from pipeline_core.importing import readers
        if TYPE_CHECKING:
            from pipeline_core.domain.flows import Flow
    """,
    "pipeline_core/render/__init__.py": "",
    "pipeline_core/render/common.py": "from pipeline_core.domain import flows\n",
    "pipeline_core/testing.py": "from pipeline_core.workspace.facade import Workspace\n",
    "pipeline_core/commands/__init__.py": "",
    "pipeline_core/commands/_common.py": "from pipeline_core.render.common import table\n",
    "pipeline_core/commands/tasks.py": "from pipeline_core.commands._common import echo\n",
    "pipeline_core/cli.py": """
        from pipeline_core import __version__
        from pipeline_core.commands import tasks
        def main() -> None: ...
    """,
}


def test_the_checker_passes_a_package_that_keeps_the_rules(tmp_path: Path) -> None:
    _write_package(tmp_path, CLEAN_PACKAGE)
    assert check_package(tmp_path) == []


def test_the_checker_reports_every_kind_of_violation(tmp_path: Path) -> None:
    broken = {
        **CLEAN_PACKAGE,
        # A cycle seen only by the type checker, and an arrow up a layer.
        "pipeline_core/errors.py": """
            import typing
            if typing.TYPE_CHECKING:
                from pipeline_core.customer import Customer
            class PipelineError(Exception): ...
        """,
        # A package __init__ that re-exports from a module importing the package.
        "pipeline_core/rules/ast.py": "from pipeline_core.rules import MAX_DEPTH\nclass Rule: ...\n",
        # A cycle through a submodule taken by name and a relative import in a function.
        "pipeline_core/domain/a.py": "from pipeline_core.domain import b\n",
        "pipeline_core/domain/b.py": """
            def f() -> None:
                from .a import x
        """,
        "pipeline_core/domain/c.py": "import pipeline_core.storage.sql.base\n",
        "pipeline_core/storage/sql/base.py": "from ...importing import readers\n",
        "pipeline_core/importing/readers.py": "from pipeline_core import Customer\n",
        "pipeline_core/render/common.py": "from pipeline_core.workspace import facade\n",
        "pipeline_core/commands/_common.py": "from pipeline_core.cli import main\n",
        "pipeline_core/commands/notes.py": "from pipeline_core.commands import tasks\n",
        "pipeline_core/extra.py": "",
    }
    _write_package(tmp_path, broken)
    found = check_package(tmp_path)
    expected = [
        "cycle: customer -> errors -(TYPE_CHECKING)-> customer",
        # The package root imports everything, so importing it from inside is a cycle too.
        "cycle: pipeline_core -> workspace.facade -> importing.readers -> pipeline_core",
        "cycle: pipeline_core -> workspace.facade -> storage -> storage.sql.base -> importing.readers -> pipeline_core",
        "cycle: rules -> rules.ast -> rules",
        "cycle: domain.a -> domain.b -> domain.a",
        "cycle: cli -> commands.tasks -> commands._common -> cli",
        "extra is in no layer: add it to LAYERS in tests/test_architecture.py",
        "errors -> customer (line 4, under TYPE_CHECKING): up a layer, "
        "from layer 0 (errors) to layer 1 (customer)",
        "domain.c -> storage.sql.base (line 1): up a layer, from layer 3 (domain) to layer 4 (storage)",
        "storage.sql.base -> importing.readers (line 1): forbidden, storage knows no file format",
        "importing.readers -> pipeline_core (line 1): imports Customer from the package root; "
        "import it from the module that defines it",
        "render.common -> workspace.facade (line 1): forbidden, render/ knows domain types only",
        "commands._common -> cli (line 1): up a layer, from layer 7 (commands) to layer 8 (cli)",
        "commands.notes -> commands.tasks (line 1): commands modules share code only through "
        "commands._common",
    ]
    missing = [line for line in expected if line not in found]
    assert not missing, "not reported:\n" + "\n".join(missing) + "\nreported:\n" + "\n".join(found)
    unexpected = [line for line in found if line not in expected]
    assert not unexpected, "reported but not expected:\n" + "\n".join(unexpected)
