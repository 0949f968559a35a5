"""The package's layers, checked from source (docs/architecture.md, "Layers").

Three rules, each read from the code with ``ast`` so nothing is imported:

* the core is pure: no I/O, clock, threads, processes, dynamic imports or global
  randomness (the ``random.Random`` it uses is injected);
* a layer imports only the layers below it (``LAYER_MAY_IMPORT``);
* no import cycle anywhere in ``swimfd``, counting imports inside functions,
  under ``if TYPE_CHECKING:`` and module names handed to ``importlib`` as strings.

The second half of the file feeds the same checks small synthetic sources, so a
check that silently stopped finding anything would fail here too.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

PYSERVER = Path(__file__).resolve().parents[1] / "pyserver"
PACKAGE = "swimfd"

# Layer -> the layers its modules may import ("" is the top-level package: __init__, __main__).
LAYER_MAY_IMPORT: dict[str, frozenset[str]] = {
    "pb": frozenset({"pb"}),
    "core": frozenset({"core", "pb"}),
    "sim": frozenset({"sim", "core", "pb"}),
    "runtime": frozenset({"runtime", "core", "pb"}),
    "bench": frozenset({"bench", "runtime", "sim", "core", "pb"}),
    "monitor": frozenset({"monitor", "runtime", "core", "pb"}),
    "api": frozenset({"api", "runtime", "core", "pb"}),
    "commands": frozenset({"commands", "bench", "monitor", "runtime", "sim", "core", "pb", ""}),
    "": frozenset({"", "api", "commands", "bench", "monitor", "runtime", "sim", "core", "pb"}),
}

# Standard-library modules the core must not import, and what to do instead.
CORE_FORBIDDEN_MODULES: dict[str, str] = {
    "asyncio": "the core has no event loop; return an Output and let the runtime schedule tick(now)",
    "grpc": "the core sends nothing; put the message in Output.outbound and let swimfd.runtime send it",
    "socket": "the core sends nothing; put the message in Output.outbound and let swimfd.runtime send it",
    "time": "the core never reads the clock; take `now: float` as a parameter",
    "datetime": "the core never reads the clock; take `now: float` as a parameter",
    "os": "the core reads no environment or files; pass the value in through Config",
    "threading": "the core is single-threaded; concurrency belongs in swimfd.runtime",
    "multiprocessing": "the core starts no processes; that belongs in swimfd.runtime",
    "subprocess": "the core starts no processes; that belongs in swimfd.runtime (diss_process.py)",
    "importlib": "import the module at the top of the file and type it; the core has no optional modules",
}
# Built-in functions the core must not call.
CORE_FORBIDDEN_BUILTINS: dict[str, str] = {
    "open": "the core reads no files; read them in swimfd.commands and pass a Config",
    "__import__": "import the module at the top of the file and type it; the core has no optional modules",
}
RANDOM_ALLOWED = frozenset({"Random"})  # the class, used as a type and by whoever injects the RNG
RANDOM_FIX = "use the injected `rng: random.Random` (self._rng.choice(...)), so runs repeat given the seed"


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Dependency:
    line: int
    target: str  # dotted module name, resolved against the known modules
    how: str  # "import" or "importlib string"


# ---------------------------------------------------------------------------- reading the tree


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PYSERVER).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_sources() -> dict[str, tuple[Path, str]]:
    """Every swimfd module: dotted name -> (path, source)."""
    return {
        module_name(p): (p, p.read_text(encoding="utf-8"))
        for p in sorted((PYSERVER / PACKAGE).rglob("*.py"))
        if "__pycache__" not in p.parts
    }


@cache
def known_modules() -> frozenset[str]:
    return frozenset(package_sources())


def layer_of(module: str) -> str:
    """`swimfd.core.node` -> "core"; `swimfd` and `swimfd.__main__` -> ""."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        raise ValueError(f"{module} is not in {PACKAGE}")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYER_MAY_IMPORT) else ""


def _display(path: Path | str) -> str:
    p = Path(path)
    return str(p.relative_to(PYSERVER.parent)) if p.is_absolute() else str(p)


# ---------------------------------------------------------------------------- dependencies of one module

_MODULE_STRING = re.compile(rf"{PACKAGE}(\.\w+)+")


