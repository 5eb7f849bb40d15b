"""The gate's promise as a property: no committed tree fails its own full suite.

Each seed makes a random small project: a package ``pkg`` of 3-5 modules that use each
other (imported in several spellings, at the top or inside functions), maybe a registry
the tests are parametrised over (a dict literal, or filled by a decorator: from the
package's ``__init__``, by ``pkgutil`` discovery, or by whatever the session imported),
maybe a data file a module reads by a literal name; and tests that reach each module
directly, through a ``conftest.py`` fixture, a helper module (importing it, or loading it
by a computed name), ``importlib.import_module``, names the package re-exports, and one
``pytest.importorskip``. Each case applies two random breaking edits and one harmless edit
(a comment), each to a fresh git repository through the real graph (the edits as
``edit_block`` or ``write_file``, then ``run_pytest``, with or without ``targeted: true``,
then ``git_checkpoint``). Breaking edits: a changed return value, a deleted function (the
module's own tests updated or not), an import of a missing module (with importorskip: a
skip), an emptied test file, a conftest fixture that raises, a module unregistered, a
registry that discovers nothing, an edited data file, a new test file that changes a
module's state as pytest imports it.

The oracle: the project's whole suite (``python -m pytest -q -p no:cacheprovider -p
no:randomly``) on a clean copy of the committed tree; after a run that committed it must
pass, with at least as many passed tests as before the run. A run that stopped is fine (at
the gate, or by a check that could not run; never by the plan). A harmless edit must
commit, so a gate that blocks everything fails here too.

The seeds were picked (from the first 200) to cover every project feature and every kind
of edit in both modes. Seed 32 with ``targeted: true`` found a hole, now closed: one pytest
session shares module state between test files, so an edit that changes what one test
file's imports do to the others committed a tree whose full suite fails (a module no longer
registering itself in a registry another test file is parametrised over; a new test file
that sets a module's constant at import).

A failure prints, per run, the plan, the selection, the summaries and the full suite's
result, and the project's files; to see a project:
``PYTHONPATH=tests:tests/e2e .venv/bin/python -c 'from test_gate_property import *;
print(describe(project(32)))'``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore
from support.repos import full_suite, require_program

from phasegraph import RunOptions, build_orchestrator, run_plan
from phasegraph.graph.model.plan import parse_plan
from phasegraph.graph.model.report import Report

MakeRepo = Callable[[dict[str, str]], Path]

SEEDS = [6, 13, 19, 23, 32, 72, 93, 178]
NAMES = ["alpha", "beta", "gamma", "delta", "omega"]
PYPROJECT = "[tool.pytest.ini_options]\ntestpaths = ['tests']\n"
MISSING = "not_installed_anywhere"


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


# -- The project: a model, rendered to files -------------------------------------------------

#: How a module imports the modules it uses: ``from pkg import x``, ``from . import x``,
#: ``import pkg.x``, or ``from pkg import x`` inside each function.
IMPORTS = ["abs", "rel", "attr", "local"]
#: How a module's tests reach it: ``from pkg import x``, ``from pkg.x import value``, a
#: ``conftest.py`` fixture, ``importlib.import_module('pkg.x')``, ``pytest.importorskip``
#: (exactly one module), ``tests/helpers.py`` importing it, ``helpers.load('x')`` (a computed
#: ``import_module``), names ``pkg/__init__.py`` re-exports.
TESTED = ["import", "from", "fixture", "importlib", "helpers", "loader", "reexport"]
#: How ``pkg/registry.py``'s ``HANDLERS`` (the tests parametrised over it) is filled: a dict
#: literal of the modules' functions; a decorator, ``pkg/__init__.py`` importing the
#: registering modules; a decorator, the registry importing every module it finds
#: (``pkgutil``); a decorator, and whatever the session imported (the tests of the
#: registering modules, collected before ``tests/test_registry.py``).
REGISTRIES = [None, "literal", "init", "discover", "session"]


@dataclass
class Module:
    name: str
    base: int
    deps: list[str]  # earlier modules it uses
    style: str  # one of IMPORTS
    tested: str  # one of TESTED
    extra: bool = True  # defines extra(), which a dependent's label() calls
    reads_data: bool = False  # value() adds the number in pkg/data.txt
    broken_import: bool = False  # imports a module that is not installed


@dataclass
class Project:
    seed: int
    modules: list[Module]
    registry: str | None  # one of REGISTRIES
    registered: list[str]
    data: int
    fixture_raises: bool = False

    def mod(self, name: str) -> Module:
        return next(m for m in self.modules if m.name == name)

    def value(self, name: str) -> int:
        m = self.mod(name)
        return m.base + sum(self.value(d) for d in m.deps) + (self.data if m.reads_data else 0)

    def tested(self, *styles: str) -> list[Module]:
        return [m for m in self.modules if m.tested in styles]


def project(seed: int) -> Project:
    rng = random.Random(seed)
    names = NAMES[: rng.randint(3, 5)]
    modules: list[Module] = []
    for index, name in enumerate(names):
        earlier = names[:index]
        deps = sorted(rng.sample(earlier, rng.randint(0, min(2, len(earlier)))))
        modules.append(
            Module(name, rng.randint(1, 9), deps, rng.choice(IMPORTS), rng.choice(TESTED))
        )
    rng.choice(modules).tested = "importorskip"
    if rng.random() < 0.7:
        rng.choice(modules).reads_data = True
    registry = rng.choice(REGISTRIES)
    registered = sorted(rng.sample(names, rng.randint(1, len(names)))) if registry else []
    return Project(seed, modules, registry, registered, data=rng.randint(1, 9))


def decorated(p: Project, m: Module) -> bool:
    return p.registry in ("init", "discover", "session") and m.name in p.registered


def render(p: Project) -> dict[str, str]:
    files = {"pyproject.toml": PYPROJECT}
    init = []
    if p.registry == "init" and p.registered:
        init.append(f"from pkg import {', '.join(p.registered)}  # registers the handlers")
    for m in p.tested("reexport"):
        names = ["value", *(["extra"] if m.extra else []), *(["label"] if m.deps else [])]
        init.append(f"from pkg.{m.name} import " + ", ".join(f"{x} as {m.name}_{x}" for x in names))
    files["pkg/__init__.py"] = "".join(f"{line}\n" for line in init)
    for m in p.modules:
        files[f"pkg/{m.name}.py"] = render_module(p, m)
    if any(m.reads_data for m in p.modules):
        files["pkg/data.txt"] = f"{p.data}\n"
    if p.registry == "literal":
        imports = f"from pkg import {', '.join(p.registered)}\n\n" if p.registered else ""
        handlers = ", ".join(f"{n!r}: {n}.value" for n in p.registered)
        files["pkg/registry.py"] = f"{imports}HANDLERS = {{{handlers}}}\n"
    elif p.registry:
        files["pkg/registry.py"] = (
            "from collections.abc import Callable\n\n"
            "HANDLERS: dict[str, Callable[[], int]] = {}\n\n\n"
            "def register(name: str) -> Callable[[Callable[[], int]], Callable[[], int]]:\n"
            "    def add(fn: Callable[[], int]) -> Callable[[], int]:\n"
            "        HANDLERS[name] = fn\n"
            "        return fn\n\n"
            "    return add\n"
        )
        if p.registry == "discover":
            files["pkg/registry.py"] += (
                "\n\ndef _discover() -> None:\n"
                "    import importlib\n    import pkgutil\n\n    import pkg\n\n"
                "    for info in pkgutil.iter_modules(pkg.__path__):\n"
                "        importlib.import_module(f'pkg.{info.name}')\n\n\n"
                "_discover()\n"
            )
    if p.registry:
        expected = {n: p.value(n) for n in p.registered}
        files["tests/test_registry.py"] = (
            "import pytest\n\nfrom pkg.registry import HANDLERS\n\n"
            f"EXPECTED = {expected!r}\n\n\n"
            "@pytest.mark.parametrize('name', sorted(HANDLERS))\n"
            "def test_handler(name):\n"
            "    assert HANDLERS[name]() == EXPECTED[name]\n"
        )
    fixtures = p.tested("fixture")
    if fixtures:
        body = "".join(
            f"\n\n@pytest.fixture\ndef {m.name}_mod():\n"
            + ("    raise RuntimeError('not today')\n" if p.fixture_raises else "")
            + f"    return {m.name}\n"
            for m in fixtures
        )
        imports = ", ".join(m.name for m in fixtures)
        files["tests/conftest.py"] = f"import pytest\n\nfrom pkg import {imports}\n{body}"
    helped, loaded = p.tested("helpers"), p.tested("loader")
    if helped or loaded:
        text = '"""What the tests share."""\n'
        if loaded:
            text += "\nimport importlib\n"
        if helped:
            text += f"\nfrom pkg import {', '.join(m.name for m in helped)}\n"
        if loaded:
            text += "\n\ndef load(name):\n    return importlib.import_module(f'pkg.{name}')\n"
        files["tests/helpers.py"] = text
    for m in p.modules:
        files[f"tests/test_{m.name}.py"] = render_tests(p, m)
    return files


def render_module(p: Project, m: Module) -> str:
    head: list[str] = []
    local: list[str] = []
    if m.broken_import:
        head.append(f"import {MISSING}")
    if m.reads_data:
        head.append("from pathlib import Path")
    if m.deps:
        if m.style == "abs":
            head.append(f"from pkg import {', '.join(m.deps)}")
        elif m.style == "rel":
            head.append(f"from . import {', '.join(m.deps)}")
        elif m.style == "attr":
            head += [f"import pkg.{d}" for d in m.deps]
        else:
            local = [f"    from pkg import {', '.join(m.deps)}\n"]
    if decorated(p, m):
        head.append("from pkg.registry import register")
    ref = "pkg." if m.style == "attr" else ""
    terms = ["BASE", *(f"{ref}{d}.value()" for d in m.deps)]
    if m.reads_data:
        terms.append("int((Path(__file__).parent / 'data.txt').read_text())")
    out = "\n".join(head) + ("\n\n" if head else "")
    out += f"BASE = {m.base}\n\n\n"
    if decorated(p, m):
        out += f"@register({m.name!r})\n"
    out += "def value() -> int:\n" + "".join(local) + f"    return {' + '.join(terms)}\n"
    if m.extra:
        out += f"\n\ndef extra() -> str:\n    return {m.name!r}\n"
    if m.deps:
        dep = m.deps[0]
        out += (
            "\n\ndef label() -> str:\n"
            + "".join(local)
            + f"    return {m.name + ':'!r} + {ref}{dep}.extra()\n"
        )
    return out


def render_tests(p: Project, m: Module) -> str:
    n = m.name
    param = ""
    if m.tested == "import":
        head = f"from pkg import {n}\n"
    elif m.tested == "from":
        names = ["value", *(["extra"] if m.extra else []), *(["label"] if m.deps else [])]
        head = f"from pkg.{n} import " + ", ".join(f"{x} as {n}_{x}" for x in names) + "\n"
    elif m.tested == "reexport":
        names = ["value", *(["extra"] if m.extra else []), *(["label"] if m.deps else [])]
        head = "from pkg import " + ", ".join(f"{n}_{x}" for x in names) + "\n"
    elif m.tested == "fixture":
        head, param = "", f"{n}_mod"
    elif m.tested == "importlib":
        head = f"import importlib\n\n{n} = importlib.import_module('pkg.{n}')\n"
    elif m.tested == "importorskip":
        head = f"import pytest\n\n{n} = pytest.importorskip('pkg.{n}')\n"
    elif m.tested == "helpers":
        head = f"from helpers import {n}\n"
    else:
        head = f"from helpers import load\n\n{n} = load({n!r})\n"

    def call(fn: str) -> str:
        if m.tested in ("from", "reexport"):
            return f"{n}_{fn}()"
        return f"{param or n}.{fn}()"

    tests = [f"def test_{n}_value({param}):\n    assert {call('value')} == {p.value(n)}\n"]
    if m.extra:
        tests.append(f"def test_{n}_extra({param}):\n    assert {call('extra')} == {n!r}\n")
    if m.deps:
        label = f"{n}:{m.deps[0]}"
        tests.append(f"def test_{n}_label({param}):\n    assert {call('label')} == {label!r}\n")
    return head + "\n\n" + "\n\n".join(tests)


def describe(p: Project) -> str:
    """The project as it is rendered, for a failure's message."""
    return "\n".join(f"--- {path}\n{text}" for path, text in sorted(render(p).items()))


