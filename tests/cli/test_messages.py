"""What the CLI tells a person, as a person reads it: real runs on real git repositories.

The undo a stopped run advises is phasegraph's own, and does what it says; a parametrised
test id keeps its brackets; a log (output that is not a terminal) never shows a check as
passed that the gate then fails; ``--approve`` works on a plan file and shows one unified
diff per file.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.repos import full_suite, git, init_repo, require_program, snapshot

CALC = "def scale(word, n):\n    return word * n\n"
TESTS = """\
import pytest

from calc import scale


@pytest.mark.parametrize("word", ["red", "blue"])
def test_scale(word):
    assert scale(word, 2) == word + word


def test_zero():
    assert scale("x", 0) == ""
"""
BREAK = {  # the parametrised tests fail after it; test_zero still passes
    "id": "upper",
    "skill": "edit_block",
    "args": {
        "path": "calc.py",
        "search": "return word * n",
        "replace": "return (word * n).upper()",
    },
}
LOCAL = {  # an ignored file: git has no copy of it to restore
    "id": "local",
    "skill": "write_file",
    "args": {"path": "local.cfg", "content": "debug = true\n"},
}
STOPPING = {
    "goal": "Shout the scaled word",
    "steps": [
        BREAK,
        LOCAL,
        {"id": "lint", "skill": "run_ruff"},
        {"id": "tests", "skill": "run_pytest"},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Shout"}},
    ],
}


def phasegraph(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The CLI as a person runs it, its output a pipe (not a terminal), as in a CI log."""
    return subprocess.run(
        [sys.executable, "-m", "phasegraph.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def as_typed(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``command`` run by a shell as printed, with the installed ``phasegraph`` on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": path},
    )


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "ruff"):
        require_program(name)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run the gate stops (two parametrised tests fail), read by each test below."""
    root = tmp_path_factory.mktemp("stopped")
    repo = init_repo(
        root / "repo",
        {"calc.py": CALC, "tests/test_calc.py": TESTS, ".gitignore": "local.cfg\n"},
    )
    (repo / "local.cfg").write_text("debug = false\n")
    before = snapshot(repo)
    plan = root / "plan.json"
    plan.write_text(json.dumps(STOPPING))
    out = phasegraph("run", str(plan), "-w", str(repo), "--report", str(root / "r.json"))
    assert out.returncode == 1, out.stdout + out.stderr
    report = json.loads((root / "r.json").read_text())
    return {"repo": repo, "before": before, "out": out.stdout, "report": report}


def test_a_stopped_run_advises_phasegraph_undo_which_restores_everything(
    stopped: dict[str, Any],
) -> None:
    repo: Path = stopped["repo"]
    report = stopped["report"]
    assert report["written"] == ["calc.py", "local.cfg"]
    command = f"phasegraph undo {report['thread']} -w {shlex.quote(str(repo))}"
    assert report["undo"] == [command]
    assert f"to undo: {command}" in stopped["out"]
    assert "git" not in stopped["out"].split("to undo:")[1]

    undone = as_typed(command, repo)

    assert undone.returncode == 0, undone.stdout + undone.stderr
    # The ignored file too, which git could not have put back.
    assert snapshot(repo) == stopped["before"]
    assert git(repo, "status", "--porcelain") == ""
    again = as_typed(command, repo)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to undo" in again.stdout
    assert snapshot(repo) == stopped["before"]


def test_the_stop_summary_keeps_the_parametrised_test_ids(stopped: dict[str, Any]) -> None:
    lines = stopped["out"].splitlines()
    (stop,) = [line for line in lines if line.startswith("stopped at step 'tests'")]
    assert "tests/test_calc.py::test_scale[red]" in stop
    assert "tests/test_calc.py::test_scale[blue]" in stop
    (row,) = [line for line in lines if line.startswith("│ ✗ │ verify")]
    assert "new: tests/test_calc.py::test_scale[red] (+1 more)" in row
    assert stopped["report"]["error"].endswith(
        "tests: tests/test_calc.py::test_scale[red]; tests/test_calc.py::test_scale[blue]"
    )


def test_a_log_shows_a_check_once_judged_never_a_pass_the_gate_then_fails(
    stopped: dict[str, Any],
) -> None:
    lines = stopped["out"].splitlines()
    tests = [line for line in lines if line.split()[1:3] == ["verify", "tests"]]
    lint = [line for line in lines if line.split()[1:3] == ["verify", "lint"]]
    assert [line.split()[0] for line in tests] == ["·", "▶", "✗"], tests
    assert "failed" in tests[-1] and "new: tests/test_calc.py::test_scale[red]" in tests[-1]
    # A check the gate finds nothing new in is shown once it is judged, as passed.
    assert [line.split()[0] for line in lint] == ["·", "▶", "✓"], lint
    # ... before the run moves past the checks.
    commit = [line for line in lines if line.split()[1:3] == ["commit", "commit"]]
    assert lines.index(lint[-1]) < lines.index(commit[-1])


ANIMALS = """\
from pkg.core import alpha, beta, gamma, old_name, zeta

