"""The import layering of ARCHITECTURE.md, checked by parsing every module (nothing imported)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: graph/'s assembling modules: they wire the nodes into a graph, so they form a layer of their
#: own ("assembly"), above nodes/. Every other module of graph/ is layer "graph", below nodes/.
ASSEMBLING = frozenset({"builder", "run", "tool", "server"})

#: Layer -> what it may import besides itself: layers, or single modules ("graph.plan").
#: Layers, bottom up: skills, prompts, demo, recipes, graph, nodes, assembly, cli; "phasegraph"
#: is the root ``__init__.py`` (the public API).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "skills": frozenset(),
    "prompts": frozenset({"skills"}),
    "demo": frozenset({"skills"}),
    # The plan model only: graph/ imports recipes/ (diagram.py), so nothing else of graph/.
    "recipes": frozenset({"skills", "graph.plan"}),
    "graph": frozenset({"skills", "prompts", "recipes"}),
    "nodes": frozenset({"skills", "prompts", "recipes", "graph"}),
    "assembly": frozenset({"skills", "prompts", "recipes", "graph", "nodes"}),
    "phasegraph": frozenset({"skills", "prompts", "recipes", "graph", "nodes", "assembly"}),
    "cli": frozenset(
        {"skills", "prompts", "demo", "recipes", "graph", "nodes", "assembly", "phasegraph"}
    ),
}

FOLDERS = ("skills", "prompts", "demo", "recipes", "graph", "nodes", "cli")
SKIPPED = ("demo/sample_repo",)


def layer_of(module: str) -> str:
    """The layer of ``phasegraph.<folder>.<...>`` (``phasegraph`` itself: the root)."""
    parts = module.split(".")[1:]
    if not parts:
        return "phasegraph"
    if parts[0] == "graph" and len(parts) > 1 and parts[1] in ASSEMBLING:
        return "assembly"
    return parts[0]


def allowed(source: str, target: str) -> bool:
    """May module ``source`` import module ``target`` (both ``phasegraph.*``)?"""
    mine, theirs = layer_of(source), layer_of(target)
    if mine == theirs:
        return True
    rules = MAY_IMPORT.get(mine, frozenset())
    relative = target.removeprefix("phasegraph.")
    return theirs in rules or any(
        "." in rule and (relative == rule or relative.startswith(rule + ".")) for rule in rules
    )


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
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if any(rel.is_relative_to(skip) for skip in SKIPPED):
                continue
            parts = rel.with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(("phasegraph", *parts))] = path
    return modules


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
        "rule there and in MAY_IMPORT together):\n  " + "\n  ".join(problems)
    )


def test_every_scanned_module_has_a_rule() -> None:
    layers = {layer_of(name) for name in package_modules()}
    assert layers <= MAY_IMPORT.keys(), f"no layering rule for {sorted(layers - MAY_IMPORT.keys())}"


def test_the_rule_keeps_its_ends() -> None:
    # skills/ is the bottom and cli/ the top: no rule may grow an edge into either.
    assert MAY_IMPORT["skills"] == frozenset()
    assert [layer for layer, rules in MAY_IMPORT.items() if "cli" in rules] == []
    assert [layer for layer, rules in MAY_IMPORT.items() if "assembly" in rules] == [
        "phasegraph",
        "cli",
    ]


def test_the_checker_flags_forbidden_imports() -> None:
    assert violations("phasegraph.skills.x", "from phasegraph.nodes.execute import StepRunner") == [
        "phasegraph.skills.x -> phasegraph.nodes.execute"
    ]
    lazy = "def f() -> None:\n    from phasegraph.graph.builder import build_orchestrator\n"
    assert violations("phasegraph.nodes.x", lazy) == [
        "phasegraph.nodes.x -> phasegraph.graph.builder"
    ]
    assert violations("phasegraph.graph.plan", "from ..cli import main") == [
        "phasegraph.graph.plan -> phasegraph.cli"
    ]
    assert violations("phasegraph.recipes.x", "import phasegraph.graph.preflight") == [
        "phasegraph.recipes.x -> phasegraph.graph.preflight"
    ]
    assert (
        violations(
            "phasegraph.graph.run",
            "from phasegraph.graph import builder, state",
            known=frozenset({"phasegraph.graph.builder", "phasegraph.graph.state"}),
        )
        == []
    )
    assert violations(
        "phasegraph.graph.state",
        "from phasegraph.graph import builder",
        known=frozenset({"phasegraph.graph.builder"}),
    ) == ["phasegraph.graph.state -> phasegraph.graph.builder"]


def test_the_checker_passes_allowed_imports() -> None:
    source = (
        "from phasegraph.graph.plan import Plan\n"
        "from phasegraph.skills.errors import PlanError\n"
        "from . import base\n"
        "import httpx\n"
    )
    assert violations("phasegraph.recipes.x", source) == []
    assert violations("phasegraph.nodes.x", "from phasegraph.graph.state import State") == []
    assert violations("phasegraph.cli.x", "from phasegraph.graph.builder import Orchestrator") == []
