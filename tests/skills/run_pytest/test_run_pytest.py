"""run_pytest on real repos: failing node ids as findings, no caches or bytecode left."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from support.repos import snapshot

from phasegraph.skills.base import SkillContext, SkillKind
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.run_pytest.skill import SKILL, RunPytestArgs, run_pytest

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


async def test_a_test_module_that_cannot_import_means_the_suite_did_not_run(
    make_repo: MakeRepo,
) -> None:
    # pytest stops at a collection error and runs no test: that is never a finding the
    # gate could call "pre-existing", it is a check that did not happen.
    repo = make_repo(
        {
            "tests/test_fine.py": "def test_fine():\n    pass\n",
            "tests/test_broken.py": "import not_a_module\n",
        }
    )

    with pytest.raises(SkillError) as info:
        await run_pytest(RunPytestArgs(paths=["tests"]), fast(repo))

    message = str(info.value)
    assert "could not collect tests/test_broken.py" in message
    assert "ModuleNotFoundError: No module named 'not_a_module'" in message
    assert "--ignore=tests/test_broken.py" in message  # the way to leave it out
    assert "is the project installed in the interpreter phasegraph uses" in message


async def test_a_conftest_that_cannot_import_names_the_file_and_the_error(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(
        {
            "tests/conftest.py": "import not_a_module\n",
            "tests/test_a.py": "def test_a():\n    pass\n",
        }
    )

    with pytest.raises(SkillError) as info:
        await run_pytest(RunPytestArgs(paths=["tests"]), fast(repo))

    assert str(info.value).startswith(
        "tests/conftest.py: ModuleNotFoundError: No module named 'not_a_module' — is the "
        "project installed in the interpreter phasegraph uses"
    )


async def test_no_tests_collected_checked_nothing(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib.py": "X = 1\n"})

    with pytest.raises(SkillError, match="pytest collected no tests, so nothing was checked"):
        await run_pytest(RunPytestArgs(), fast(repo))


async def test_an_internal_error_shows_its_cause(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "conftest.py": (
                "def pytest_collection_modifyitems(items):\n"
                "    raise ValueError('plugin exploded')\n"
            ),
            "test_a.py": "def test_a():\n    pass\n",
        }
    )

    with pytest.raises(SkillError) as info:
        await run_pytest(RunPytestArgs(), fast(repo))

    assert "pytest hit an internal error" in str(info.value)
    assert "ValueError: plugin exploded" in str(info.value)


async def test_a_failing_test_carries_its_assertion_and_location(calc_repo: Path) -> None:
    result = await run_pytest(
        RunPytestArgs(paths=["tests/test_calc.py::test_bad"]), fast(calc_repo)
    )

    detail = result.details["tests/test_calc.py::test_bad"]
    assert ">       assert double(2) == 5" in detail
    assert "E       assert 4 == 5" in detail
    assert detail.splitlines()[-1] == "tests/test_calc.py:10: AssertionError"
    assert len(detail.splitlines()) <= 20


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


async def test_a_hanging_test_stops_the_check_and_is_named(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "test_slow.py": (
                "import time\n\n\ndef test_quick():\n    pass\n\n\n"
                "def test_hangs():\n    time.sleep(60)\n"
            )
        }
    )

    with pytest.raises(SkillError) as info:
        await run_pytest(RunPytestArgs(), fast(repo, timeout=4.0))

    assert "did not finish within 4s" in str(info.value)
    assert "still running: test_slow.py::test_hangs" in str(info.value)
    assert "--deselect test_slow.py::test_hangs" in str(info.value)


PLUGINS_SEEN = """def test_plugins(pytestconfig):
    names = {n for n, p in pytestconfig.pluginmanager.list_name_plugin() if p is not None}
    print("PLUGINS", sorted(names))
    assert "langsmith_plugin" not in names
"""


async def test_phasegraphs_own_plugins_stay_out_of_the_projects_tests(
    make_repo: MakeRepo,
) -> None:
    # In phasegraph's interpreter, its dependencies' pytest plugins (langsmith, anyio,
    # hypothesis...) would load into the user's suite; only the ones the project names stay.
    repo = make_repo(
        {
            "test_env.py": PLUGINS_SEEN,
            "pyproject.toml": '[project]\nname = "x"\noptional-dependencies = {dev = ["respx"]}\n',
        }
    )

    result = await run_pytest(RunPytestArgs(args=["-s"]), SkillContext(workspace=repo))

    assert result.ok, result.data["stdout_tail"]
    seen = result.data["stdout_tail"]
    assert "'respx'" in seen  # declared by the project: kept
    assert "'anyio'" not in seen and "'hypothesispytest'" not in seen


@pytest.mark.parametrize(
    "good",
    [["-p", "no:randomly"], ["-pno:cacheprovider"], ["--randomly-seed=12"], ["--ignore=tests/x"]],
)
def test_plugin_switches_and_seeds_are_allowed(good: list[str]) -> None:
    assert RunPytestArgs(args=good).args == good


@pytest.mark.parametrize(
    "bad", [["-p", "evil_plugin"], ["-pevil"], ["--randomly-seed=last"], ["--ignore=../x"]]
)
def test_loading_a_plugin_or_leaving_the_workspace_is_refused(bad: list[str]) -> None:
    with pytest.raises(ValidationError):
        RunPytestArgs(args=bad)


@pytest.mark.parametrize(
    "bad",
    [["--basetemp=."], ["--basetemp", "."], ["--junitxml=out.xml"], ["-k", "a\x00b"]],
)
def test_args_that_write_files_or_hold_nul_are_refused(bad: list[str]) -> None:
    with pytest.raises(ValidationError):
        RunPytestArgs(args=bad)


def test_a_targeted_check_after_the_writes_runs_what_its_baseline_ran() -> None:
    from phasegraph.skills.python.selection import Selection
    from phasegraph.skills.run_pytest.targeting import BASELINE_WHOLE, with_baseline

    found = Selection(("tests/test_a.py",), {"tests/test_a.py": "imports pkg.a"}, None, 3)

    assert with_baseline(found, None) == found  # no baseline: a baseline itself
    widened = with_baseline(found, ("tests/test_b.py", "tests/test_a.py"))
    assert widened.files == ("tests/test_a.py", "tests/test_b.py")
    assert widened.why["tests/test_b.py"] == "run by the baseline"
    assert widened.why["tests/test_a.py"] == "imports pkg.a"
    whole = with_baseline(found, ())
    assert (whole.files, whole.fallback) == ((), BASELINE_WHOLE)
    # A check that already runs the whole suite stays so.
    assert with_baseline(Selection((), {}, "nothing selected: whole suite"), ("x",)).files == ()