__all__ = [
    "alpha",
    "beta",
    "gamma",
    "old_name",
    "zeta",
]
"""
CORE = "".join(
    f'def {name}():\n    return "{name[0]}"\n\n\n' for name in ["alpha", "beta", "gamma"]
)
CORE += 'def old_name():\n    return "o"\n\n\ndef zeta():\n    return "z"\n'
USES = """\
import pkg


def test_all_is_sorted_and_complete():
    assert pkg.old_name() == "o"
    assert sorted(pkg.__all__) == pkg.__all__
    assert all(callable(getattr(pkg, name)) for name in pkg.__all__)
"""


def test_approve_on_a_plan_file_shows_one_unified_diff_per_file(tmp_path: Path) -> None:
    require_program("rg")
    repo = init_repo(
        tmp_path / "repo",
        {"pkg/__init__.py": ANIMALS, "pkg/core.py": CORE, "tests/test_core.py": USES},
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "goal: Rename old_name to aardvark\n"
        "recipe: {name: rename, args: {old: old_name, new: aardvark, "
        "defined_in: pkg/core.py, verify: [run_pytest]}}\n"
    )

    out = phasegraph(
        "run", str(plan), "-w", str(repo), "--approve", "--report", str(tmp_path / "r.json"),
        stdin="y\n",
    )  # fmt: skip

    assert out.returncode == 0, out.stdout + out.stderr
    shown = out.stdout[out.stdout.index("Approve") : out.stdout.index("Apply these")]
    # The re-sorted __all__ is several edits of the recipe, shown as one diff of the file.
    edits = [line for line in shown.splitlines() if "edit_block  pkg/__init__.py" in line]
    assert len(edits) > 1, shown
    assert shown.count("--- a/pkg/__init__.py") == 1, shown
    assert shown.count("+++ b/pkg/__init__.py") == 1, shown
    diff = shown.split("+++ b/pkg/__init__.py")[1].split("\n\n")[0].splitlines()
    assert [line.strip() for line in diff if line.strip()[:1] in ("+", "-")] == [
        "-from pkg.core import alpha, beta, gamma, old_name, zeta",
        "+from pkg.core import alpha, beta, gamma, aardvark, zeta",
        '+    "aardvark",',
        '-    "old_name",',
    ]
    assert shown.count("--- a/pkg/core.py") == 1 and shown.count("--- a/tests/test_core.py") == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "completed" and report["commit"]
    assert (repo / "pkg/__init__.py").read_text().count('"aardvark"') == 1
    code, counts, last = full_suite(repo)
    assert code == 0 and counts.get("passed") == 1, last


def test_approve_is_offered_for_every_plan_not_only_the_model_s() -> None:
    out = phasegraph("run", "--help")
    assert out.returncode == 0, out.stderr
    general, _, llm = out.stdout.partition("LLM planner:")
    assert "--approve " in general and "--approve" not in llm
    assert "plan file" in " ".join(general.split("--approve ")[1].split()[:40])
