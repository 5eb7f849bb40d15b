"""The layers of ARCHITECTURE.md, checked by parsing every module (nothing imported).

The package is an ordered list of layers, each a folder: a module may import its own layer and
the layers below it, never one above. A folder's own modules sit above its subfolders that are
layers (``skills/`` above ``skills/core/``; ``graph/``, the assembly, above ``graph/model/``), so
such a folder's ``__init__.py`` imports nothing. No import cycle either, with imports inside
functions and ``TYPE_CHECKING`` blocks counted: an import moved into a function does not hide one.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Bottom to top. "phasegraph" is the root ``__init__.py`` (the public API).
LAYERS: tuple[str, ...] = (
    "skills.core",  # errors, text, retries, redaction: the ground floor
    "skills.guards",  # the workspace's bounds, subprocesses, the network, git queries
    "skills.python",  # a Python project: its interpreter, pytest/ruff/mypy config, import graph
    "skills",  # the Skill model, the registry, the built-in skills, tool adapters
    "demo",  # the demo's sample repository
    "graph.model",  # the run's data: plan, state, context, events, run store, report
    "recipes",  # plans written by code (rename, ...)
    "graph.durable",  # what outlives a process: checkpointer, lock, undo journal, caches
    "graph.preflight",  # before anything runs: preflight checks, the dry run, the diagram
    "graph.steps",  # how one step runs (retries, records, events) and the eager job runner
    "prompts",  # the LLM side: prompts, chat models, the planner and consolidator calls
    "nodes",  # the graph's nodes
    "graph",  # assembly: builder, run driver, tool, server
    "campaign",  # one plan over many repositories: locally or on LangGraph's server
    "phasegraph",
    "cli",
)

#: Folders the scan leaves out (not package code).
SKIPPED = ("demo/sample_repo",)


def layer_of(module: str) -> str:
    """The layer of ``phasegraph.<...>``: the longest layer its dotted name starts with."""
    relative = module.removeprefix("phasegraph").removeprefix(".")
    if not relative:
        return "phasegraph"
    matches = [layer for layer in LAYERS if relative == layer or relative.startswith(layer + ".")]
    if not matches:
        raise AssertionError(f"{module} is in no layer of LAYERS")
    return max(matches, key=len)


def allowed(source: str, target: str) -> bool:
    """May module ``source`` import module ``target`` (both ``phasegraph.*``)?"""
    return LAYERS.index(layer_of(target)) <= LAYERS.index(layer_of(source))


def imported(
    module: str, source: str, *, is_package: bool = False, known: frozenset[str] = frozenset()
) -> set[str]:
    """Every ``phasegraph`` module ``source`` imports, anywhere in the file (lazy imports and
    ``TYPE_CHECKING`` blocks too). ``from pkg import name`` counts as ``pkg.name`` when that is
    one of the ``known`` modules."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name for name in found if name == "phasegraph" or name.startswith("phasegraph.")}


def violations(
    module: str, source: str, *, is_package: bool = False, known: frozenset[str] = frozenset()
) -> list[str]:
    """``module -> imported module`` for each import of ``source`` the layering forbids."""
    targets = imported(module, source, is_package=is_package, known=known)
    return [f"{module} -> {target}" for target in sorted(targets) if not allowed(module, target)]


