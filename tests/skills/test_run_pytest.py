"""run_pytest on real repos: failing node ids as findings, no caches or bytecode left."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from testkit import snapshot

from phasegraph.skills.base import SkillContext, SkillKind
from phasegraph.skills.run_pytest import SKILL, RunPytestArgs, run_pytest

MakeRepo = Callable[[dict[str, str]], Path]

TESTS = """\
import pytest
from helper import double


def test_ok():
    assert double(2) == 4


def test_bad():
    assert double(2) == 5


@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n == 1


class TestGroup:
    def test_method(self):
        raise RuntimeError("boom")


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""

FAILING = [
    "tests/test_calc.py::test_bad",
    "tests/test_calc.py::test_param[2]",
    "tests/test_calc.py::TestGroup::test_method",
]


def fast(repo: Path, timeout: float = 300.0) -> SkillContext:
    """A context whose pytest skips third-party plugin autoloading (a second saved per run)."""
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return SkillContext(workspace=repo, env=env, timeout=timeout)


@pytest.fixture
def calc_repo(make_repo: MakeRepo) -> Path:
    return make_repo(
        {
            "helper.py": "def double(x):\n    return 2 * x\n",
            "tests/test_calc.py": TESTS,
            "tests/conftest.py": "import sys, os\nsys.path.insert(0, os.getcwd())\n",
        }
    )


def test_skill_is_a_verify_skill() -> None:
    assert SKILL.kind is SkillKind.VERIFY
    assert SKILL.path_fields() == ["paths"]


async def test_failing_tests_are_findings_by_node_id_and_the_workspace_is_untouched(
    calc_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python would write helper's bytecode into the workspace unless the skill stops it.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    before = snapshot(calc_repo)

    # The user's full plugin set here: the real environment a run sees.
    result = await run_pytest(RunPytestArgs(), SkillContext(workspace=calc_repo))

    assert not result.ok
    assert sorted(result.findings) == sorted(FAILING)
    counts = result.data["counts"]
    assert (counts["passed"], counts["failed"], counts["skipped"]) == (2, 3, 1)
    assert result.summary.startswith("pytest: 3 failed, 2 passed, 1 skipped; first failing: ")
    bad = next(f for f in result.data["failures"] if f["nodeid"] == FAILING[0])
    assert "assert 4 == 5" in bad["message"]
    assert snapshot(calc_repo) == before
    leftovers = [p for p in calc_repo.rglob("*") if p.name in {"__pycache__", ".pytest_cache"}]
    assert leftovers == []


async def test_passing_tests_are_ok(calc_repo: Path) -> None:
    result = await run_pytest(RunPytestArgs(paths=["tests/test_calc.py::test_ok"]), fast(calc_repo))

    assert result.ok
    assert result.findings == []
    assert result.summary == "pytest: 1 passed"


async def test_extra_args_reach_pytest(calc_repo: Path) -> None:
    result = await run_pytest(RunPytestArgs(args=["-k", "param"]), fast(calc_repo))

    assert result.findings == ["tests/test_calc.py::test_param[2]"]
    assert result.data["counts"]["passed"] == 1


async def test_collection_error_is_a_finding_named_by_file(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "tests/test_fine.py": "def test_fine():\n    pass\n",
            "tests/test_broken.py": "import not_a_module\n",
        }
    )

    result = await run_pytest(RunPytestArgs(paths=["tests"]), fast(repo))

    assert not result.ok
    assert result.findings == ["tests/test_broken.py"]
    assert "not_a_module" in result.data["failures"][0]["message"]


async def test_broken_conftest_is_a_finding_not_a_crash(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "tests/conftest.py": "import not_a_module\n",
            "tests/test_a.py": "def test_a():\n    pass\n",
        }
    )

    result = await run_pytest(RunPytestArgs(paths=["tests"]), fast(repo))

    assert not result.ok
    assert result.findings == ["tests/conftest.py"]


async def test_no_tests_collected_is_ok(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": "X = 1\n"})

    result = await run_pytest(RunPytestArgs(), fast(repo))

    assert result.ok
    assert result.summary == "pytest: no tests were collected"


async def test_a_path_that_looks_like_an_option_is_a_path(make_repo: MakeRepo) -> None:
    # Were "--collect-only" read as an option, nothing would run and the check would pass.
    repo = make_repo({"--collect-only/test_x.py": "def test_x():\n    assert False\n"})

    result = await run_pytest(RunPytestArgs(paths=["--collect-only"]), fast(repo))

    assert not result.ok
    assert result.findings == ["--collect-only/test_x.py::test_x"]


async def test_missing_path_is_a_finding_and_nothing_runs(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": "X = 1\n"})

    result = await run_pytest(RunPytestArgs(paths=["tests/test_new.py::test_a"]), fast(repo))

    assert not result.ok
    assert result.findings == ["tests/test_new.py::test_a"]


async def test_hanging_test_is_named_when_the_timeout_stops_pytest(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "test_slow.py": (
                "import time\n\n\ndef test_quick():\n    pass\n\n\n"
                "def test_hangs():\n    time.sleep(60)\n"
            )
        }
    )

    result = await run_pytest(RunPytestArgs(), fast(repo, timeout=4.0))

    assert not result.ok
    assert result.findings == ["test_slow.py::test_hangs"]
    assert result.data["timed_out"] is True
    assert result.data["counts"]["passed"] == 1


@pytest.mark.parametrize(
    "bad",
    [["--basetemp=."], ["--basetemp", "."], ["--junitxml=out.xml"], ["-k", "a\x00b"]],
)
def test_args_that_write_files_or_hold_nul_are_refused(bad: list[str]) -> None:
    with pytest.raises(ValidationError):
        RunPytestArgs(args=bad)
