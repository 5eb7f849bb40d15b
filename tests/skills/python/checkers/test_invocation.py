"""Checks as the project runs them: with no paths, run_mypy and run_ruff take the paths the
project's own setup states (mypy's `files`, its pre-commit hooks, tox environments, nox
sessions), say which, and fall back to `.`; real mypy and ruff on real git repositories."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.repos import git, require_program, run_collecting, snapshot

from phasegraph.skills.base import SkillContext
from phasegraph.skills.python.checkers.invocation import mypy_invocation, ruff_invocation
from phasegraph.skills.run_mypy import RunMypyArgs, run_mypy
from phasegraph.skills.run_ruff import RunRuffArgs, run_ruff

MakeRepo = Callable[[dict[str, str]], Path]
CLEAN = "def f(x: int) -> int:\n    return x\n"
RETURNS_INT = "def f(x: int) -> str:\n    return x\n"
UNUSED = "import os\n"
CHECKED_SRC = '[tool.mypy]\nfiles = ["src"]\n'
#: A project that checks src/ only: its scripts/ folder has a type error nobody checks.
SRC_ONLY = {
    "pyproject.toml": CHECKED_SRC,
    "src/pkg/__init__.py": "",
    "src/pkg/mod.py": CLEAN,
    "scripts/__init__.py": "",
    "scripts/tool.py": RETURNS_INT,
}


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "mypy", "ruff"):
        require_program(name)


def paths_of(findings: list[str]) -> set[str]:
    return {f.split("::")[0] for f in findings}


async def mypy(repo: Path) -> Any:
    return await run_mypy(RunMypyArgs(), SkillContext(workspace=repo))


async def ruff(repo: Path) -> Any:
    return await run_ruff(RunRuffArgs(), SkillContext(workspace=repo))


async def test_mypy_files_setting_is_used_and_named(make_repo: MakeRepo) -> None:
    repo = make_repo(SRC_ONLY)

    result = await mypy(repo)

    assert result.ok, result.findings
    assert result.summary == "mypy (paths from [tool.mypy] files): no errors"
    assert result.data["invocation"]["described"] == "paths from [tool.mypy] files"
    # mypy ran with no path arguments: its own setting chose the files.
    assert result.data["argv"][-1] == "--no-color-output"


@pytest.mark.parametrize(
    ("name", "text", "label"),
    [
        ("mypy.ini", "[mypy]\nfiles = src\n", "mypy.ini [mypy] files"),
        ("setup.cfg", "[mypy]\nfiles = src\n", "setup.cfg [mypy] files"),
    ],
)
def test_mypy_files_in_ini_files_are_named_too(
    make_repo: MakeRepo, name: str, text: str, label: str
) -> None:
    repo = make_repo({name: text, "src/a.py": CLEAN})
    invocation = mypy_invocation(repo)
    assert (invocation.kind, invocation.paths, invocation.describe()) == (
        "config",
        (),
        f"paths from {label}",
    )


def plan(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"goal": "Change the code", "steps": list(steps)}


MYPY = {"id": "mypy", "skill": "run_mypy", "args": {}}
COMMIT = {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Change the code"}}


async def test_a_run_is_green_on_a_type_error_the_project_does_not_check_and_blocked_in_src(
    make_repo: MakeRepo,
) -> None:
    # The unchecked folder: a new type error there is not a finding of the project's mypy.
    repo = make_repo(SRC_ONLY)
    script = {
        "id": "script",
        "skill": "write_file",
        "args": {"path": "scripts/other.py", "content": RETURNS_INT.replace("f(", "g(")},
    }
    report, _ = await run_collecting(plan(script, MYPY, COMMIT), repo)
    assert report.status == "completed", report.error
    row = next(s for s in report.steps if s.id == "mypy")
    assert row.summary == "mypy (paths from [tool.mypy] files): no errors"
    assert git(repo, "log", "--format=%s").splitlines() == ["Change the code", "initial"]

    # The checked folder: the same error in src/ blocks, named with the invocation.
    repo = make_repo(SRC_ONLY)
    before = snapshot(repo)
    src = {
        "id": "src",
        "skill": "write_file",
        "args": {"path": "src/pkg/mod.py", "content": RETURNS_INT},
    }
    report, _ = await run_collecting(plan(src, MYPY, COMMIT), repo)
    assert report.status == "stopped"
    assert paths_of([f.finding for f in report.new_findings["mypy"]]) == {"src/pkg/mod.py"}
    row = next(s for s in report.steps if s.id == "mypy")
    assert "mypy (paths from [tool.mypy] files): 1 error in 1 file" in row.summary
    assert git(repo, "log", "--format=%s").splitlines() == ["initial"]
    assert snapshot(repo) != before  # stopped at the gate, the write left for undo


PRECOMMIT = """\
repos:
  - repo: https://github.com/pre-commit/mirrors-mypy
    rev: v1.11.0
    hooks:
      - id: mypy
        args: [--ignore-missing-imports, --junit-xml, report.xml]
        exclude: ^(tests|scripts)/
  - repo: https://github.com/astral-sh/ruff-pre-commit
    rev: v0.6.0
    hooks:
      - id: ruff
        args: [--fix, --output-file, ruff.json]
        files: ^src/
      - id: ruff-format