def package_modules() -> dict[str, Path]:
    """Every module of the package by dotted name, the root ``__init__.py`` included."""
    modules = {"phasegraph": ROOT / "__init__.py"}
    folders = {layer.split(".")[0] for layer in LAYERS if layer != "phasegraph"}
    for folder in sorted(folders):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if any(rel.is_relative_to(skip) for skip in SKIPPED):
                continue
            parts = rel.with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(("phasegraph", *parts))] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (itself and parent packages left out)."""
    modules = package_modules()
    known = frozenset(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = imported(
            name,
            path.read_text(encoding="utf-8"),
            is_package=path.name == "__init__.py",
            known=known,
        )
        graph[name] = {
            t for t in targets if t in known and t != name and not name.startswith(t + ".")
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_code_follows_the_layering() -> None:
    modules = package_modules()
    assert "phasegraph.graph.builder" in modules and len(modules) > 50, "the scan found no code"
    known = frozenset(modules)
    problems = [
        problem
        for name, path in sorted(modules.items())
        for problem in violations(
            name,
            path.read_text(encoding="utf-8"),
            is_package=path.name == "__init__.py",
            known=known,
        )
    ]
    assert not problems, (
        "imports that break the layering of ARCHITECTURE.md (fix the import, or change the "
        "layers there and in LAYERS together):\n  " + "\n  ".join(problems)
    )


def test_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "modules that import each other, directly or around a loop:\n  " + (
        "\n  ".join(" <-> ".join(component) for component in found)
    )


def test_a_folder_above_its_layers_imports_nothing_on_import() -> None:
    # Importing phasegraph.graph.model runs graph/__init__.py first: it must not pull the
    # assembly (above) into the model's import.
    graph = import_graph()
    parents = {layer.rpartition(".")[0] for layer in LAYERS if "." in layer}
    busy = {f"phasegraph.{p}": sorted(graph[f"phasegraph.{p}"]) for p in parents}
    assert all(not targets for targets in busy.values()), busy


def test_every_module_is_in_a_layer_and_every_layer_holds_code() -> None:
    layers = [layer_of(name) for name in package_modules()]
    assert set(layers) == set(LAYERS), f"layers holding no module: {set(LAYERS) - set(layers)}"


def test_every_package_folder_is_installed() -> None:
    # A subpackage missing from pyproject's list works from the source tree and is absent
    # from the wheel.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    folders = {
        ".".join(("phasegraph", *path.parent.relative_to(ROOT).parts)).rstrip(".")
        for path in ROOT.glob("**/__init__.py")
        if path.parent == ROOT
        or path.relative_to(ROOT).parts[0] in {layer.split(".")[0] for layer in LAYERS}
    }
    folders = {f for f in folders if "sample_repo" not in f}
    assert listed == folders, (sorted(folders - listed), sorted(listed - folders))


def test_the_checker_flags_forbidden_imports() -> None:
    assert violations(
        "phasegraph.skills.x", "from phasegraph.graph.steps.runner import StepRunner"
    ) == ["phasegraph.skills.x -> phasegraph.graph.steps.runner"]
    lazy = "def f() -> None:\n    from phasegraph.graph.builder import build_orchestrator\n"
    assert violations("phasegraph.nodes.x", lazy) == [
        "phasegraph.nodes.x -> phasegraph.graph.builder"
    ]
    assert violations("phasegraph.graph.model.plan", "from ...cli import main") == [
        "phasegraph.graph.model.plan -> phasegraph.cli"
    ]
    assert violations("phasegraph.recipes.x", "import phasegraph.graph.preflight.checks") == [
        "phasegraph.recipes.x -> phasegraph.graph.preflight.checks"
    ]
    assert violations(
        "phasegraph.skills.core.text", "from phasegraph.skills.base import Skill"
    ) == ["phasegraph.skills.core.text -> phasegraph.skills.base"]
    assert (
        violations(
            "phasegraph.graph.run",
            "from phasegraph.graph.model import state",
            known=frozenset({"phasegraph.graph.model.state"}),
        )
        == []
    )
    assert violations(
        "phasegraph.graph.model.state",
        "from phasegraph.graph import builder",
        known=frozenset({"phasegraph.graph.builder"}),
    ) == ["phasegraph.graph.model.state -> phasegraph.graph.builder"]


def test_the_checker_passes_allowed_imports() -> None:
    source = (
        "from phasegraph.graph.model.plan import Plan\n"
        "from phasegraph.skills.core.errors import PlanError\n"
        "from . import base\n"
        "import httpx\n"
    )
    assert violations("phasegraph.recipes.x", source) == []
    assert violations("phasegraph.nodes.x", "from phasegraph.graph.model.state import State") == []
    assert violations("phasegraph.cli.x", "from phasegraph.graph.builder import Orchestrator") == []


def test_the_cycle_finder_finds_a_loop_through_a_lazy_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