def _resolve_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def dependencies(tree: ast.AST, module: str, is_package: bool, known: Iterable[str]) -> list[Dependency]:
    """Every swimfd module this one imports, wherever the import sits (functions and
    `if TYPE_CHECKING:` included). In a module that uses importlib, string literals
    naming swimfd modules count too: that is how commands/main.py loads commands."""
    known = set(known)
    found: list[Dependency] = []
    uses_importlib = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                uses_importlib |= alias.name.split(".")[0] == "importlib"
                if alias.name.split(".")[0] == PACKAGE:
                    found.append(Dependency(node.lineno, alias.name, "import"))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(node, module, is_package)
            uses_importlib |= base.split(".")[0] == "importlib"
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append(Dependency(node.lineno, sub if sub in known else base, "import"))
    if uses_importlib:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.fullmatch(node.value):
                found.append(Dependency(node.lineno, node.value, "importlib string"))
    return found


# ---------------------------------------------------------------------------- rule 1: the core is pure


def _random_aliases(tree: ast.AST) -> set[str]:
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "random"
    }


def core_violations(source: str, path: str, module: str, is_package: bool = False) -> list[Violation]:
    """What makes this core module impure, one Violation per offending line."""
    tree = ast.parse(source, filename=path)
    out: list[Violation] = []

    def bad_module(line: int, name: str) -> None:
        top = name.split(".")[0]
        if top in CORE_FORBIDDEN_MODULES:
            out.append(Violation(path, line, f"core imports `{name}`: {CORE_FORBIDDEN_MODULES[top]}"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bad_module(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(node, module, is_package)
            bad_module(node.lineno, base)
            if base == "random":
                for alias in node.names:
                    if alias.name not in RANDOM_ALLOWED:
                        out.append(
                            Violation(
                                path, node.lineno, f"core imports `random.{alias.name}` (global RNG): {RANDOM_FIX}"
                            )
                        )
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CORE_FORBIDDEN_BUILTINS:
            out.append(
                Violation(path, node.lineno, f"core calls `{node.func.id}()`: {CORE_FORBIDDEN_BUILTINS[node.func.id]}")
            )

    randoms = _random_aliases(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in randoms
            and node.attr not in RANDOM_ALLOWED
        ):
            out.append(Violation(path, node.lineno, f"core uses `random.{node.attr}` (global RNG): {RANDOM_FIX}"))

    out.extend(layer_violations(source, path, module, is_package, known=known_modules()))
    return sorted(out, key=lambda v: v.line)


# ---------------------------------------------------------------------------- rule 2: layers import downwards


def layer_violations(source: str, path: str, module: str, is_package: bool, known: Iterable[str]) -> list[Violation]:
    layer = layer_of(module)
    allowed = LAYER_MAY_IMPORT.get(layer, frozenset())  # an unknown layer fails test_every_layer_is_known
    out = []
    for dep in dependencies(ast.parse(source, filename=path), module, is_package, known):
        target_layer = layer_of(dep.target)
        if target_layer not in allowed:
            may = ", ".join(f"swimfd.{name}" for name in sorted(allowed) if name) or "nothing"
            out.append(
                Violation(
                    path,
                    dep.line,
                    f"{module} ({layer or 'top level'}) imports {dep.target} ({target_layer or 'top level'})"
                    f" by {dep.how}; {layer or 'the top level'} may import only {may}."
                    " Move the shared piece down into a layer both may import, or pass it in as a parameter.",
                )
            )
    return out


# ---------------------------------------------------------------------------- rule 3: no import cycles


def import_graph(sources: Mapping[str, tuple[str, str]]) -> dict[str, dict[str, Dependency]]:
    """module -> {imported module -> first line importing it}, for modules in `sources` (name -> (path, source))."""
    graph: dict[str, dict[str, Dependency]] = {}
    for module, (path, source) in sources.items():
        is_package = Path(path).name == "__init__.py"
        edges: dict[str, Dependency] = {}
        for dep in dependencies(ast.parse(source, filename=path), module, is_package, sources):
            if dep.target in sources and dep.target != module:
                edges.setdefault(dep.target, dep)
        graph[module] = edges
    return graph


def _strongly_connected(graph: Mapping[str, Iterable[str]]) -> Iterator[list[str]]:
    """Tarjan's algorithm, iterative; yields each component with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


def _shortest_cycle(graph: Mapping[str, Iterable[str]], component: list[str]) -> list[str]:
    start = component[0]
    inside = set(component)
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [*reversed(path), start]
                if child in inside and child not in parent:
                    parent[child] = node
                    nxt.append(child)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in {component}")


def import_cycles(sources: Mapping[str, tuple[str, str]]) -> list[str]:
    """One readable line per cycle: the modules in order, and the line of each import."""
    graph = import_graph(sources)
    reports = []
    for component in _strongly_connected(graph):
        cycle = _shortest_cycle(graph, component)
        steps = "; ".join(
            f"{_display(sources[a][0])}:{graph[a][b].line} imports {b}"
            + (" (importlib string)" if graph[a][b].how != "import" else "")
            for a, b in itertools.pairwise(cycle)
        )
        reports.append(
            f"import cycle {' -> '.join(cycle)} ({steps}). Break it by moving what both need into a"
            " module neither imports, or by passing it in;"
            f" {len(component)} modules are involved: {', '.join(component)}"
        )
    return reports


# ---------------------------------------------------------------------------- the checks on the real tree


def _real_sources() -> dict[str, tuple[str, str]]:
    return {name: (str(path), source) for name, (path, source) in package_sources().items()}


def test_every_layer_is_known() -> None:
    unknown = {layer_of(m) for m in package_sources()} - set(LAYER_MAY_IMPORT)
    assert not unknown, f"new subpackage(s) {sorted(unknown)}: add them to LAYER_MAY_IMPORT and docs/architecture.md"


def test_core_is_pure() -> None:
    core = {m: ps for m, ps in package_sources().items() if layer_of(m) == "core"}
    assert "swimfd.core.node" in core, "the purity test found no core modules; is PYSERVER right?"
    found = [
        str(v)
        for m, (path, source) in core.items()
        for v in core_violations(source, _display(path), m, path.name == "__init__.py")
    ]
    assert not found, "the core must stay pure (docs/architecture.md, 'What each layer promises'):\n" + "\n".join(found)


def test_layers_import_only_downwards() -> None:
    sources = package_sources()
    found = [
        str(v)
        for m, (path, source) in sources.items()
        for v in layer_violations(source, _display(path), m, path.name == "__init__.py", sources)
    ]
    assert not found, "a layer imports one it must not (docs/architecture.md, 'Layers'):\n" + "\n".join(found)


def test_no_import_cycles() -> None:
    sources = _real_sources()
    graph = import_graph(sources)
    assert graph["swimfd.commands.main"], "commands/main.py's importlib names were not read as imports"
    cycles = import_cycles(sources)
    assert not cycles, "\n".join(cycles)


# ---------------------------------------------------------------------------- the checks catch what they should

IMPURE = [
    ("import time", "`time`"),
    ("from time import monotonic", "`time`"),
    ("import asyncio", "`asyncio`"),
    ("import grpc", "`grpc`"),
    ("from grpc import aio", "`grpc`"),
    ("import socket", "`socket`"),
    ("import os.path", "`os.path`"),
    ("from os import environ", "`os`"),
    ("import threading", "`threading`"),
    ("import subprocess", "`subprocess`"),
    ("import importlib", "`importlib`"),
    ("from importlib import import_module", "`importlib`"),
    ("import random\nrandom.choice(x)", "`random.choice`"),
    ("import random\nrandom.random()", "`random.random`"),
    ("import random\nrandom.seed(3)", "`random.seed`"),
    ("import random\nrandom.shuffle(xs)", "`random.shuffle`"),
    ("import random\nsorted(xs, key=random.random)", "`random.random`"),
    ("import random as r\nr.randint(1, 6)", "`random.randint`"),
    ("import random\nrandom.SystemRandom()", "`random.SystemRandom`"),
    ("from random import choice", "`random.choice`"),
    ("from random import Random, uniform", "`random.uniform`"),
    ("open('members.txt')", "`open()`"),
    ("__import__('swimfd.core.heartbeat')", "`__import__()`"),
    ("from swimfd.runtime import x", "imports swimfd.runtime"),
    ("from swimfd.runtime.process import Runtime", "imports swimfd.runtime.process"),
    ("import swimfd.sim.engine", "imports swimfd.sim.engine"),
    ("from swimfd import commands", "imports swimfd.commands"),
    ("from ..bench import runner", "imports swimfd.bench.runner"),
    ("def f():\n    import time", "`time`"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from swimfd.runtime.process import Runtime", "runtime"),
]

PURE = [
    "import random\nrng = random.Random(3)",
    "import random\ndef f(rng: random.Random) -> None:\n    rng.choice([1, 2])",
    "from random import Random\nRandom(7).random()",
    "from swimfd.core.config import Config",
    "from swimfd.core import membership",
    "from .events import Output",
    "from swimfd.pb import swim_pb2 as pb",
    "import math\nimport heapq\nimport numpy as np",
]


@pytest.mark.parametrize(("source", "expected"), IMPURE)
def test_purity_check_catches(source: str, expected: str) -> None:
    found = core_violations(source, "pyserver/swimfd/core/example.py", "swimfd.core.example")
    assert found, f"not caught: {source!r}"
    assert any(expected in v.message for v in found), [str(v) for v in found]
    assert all(v.path == "pyserver/swimfd/core/example.py" for v in found)


@pytest.mark.parametrize("source", PURE)
def test_purity_check_allows(source: str) -> None:
    assert core_violations(source, "pyserver/swimfd/core/example.py", "swimfd.core.example") == []


def test_purity_violation_names_file_line_and_fix() -> None:
    source = "import math\n\n\ndef f(xs):\n    import random\n    return random.choice(xs)\n"
    (found,) = core_violations(source, "pyserver/swimfd/core/example.py", "swimfd.core.example")
    assert str(found).startswith("pyserver/swimfd/core/example.py:6: core uses `random.choice`")
    assert "injected" in found.message


@pytest.mark.parametrize(
    ("module", "source", "caught"),
    [
        ("swimfd.sim.engine", "from swimfd.runtime.process import Runtime", True),
        ("swimfd.sim.engine", "from swimfd.commands import simulate", True),
        ("swimfd.sim.engine", "from swimfd.core.node import Node", False),
        ("swimfd.sim.engine", "from swimfd.sim.network import Network", False),
        ("swimfd.runtime.process", "import swimfd.sim.engine", True),
        ("swimfd.runtime.process", "from swimfd.commands.run import main", True),
        ("swimfd.runtime.process", "from swimfd.bench import runner", True),
        ("swimfd.runtime.process", "def f():\n    from swimfd.sim import engine", True),
        ("swimfd.runtime.process", "from swimfd.core.node import Node", False),
        ("swimfd.runtime.process", "from .transport import Transport", False),
        ("swimfd.core.node", "from swimfd.sim.network import Network", True),
        ("swimfd.bench.runner", "from swimfd.commands import bench", True),
        ("swimfd.commands.run", "from swimfd.runtime.process import serve", False),
        ("swimfd.commands.main", "import importlib\nM = {'x': 'swimfd.sim.engine'}", False),
        ("swimfd.runtime.process", "import importlib\nM = {'x': 'swimfd.sim.engine'}", True),
    ],
)
def test_layer_check(module: str, source: str, caught: bool) -> None:
    path = module.replace(".", "/") + ".py"
    found = layer_violations(source, path, module, False, known=known_modules())
    assert bool(found) == caught, [str(v) for v in found]
    if caught:
        assert found[0].path == path and "may import only" in found[0].message


def _synthetic(modules: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {name: (name.replace(".", "/") + ".py", source) for name, source in modules.items()}


def test_cycle_check_finds_a_cycle_and_prints_it() -> None:
    sources = _synthetic(
        {
            "swimfd.a": "import swimfd.b\n",
            "swimfd.b": "def f():\n    from swimfd import c\n",
            "swimfd.c": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from swimfd.a import X\n",
            "swimfd.d": "import swimfd.a\n",
        }
    )
    (cycle,) = import_cycles(sources)
    assert cycle.startswith("import cycle swimfd.a -> swimfd.b -> swimfd.c -> swimfd.a (")
    assert "swimfd/b.py:2 imports swimfd.c" in cycle and "swimfd/c.py:3 imports swimfd.a" in cycle
    assert "swimfd.d" not in cycle


def test_cycle_check_reads_importlib_strings() -> None:
    sources = _synthetic(
        {
            "swimfd.main": "import importlib\nCOMMANDS = {'run': ('swimfd.run', 'help')}\n",
            "swimfd.run": "from swimfd.main import COMMANDS\n",
        }
    )
    (cycle,) = import_cycles(sources)
    assert "swimfd/main.py:2 imports swimfd.run (importlib string)" in cycle
    # Without importlib the same string is just a string.
    sources["swimfd.main"] = ("swimfd/main.py", "COMMANDS = {'run': ('swimfd.run', 'help')}\n")
    assert import_cycles(sources) == []


def test_cycle_check_passes_a_tree() -> None:
    sources = _synthetic(
        {
            "swimfd.core.a": "from swimfd.core import b\n",
            "swimfd.core.b": "import math\n",
            "swimfd.core": "from swimfd.core.a import thing\n",  # a package re-exporting its module is no cycle
            "swimfd.runtime.c": "from swimfd.core.a import thing\nfrom swimfd.core.b import other\n",
        }
    )
    assert import_cycles(sources) == []