"""


async def test_pre_commit_hooks_give_the_files_their_filters_pass(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            ".pre-commit-config.yaml": PRECOMMIT,
            "src/pkg/__init__.py": "",
            "src/pkg/mod.py": CLEAN,
            "tests/test_mod.py": RETURNS_INT + UNUSED,
            "scripts/tool.py": RETURNS_INT + UNUSED,
            "setup.py": UNUSED,
        }
    )
    before = snapshot(repo)

    typed, linted = await mypy(repo), await ruff(repo)

    # mypy: every Python file but tests/ and scripts/ (setup.py included, clean of types).
    assert typed.ok, typed.findings
    assert typed.summary == "mypy (paths from .pre-commit-config.yaml hook mypy): no errors"
    assert sorted(typed.data["invocation"]["paths"]) == [
        "setup.py",
        "src/pkg/__init__.py",
        "src/pkg/mod.py",
    ]
    # ruff checks src/ only, so the unused imports elsewhere are not the project's findings.
    assert linted.ok, linted.findings
    assert linted.summary == "ruff (paths from .pre-commit-config.yaml hook ruff): no problems"
    # The hooks' options are not taken: nothing was written (no report, no fix).
    assert snapshot(repo) == before
    # Without the config both tools see everything.
    (repo / ".pre-commit-config.yaml").unlink()
    assert paths_of((await mypy(repo)).findings) == {"scripts/tool.py", "tests/test_mod.py"}
    assert paths_of((await ruff(repo)).findings) == {
        "scripts/tool.py",
        "setup.py",
        "tests/test_mod.py",
    }


async def test_a_new_file_the_hook_passes_is_checked(make_repo: MakeRepo) -> None:
    # pre-commit passes untracked files too: a module the run creates is checked after it.
    repo = make_repo({".pre-commit-config.yaml": PRECOMMIT, "src/pkg/mod.py": CLEAN})
    (repo / "src/pkg/new.py").write_text(UNUSED)
    result = await ruff(repo)
    assert paths_of(result.findings) == {"src/pkg/new.py"}


TOX = """\
[tox]
envlist = py, type

[testenv]
commands = pytest {posargs}

[testenv:type]
commands =
    mypy {posargs:src}