# -- Edits: a change to the model, and which of the files it changes the plan writes ---------


@dataclass
class Edit:
    kind: str
    files: dict[str, str]  # path: new content
    harmless: bool = False


def changed(old: Project, new: Project, *only: str) -> dict[str, str]:
    """The files ``new`` renders differently from ``old``: those in ``only`` (a path, or a
    folder ending in ``/``), else all."""
    before, after = render(old), render(new)
    paths = [k for k in after if before.get(k) != after[k]]
    wanted = [k for k in paths if not only or any(k == o or k.startswith(o) for o in only)]
    return {k: after[k] for k in wanted}


def breaking_edits(p: Project, rng: random.Random) -> list[Edit]:
    """One edit of each kind the project allows (each on a random module): most break a
    test; some ("its tests updated") break only what depends on the change."""
    out: list[Edit] = []

    def mutated(change: Callable[[Project], object]) -> Project:
        new = copy.deepcopy(p)
        change(new)
        return new

    def own(m: Module) -> list[str]:
        return [f"pkg/{m.name}.py", f"tests/test_{m.name}.py", "pkg/__init__.py"]

    m = rng.choice(p.modules)
    step = rng.choice([-2, -1, 1, 3])
    bumped = mutated(lambda new: setattr(new.mod(m.name), "base", m.base + step))
    out.append(Edit(f"return value of {m.name}", changed(p, bumped, f"pkg/{m.name}.py")))
    out.append(Edit(f"return value of {m.name}, its tests updated", changed(p, bumped, *own(m))))
    d = rng.choice(p.modules)
    deleted = mutated(lambda new: setattr(new.mod(d.name), "extra", False))
    out.append(Edit(f"delete {d.name}.extra", changed(p, deleted, f"pkg/{d.name}.py")))
    out.append(Edit(f"delete {d.name}.extra, its tests updated", changed(p, deleted, *own(d))))
    b = rng.choice(p.modules)
    broken = mutated(lambda new: setattr(new.mod(b.name), "broken_import", True))
    out.append(Edit(f"{b.name} imports a missing module", changed(p, broken)))
    [s] = p.tested("importorskip")
    broken = mutated(lambda new: setattr(new.mod(s.name), "broken_import", True))
    out.append(Edit(f"{s.name} (importorskip'd) imports a missing module", changed(p, broken)))
    path = f"tests/test_{rng.choice(p.modules).name}.py"
    out.append(Edit(f"empty {path}", {path: ""}))
    # A new test file that passes alone, and changes a module's state as pytest imports it
    # (collection imports every test file before the first test runs).
    x = rng.choice(p.modules)
    polluting = (
        f"import pkg.{x.name}\n\npkg.{x.name}.BASE = {x.base + 10}\n\n\n"
        f"def test_{x.name}_tuned():\n    assert pkg.{x.name}.value() > 10\n"
    )
    out.append(Edit(f"a new test file sets {x.name}.BASE", {"tests/test_tuned.py": polluting}))
    if p.tested("fixture"):
        raising = mutated(lambda new: setattr(new, "fixture_raises", True))
        out.append(Edit("a conftest fixture raises", changed(p, raising)))
    if p.registry:
        gone = rng.choice(p.registered)
        fewer = mutated(lambda new: new.registered.remove(gone))
        out.append(Edit(f"{gone} unregistered ({p.registry})", changed(p, fewer, "pkg/")))
        if p.registry == "discover":
            quiet = {"pkg/registry.py": render(p)["pkg/registry.py"].replace("\n_discover()", "")}
            out.append(Edit("the registry discovers nothing", quiet))
    reader = next((m for m in p.modules if m.reads_data), None)
    if reader:
        step = rng.choice([-1, 2])
        edited = mutated(lambda new: setattr(new, "data", p.data + step))
        out.append(Edit("data file edited", changed(p, edited, "pkg/data.txt")))
        both = changed(p, edited, "pkg/data.txt", f"tests/test_{reader.name}.py")
        out.append(Edit(f"data file edited, {reader.name}'s tests updated", both))
    return out


