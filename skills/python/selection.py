"""Targeted tests: the test files a run's writes can reach, or the whole suite and why.

A test file is selected when it reaches a written file through the project's import graph
(:mod:`phasegraph.skills.python.imports.graph`, which says what loads what: imports, packages and
conftest files, dotted and file-name strings, and a widening where it cannot see). A doctest
text file pytest collects (``test*.txt``, or the ``--doctest-glob`` patterns of ``addopts``)
is selected: its examples may import anything.

One pytest session shares module state across test files, so a module the run changes
without writing it counts as written: one that a written file changes when imported
(:meth:`~phasegraph.skills.python.imports.graph.ImportGraph.changes`: a registering decorator or
call, an assignment to another module's attribute or item; in a test file or conftest.py, such
an assignment in a function too), as it is at the moment of selection (before the writes at the
baseline, after them for the check; one not yet written changes nothing). So does one that
a file reaching a written file (or such a module) changes, or such a module itself: its
registrations and the values it sets may depend on the change. A test file reaching such a
module is selected, the why naming who changes it (``imports pkg.registry, which pkg/beta.py
(written) changes when imported (@register('beta') at line 7)``).

With ``--doctest-modules`` in ``addopts``, every Python file pytest would collect (within
the paths, else testpaths) counts as a test file, so the written modules' own doctests run,
and those of the modules that reach them. A test file the run writes is always selected.

A test that runs the package without importing it by name is selected for any write: a test
file, a ``conftest.py`` or a helper in the tests' folders that reads files at run time
(``Path("docs").glob("*.md")``, ``open(path)``), runs code from text (``doctest.testfile``,
``exec``), documentation examples (pytest-examples, mktestdocs, Sybil) or a command built at
run time (:mod:`phasegraph.skills.python.imports.runtime_reads`), reaches every written file
(``reads files at run time (docs/*.md) (written: pkg/calc.py)``); so does a doctest text
file pytest collects.

When every test file is selected, the plain suite runs (no list of files: it costs no more),
and :attr:`Selection.fallback` says so (:data:`EVERY_FILE`).

The whole suite runs instead, the reason in :attr:`Selection.fallback`, when the selection
could miss a test:

- the run writes pytest's configuration (in any folder), a ``conftest.py`` (its hooks act
  on the tests of every folder), or a file that is not Python (any test may read it, under
  a name no source spells: a glob, a folder copied whole, a name built at run time; the
  reason names the tests seen to read files at run time);
- pytest's configuration cannot be read, or loads a plugin (``-p NAME`` in ``addopts``, a
  ``pytest11`` entry point of the project);
- a ``conftest.py`` that reaches a write (or a module the run changes) defines pytest hooks
  (or ``pytest_plugins``), and not every test file is under it;
- a written Python file that is not a test file is imported by no test file the run does
  not write, directly or through the project's modules, packages, conftest files, dotted
  names and lazy packages, the widening aside (another written file counts as importing
  it, its imports not being read): the graph may not see its importers;
- the selected files would make pytest read a configuration the whole suite does not (it
  looks for one from their common folder up).

Nothing selected: the whole suite too. Never zero tests.

pytest's configuration (testpaths, python_files, addopts, and the file it comes from) is
read by :func:`phasegraph.skills.python.pytest_config.pytest_config`.

The selection depends on the files the run does not write, on the list of written files
(which count as present even before they exist), and on what the written files change when
imported as they are at the moment of selection. The baseline, taken before any write, and
the after-run check may then select different tests (a registration the run removes is seen
only before it, a new test file's only after): the check is to run the baseline's selection
too, so the two stay comparable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from phasegraph.skills.python.imports.graph import Hop, ImportGraph, breadth_first, under_any
from phasegraph.skills.python.imports.layout import Layout, project_layout
from phasegraph.skills.python.imports.scan import parse_all
from phasegraph.skills.python.pytest_config import (
    CONFIG_FILES,
    CONFIG_ORDER,
    PytestConfig,
    pytest_config,
    read_config_file,
)
from phasegraph.skills.python.pytest_files import (
    is_doctest_module,
    is_doctest_text,
    is_test_file,
    project_files,
    test_side,
)
from phasegraph.skills.python.reach import Change, reaching_writes, why_reached

#: Why a targeted run ran the whole suite when no test reaches what the run writes.
WHOLE_SUITE = "nothing selected: whole suite"
#: Why a targeted run ran as the plain suite (no list of files): every test file is selected.
EVERY_FILE = "every test file is reached — ran as the plain suite"


@dataclass(frozen=True)
class Selection:
    """What a targeted run_pytest runs, and why."""

    #: The pytest paths to run (test files, or node ids given in ``paths``); empty: the
    #: paths as given (the whole suite), as ``fallback`` says.
    files: tuple[str, ...]
    #: For each selected file, the chain that reaches a written file.
    why: dict[str, str] = field(default_factory=dict)
    #: Why the whole suite runs instead (``None`` when ``files`` holds the selection).
    fallback: str | None = None
    #: How many test files were considered (those within the given paths or testpaths).
    considered: int = 0
    #: The written files the selection was made for.
    written: tuple[str, ...] = ()
    #: The test files considered and not selected (none when the whole suite runs).
    left_out: tuple[str, ...] = ()

    def as_data(self) -> dict[str, Any]:
        """All of it, never cut: every selected file with why, every file left out."""
        return {
            "files": list(self.files),
            "why": dict(self.why),
            "fallback": self.fallback,
            "considered": self.considered,
            "written": list(self.written),
            "left_out": len(self.left_out),
            "left_out_files": list(self.left_out),
        }


def select_tests(
    workspace: Path,
    written: Sequence[str],
    *,
    paths: Sequence[str] = (),
    cache: Path | None = None,
) -> Selection:
    """The test files (within ``paths``, else testpaths, else the workspace) that can reach
    one of ``written`` (workspace-relative), with why; or the whole suite and why not. See
    the module's docstring."""
    written = tuple(dict.fromkeys(PurePosixPath(w).as_posix() for w in written))
    config = pytest_config(workspace)
    files = project_files(workspace)
    known = {f for f in files if f.endswith(".py")} | {w for w in written if w.endswith(".py")}
    scope = [p.split("::", 1)[0].rstrip("/") for p in paths] or list(config.testpaths)
    in_scope = sorted(f for f in set(files) | set(written) if not scope or under_any(f, scope))
    texts = [f for f in in_scope if not f.endswith(".py") and is_doctest_text(f, config)]
    tests = [f for f in in_scope if f in known and is_test_file(f, config.python_files)]
    if config.doctest_modules:
        tests = [f for f in in_scope if f in known and is_doctest_module(f)]
    candidates = sorted({*tests, *texts})

    def whole(reason: str, why: dict[str, str] | None = None) -> Selection:
        return Selection((), why or {}, reason, len(candidates), written)

    layout = project_layout(workspace, known)
    early = _early_fallback(written, config, layout)
    if early:
        return whole(early)
    # The written files as they are now (before the writes at the baseline, after them for
    # the check), for what they change when imported; the graph reads only the others.
    present = {w for w in written if w.endswith(".py") and _on_disk(workspace / w)}
    parsed = parse_all(workspace, sorted((known - set(written)) | present), cache)
    own = {w: parsed.pop(w) for w in written if w in parsed}
    for text in texts:
        parsed[text] = {"reads": ["a doctest text file: runs its examples"]}
    side = test_side(known, candidates)
    graph = ImportGraph(known | set(texts), set(candidates), parsed, layout, side)
    data = [w for w in written if not w.endswith(".py")]
    if data:
        return whole(_data_fallback(graph, data, candidates))

    def everywhere(rel: str) -> bool:
        name = PurePosixPath(rel).name
        return name == "conftest.py" or is_test_file(rel, config.python_files)

    hops, changed = reaching_writes(graph, written, own, everywhere)
    why: dict[str, str] = {}
    for test in candidates:
        if test in written:
            why[test] = "written by the run"
        elif parsed.get(test, {}).get("error"):
            why[test] = f"could not be parsed ({parsed[test]['error']}): selected to be safe"
        elif test in hops or test in changed:
            why[test] = why_reached(test, hops, changed)
    chosen = _as_paths(paths, why)
    if not chosen:
        return whole(WHOLE_SUITE)
    late = (
        _hooks_fallback(graph, hops, changed, candidates)
        or _unimported(graph, written, candidates, config)
        or _nested_config(workspace, chosen, paths, config)
    )
    if late:
        return whole(late)
    left_out = tuple(t for t in candidates if t not in why)
    if not left_out:
        return whole(EVERY_FILE, why)  # the plain suite: no longer a command, no dearer
    return Selection(tuple(chosen), why, None, len(candidates), written, left_out)