[testenv:lint]
commands = ruff check {toxinidir}/src
"""


async def test_tox_environments_give_the_paths(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "tox.ini": TOX,
            "src/mod.py": CLEAN,
            "scripts/tool.py": RETURNS_INT + UNUSED,
        }
    )
    typed, linted = await mypy(repo), await ruff(repo)
    assert typed.ok and linted.ok, typed.findings + linted.findings
    assert typed.summary == "mypy (paths from tox.ini [testenv:type]): no errors"
    assert linted.summary == "ruff (paths from tox.ini [testenv:lint]): no problems"
    assert typed.data["invocation"]["paths"] == linted.data["invocation"]["paths"] == ["src"]


NOXFILE = """\
import nox


@nox.session
def lint(session):
    session.install("ruff", "mypy")
    session.run("ruff", "check", "src", *session.posargs)
    session.run("python", "-m", "mypy", "--strict", "src", "typings")


@nox.session
def modules(session):
    session.run("mypy", "-p", "scripts")  # modules, not paths: no statement of paths
"""


async def test_nox_sessions_give_the_paths_and_the_file_is_never_run(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(
        {
            "noxfile.py": NOXFILE + "\nopen('ran', 'w')\n",
            "src/mod.py": CLEAN,
            "typings/stub.pyi": "def g() -> int: ...\n",
            "scripts/tool.py": RETURNS_INT + UNUSED,
        }
    )
    typed, linted = await mypy(repo), await ruff(repo)
    assert typed.ok and linted.ok, typed.findings + linted.findings
    assert typed.summary == "mypy (paths from noxfile.py session lint): no errors"
    assert typed.data["invocation"]["paths"] == ["src", "typings"]
    assert linted.summary == "ruff (paths from noxfile.py session lint): no problems"
    assert not (repo / "ran").exists()


async def test_pre_commit_comes_before_tox_and_mypy_files_before_both(
    make_repo: MakeRepo,
) -> None:
    hook = (
        "repos:\n- repo: local\n  hooks:\n  - id: types\n    name: types\n"
        "    entry: uv run mypy scripts\n    language: system\n    pass_filenames: false\n"
    )
    repo = make_repo(
        {
            ".pre-commit-config.yaml": hook,
            "tox.ini": TOX,
            "src/mod.py": CLEAN,
            "scripts/tool.py": CLEAN,
        }
    )
    invocation = mypy_invocation(repo)
    assert (invocation.kind, invocation.paths) == ("pre-commit", ("scripts",))
    assert invocation.describe() == "paths from .pre-commit-config.yaml hook types"
    (repo / "pyproject.toml").write_text(CHECKED_SRC)
    assert mypy_invocation(repo).describe() == "paths from [tool.mypy] files"


async def test_with_nothing_stated_the_default_is_dot_and_the_data_says_so(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"src/mod.py": CLEAN, "scripts/tool.py": RETURNS_INT + UNUSED})
    typed, linted = await mypy(repo), await ruff(repo)
    assert paths_of(typed.findings) == paths_of(linted.findings) == {"scripts/tool.py"}
    assert typed.summary.startswith("mypy: 1 error in 1 file")
    assert typed.data["invocation"]["described"] == "default: ."
    assert linted.data["invocation"]["described"] == "default: ."
    assert (mypy_invocation(repo).paths, ruff_invocation(repo).paths) == ((".",), ())


async def test_paths_a_plan_gives_win_over_the_projects(make_repo: MakeRepo) -> None:
    repo = make_repo(SRC_ONLY)
    result = await run_mypy(RunMypyArgs(paths=["scripts"]), SkillContext(workspace=repo))
    assert paths_of(result.findings) == {"scripts/tool.py"}
    assert result.summary.startswith("mypy: 1 error")
    assert "invocation" not in result.data


def test_stated_paths_outside_the_workspace_or_missing_are_left_out(make_repo: MakeRepo) -> None:
    tox = "[testenv:lint]\ncommands = ruff check ../outside /etc gone src\n"
    repo = make_repo({"tox.ini": tox, "src/mod.py": CLEAN})
    assert ruff_invocation(repo).paths == ("src",)