def harmless_edit(p: Project, rng: random.Random) -> Edit:
    files = render(p)
    path = rng.choice(sorted(k for k in files if k.endswith(".py") and files[k]))
    return Edit(f"a comment in {path}", {path: files[path] + "# reviewed\n"}, harmless=True)


def case_edits(p: Project, rng: random.Random) -> list[Edit]:
    """A test case's edits: two breaking ones, then a harmless one."""
    return [*rng.sample(breaking_edits(p, rng), 2), harmless_edit(p, rng)]


def steps(p: Project, edit: Edit, rng: random.Random) -> list[dict[str, Any]]:
    """The edit as write steps: an ``edit_block`` of the changed lines (with enough context
    to match once), or a ``write_file``."""
    before = render(p)
    out: list[dict[str, Any]] = []
    for index, (path, new) in enumerate(sorted(edit.files.items())):
        old = before.get(path, "")
        block = hunk(old, new) if old and new and rng.random() < 0.7 else None
        if block is None:
            args: dict[str, Any] = {"path": path, "content": new}
            out.append({"id": f"write{index}", "skill": "write_file", "args": args})
        else:
            search, replace = block
            args = {"path": path, "search": search, "replace": replace}
            out.append({"id": f"edit{index}", "skill": "edit_block", "args": args})
    return out


