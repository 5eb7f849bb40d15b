"""run_mypy on real repos: type errors as stable findings, no cache left behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.repos import require_program, snapshot

from phasegraph.skills.base import SkillContext, SkillKind
from phasegraph.skills.run_mypy import SKILL, RunMypyArgs, run_mypy

MakeRepo = Callable[[dict[str, str]], Path]
RETURNS_INT = "def f(x: int) -> str:\n    return x\n"
RETURN_KEY = 'pkg/mod.py::return-value::Incompatible return value type (got "int", expected "str")'


@pytest.fixture(autouse=True)
def _mypy_installed() -> None:
    require_program("mypy")


def test_skill_is_a_verify_skill_needing_mypy() -> None:
    assert SKILL.kind is SkillKind.VERIFY
    assert SKILL.programs == ("mypy",)
    assert SKILL.path_fields() == ["paths"]


async def test_type_error_is_a_stable_finding_and_the_workspace_is_untouched(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"pkg/__init__.py": "", "pkg/mod.py": RETURNS_INT})
    before = snapshot(repo)

    result = await run_mypy(RunMypyArgs(), SkillContext(workspace=repo))

    assert not result.ok
    assert result.findings == [RETURN_KEY]
    [message] = result.data["messages"]
    assert (message["path"], message["line"], message["code"]) == ("pkg/mod.py", 2, "return-value")
    assert result.summary.startswith("mypy: 1 error in 1 file")
    assert snapshot(repo) == before
    assert not (repo / ".mypy_cache").exists()
    # Its cache is phasegraph's (ignored by git): the next run starts warm.
    assert list((repo / ".phasegraph" / "cache").glob("mypy-*/CACHEDIR.TAG"))


async def test_clean_code_is_ok(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/mod.py": "def f(x: int) -> int:\n    return x\n"})

    result = await run_mypy(RunMypyArgs(paths=["pkg"]), SkillContext(workspace=repo))

    assert result.ok
    assert result.findings == []
    assert result.summary == "mypy: no errors"


async def test_strict_adds_strict_checks(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/mod.py": "def f(x):\n    return x\n"})
    ctx = SkillContext(workspace=repo)

    lenient = await run_mypy(RunMypyArgs(), ctx)
    strict = await run_mypy(RunMypyArgs(strict=True), ctx)

    assert lenient.ok
    assert not strict.ok
    assert [f.split("::")[:2] for f in strict.findings] == [["pkg/mod.py", "no-untyped-def"]]


async def test_syntax_error_is_a_finding_not_a_crash(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/mod.py": "x = (\n"})

    result = await run_mypy(RunMypyArgs(), SkillContext(workspace=repo))

    assert not result.ok
    assert [f.split("::")[:2] for f in result.findings] == [["pkg/mod.py", "syntax"]]


async def test_a_path_that_looks_like_an_option_is_a_path(make_repo: MakeRepo) -> None:
    # Were "--version" read as an option, mypy would print its version and pass.
    repo = make_repo({"--version/mod.py": RETURNS_INT})

    result = await run_mypy(RunMypyArgs(paths=["--version"]), SkillContext(workspace=repo))

    assert not result.ok
    assert [f.split("::")[:2] for f in result.findings] == [["--version/mod.py", "return-value"]]


async def test_no_python_files_is_ok(make_repo: MakeRepo) -> None:
    repo = make_repo({"README.md": "hello\n"})

    result = await run_mypy(RunMypyArgs(), SkillContext(workspace=repo))

    assert result.ok
    assert result.summary == "mypy: no Python files to check"


async def test_missing_path_is_a_finding(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/mod.py": "X = 1\n"})

    result = await run_mypy(RunMypyArgs(paths=["pkg/new.py"]), SkillContext(workspace=repo))

    assert not result.ok
    assert result.findings == ["pkg/new.py::not-found::path does not exist"]


async def test_no_paths_checks_what_the_project_configures(make_repo: MakeRepo) -> None:
    # A project that type-checks src/ only: its docs' snippets and scripts are not checked.
    repo = make_repo(
        {
            "pyproject.toml": '[tool.mypy]\nfiles = ["src"]\n',
            "src/pkg/__init__.py": "",
            "src/pkg/mod.py": RETURNS_INT,
            "docs/example.py": "x: int = 'not checked'\n",
        }
    )

    result = await run_mypy(RunMypyArgs(), SkillContext(workspace=repo))

    assert [f.split("::")[:2] for f in result.findings] == [["src/pkg/mod.py", "return-value"]]
    everything = await run_mypy(RunMypyArgs(paths=["."]), SkillContext(workspace=repo))
    assert "docs/example.py" in {f.split("::")[0] for f in everything.findings}


async def test_a_new_finding_carries_its_line(make_repo: MakeRepo) -> None:
    repo = make_repo({"pkg/__init__.py": "", "pkg/mod.py": RETURNS_INT})

    result = await run_mypy(RunMypyArgs(), SkillContext(workspace=repo))

    assert result.details[RETURN_KEY] == (
        'pkg/mod.py:2: error: Incompatible return value type (got "int", expected "str")'
        "  [return-value]"
    )