def _on_disk(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _early_fallback(written: Sequence[str], config: PytestConfig, layout: Layout) -> str | None:
    """Why the whole suite runs whatever the graph says, or ``None``."""
    configs = [w for w in written if PurePosixPath(w).name in CONFIG_FILES]
    if configs:
        return f"the run writes pytest's configuration ({_listed(configs)}): whole suite"
    if config.problem:
        return f"pytest's configuration cannot be read ({config.problem}): whole suite"
    if config.outside:
        return (
            f"pytest takes its configuration from {config.outside}, above the workspace, "
            "which has none of its own: whole suite"
        )
    if config.plugins:
        found = ", ".join(config.plugins)
        return f"addopts in {config.source} loads the plugin {found} (-p): whole suite"
    if layout.pytest11:
        entry = _listed(layout.pytest11)
        return f"the project registers a pytest plugin ({entry}, pytest11): whole suite"
    conftests = [w for w in written if PurePosixPath(w).name == "conftest.py"]
    if conftests:
        return (
            f"the run writes {_listed(conftests)} (a conftest.py's hooks can act on tests in "
            "any folder): whole suite"
        )
    return None


def _data_fallback(graph: ImportGraph, data: Sequence[str], candidates: Sequence[str]) -> str:
    """Why the whole suite runs when the run writes files that are not Python (any test may
    read one, under a name no source spells), naming the tests seen to read files at run
    time or name one of them."""
    hops = graph.reaching(data)
    seen = [f"{t} {why_reached(t, hops, {})}" for t in candidates if t in hops]
    also = f"; {_listed(seen)}" if seen else ""
    return f"the run writes {_listed(data)}, not Python (any test may read it{also}): whole suite"


def _hooks_fallback(
    graph: ImportGraph,
    hops: dict[str, Hop],
    changed: dict[str, Change],
    candidates: Sequence[str],
) -> str | None:
    """A conftest.py that reaches a written file (or a module the run changes) and defines
    pytest hooks (these act on the tests of every folder) with a test outside its folder: why
    the whole suite runs."""
    for rel in sorted(hops):
        hooks = graph.parsed.get(rel, {}).get("hooks", [])
        if PurePosixPath(rel).name != "conftest.py" or not hooks:
            continue
        folder = PurePosixPath(rel).parent.as_posix()
        if all(under_any(t, [folder]) for t in candidates):
            continue  # every test is under it: all of them reach the write through it
        reached = why_reached(rel, hops, changed)
        return f"{rel} defines {hooks[0]}, and {reached}: whole suite"
    return None


def _unimported(
    graph: ImportGraph, written: Sequence[str], candidates: Sequence[str], config: PytestConfig
) -> str | None:
    """A written Python file, not a test file, that no test file the run does not write
    reaches through the graph's definite edges (another written file counting as importing
    it: its new content is not read): the graph may not see its importers."""
    own = [w for w in written if not is_test_file(w, config.python_files)]
    if not own:
        return None
    into = graph.into(written, definite=True)
    for target in own:
        into.setdefault(target, []).extend((w, "") for w in own if w != target)
    tests = {t for t in candidates if t not in written}
    missing = [w for w in own if not tests & set(breadth_first(into, [w]))]
    if not missing:
        return None
    return f"no test file the run does not write imports {_listed(missing)}: whole suite"


def _nested_config(
    workspace: Path, chosen: Sequence[str], paths: Sequence[str], config: PytestConfig
) -> str | None:
    """A configuration pytest would read for the selected files (it looks from their
    common folder up) that the whole suite's run does not."""
    start = _common_folder(p.split("::", 1)[0] for p in chosen)
    given = [p.split("::", 1)[0].rstrip("/") for p in paths]
    stop = _common_folder(given, files=False) if given else ()
    folder = start
    while len(folder) > len(stop) and folder[: len(stop)] == stop:
        for name in CONFIG_ORDER:
            rel = "/".join([*folder, name])
            path = workspace / rel
            if not os.path.lexists(path):
                continue
            options, problem = read_config_file(path)
            if problem or options is not None or (name == "pyproject.toml" and not config.source):
                return f"pytest would read {rel} for the selected files: whole suite"
        folder = folder[:-1]
    return None


def _common_folder(rels: Iterable[str], *, files: bool = True) -> tuple[str, ...]:
    common: tuple[str, ...] | None = None
    for rel in rels:
        parts = tuple(p for p in PurePosixPath(rel).parts if p != ".")
        folder = parts[:-1] if files or rel.endswith(".py") else parts
        if common is None:
            common = folder
        else:
            size = 0
            while size < min(len(common), len(folder)) and common[size] == folder[size]:
                size += 1
            common = common[:size]
    return common or ()


def _listed(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def _as_paths(paths: Sequence[str], why: dict[str, str]) -> list[str]:
    """The selected files as pytest paths: a node id given in ``paths`` stays a node id."""
    exact = [p for p in paths if "::" in p or p.endswith(".py")]
    out = [p for p in exact if p.split("::", 1)[0] in why]
    files = {p.split("::", 1)[0] for p in exact}
    out += [f for f in why if f not in files]
    return sorted(dict.fromkeys(out))