def hunk(old: str, new: str) -> tuple[str, str] | None:
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    lo, hi = start, len(a) - end  # a[lo:hi] becomes b[lo:len(b) - end]
    while True:
        search = "".join(a[lo:hi])
        if search and old.count(search) == 1:
            return search, "".join(b[lo : len(b) - (len(a) - hi)])
        if lo == 0 and hi == len(a):
            return None
        lo, hi = max(lo - 1, 0), min(hi + 1, len(a))


# -- Running and the oracle ------------------------------------------------------------------


@dataclass
class Outcome:
    edit: Edit
    plan: list[dict[str, Any]]
    report: Report
    selection: dict[str, Any] | None
    #: the oracle on the committed tree (or on the tree the stopped run left, when asked)
    oracle: tuple[int, dict[str, int], str] | None

    def explain(self, p: Project, targeted: bool, before: str) -> str:
        r = self.report
        summaries = [f"{s.id}: {s.summary}" for s in [*r.baselines, *r.steps]]
        after = f"{self.oracle[2]} (exit {self.oracle[0]})" if self.oracle else "not run"
        return "\n".join(
            [
                f"seed {p.seed}, targeted={targeted}: {self.edit.kind}",
                f"status {r.status} ({r.failure_kind}: {r.error}), commit {r.commit}",
                f"plan: {json.dumps(self.plan, indent=1)}",
                f"selection: {json.dumps(self.selection, indent=1)}",
                "summaries:\n  " + "\n  ".join(summaries),
                f"new findings: {r.new_findings}",
                f"full suite before: {before}; after: {after}",
            ]
        )


async def apply(
    repo: Path,
    p: Project,
    edit: Edit,
    *,
    targeted: bool,
    rng: random.Random,
    always: bool = False,
) -> Outcome:
    """Run the edit, the check and a commit through the real graph; the oracle on the
    committed tree (``always``: on the working tree of a stopped run too)."""
    check: dict[str, Any] = {"targeted": True} if targeted else {}
    plan = [
        *steps(p, edit, rng),
        {"id": "tests", "skill": "run_pytest", "args": check},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": edit.kind}},
    ]
    store = InMemoryStore()
    built = parse_plan({"goal": edit.kind, "steps": plan})
    report = await run_plan(build_orchestrator(store=store), built, repo, options=RunOptions())
    outputs = [i.value for i in await store.asearch(("phasegraph", "outputs")) if i.key == "tests"]
    selection = outputs[0].get("data", {}).get("selection") if outputs else None
    oracle = None
    if report.commit:
        oracle = await asyncio.to_thread(full_suite, repo)
    elif always:
        oracle = await asyncio.to_thread(full_suite, repo, None)
    return Outcome(edit, plan, report, selection, oracle)


def problem(outcome: Outcome, passed_before: int) -> str | None:
    """What is wrong with a run's outcome, or ``None``."""
    report, oracle = outcome.report, outcome.oracle
    if report.status == "completed":
        if not report.commit or oracle is None:
            return "completed without a commit"
        # The property: the committed tree passes its own full suite, no test lost.
        if oracle[0] != 0 or oracle[1].get("passed", 0) < passed_before:
            return "COMMITTED A TREE THAT FAILS ITS FULL SUITE"
    elif report.failure_kind not in ("gate", "verify") or report.commit:
        # Stopped at the gate, or by a check that could not run: never by the plan.
        return "stopped by something other than a check"
    if outcome.edit.harmless and not report.commit:
        return "a harmless edit was not committed"
    return None


#: The full suite's result on each seed's project before any run (the same files for both
#: modes).
_BEFORE: dict[int, tuple[int, dict[str, int], str]] = {}


@pytest.mark.parametrize("targeted", [False, True], ids=["whole", "targeted"])
@pytest.mark.parametrize("seed", SEEDS)
async def test_no_committed_tree_fails_its_full_suite(
    make_repo: MakeRepo, seed: int, targeted: bool
) -> None:
    p = project(seed)
    files = render(p)
    rng = random.Random(seed * 2 + targeted)
    edits = case_edits(p, rng)
    repos = [make_repo(files) for _ in edits]
    if seed not in _BEFORE:
        _BEFORE[seed] = full_suite(repos[0])
    code, counts, before = _BEFORE[seed]
    assert code == 0 and counts.get("passed", 0) > 0, f"a red project:\n{before}\n{describe(p)}"

    outcomes = await asyncio.gather(
        *(
            apply(repo, p, e, targeted=targeted, rng=random.Random(rng.random()))
            for repo, e in zip(repos, edits, strict=True)
        )
    )

    found = [
        f"{what}: {outcome.explain(p, targeted, before)}"
        for outcome in outcomes
        if (what := problem(outcome, counts["passed"]))
    ]
    assert not found, "\n\n".join([*found, "The project:", describe(p)])
