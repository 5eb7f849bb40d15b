"""Targeted tests: which test files a run's writes reach, on real project trees on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.repos import write

from phasegraph.skills.base import SkillContext
from phasegraph.skills.python.selection import EVERY_FILE, WHOLE_SUITE, select_tests
from phasegraph.skills.run_pytest.skill import SKILL, RunPytestArgs, run_pytest

SRC_LAYOUT = {
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\ntestpaths = ['tests']\n",
    "src/pkg/__init__.py": "",
    "src/pkg/a.py": "def f() -> int:\n    return 1\n",
    "src/pkg/b.py": "from pkg.a import f\n\n\ndef g() -> int:\n    return f() + 1\n",
    "src/pkg/c.py": "def h() -> int:\n    return 3\n",
    "tests/test_a.py": "from pkg.a import f\n\n\ndef test_f() -> None:\n    assert f() == 1\n",
    "tests/test_b.py": "from pkg import b\n\n\ndef test_g() -> None:\n    assert b.g() == 2\n",
    "tests/test_c.py": "import pkg.c\n\n\ndef test_h() -> None:\n    assert pkg.c.h() == 3\n",
}


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        write(root, rel, text)
    return root


def test_src_layout_selects_direct_and_transitive_importers(tmp_path: Path) -> None:
    repo = tree(tmp_path, SRC_LAYOUT)

    found = select_tests(repo, ["src/pkg/a.py"])

    assert found.files == ("tests/test_a.py", "tests/test_b.py")
    assert found.fallback is None
    assert found.considered == 3
    assert found.why == {
        "tests/test_a.py": "imports pkg.a (written: src/pkg/a.py)",
        "tests/test_b.py": "imports pkg.b, which imports pkg.a (written: src/pkg/a.py)",
    }


def test_a_written_package_init_reaches_every_module_of_the_package(tmp_path: Path) -> None:
    repo = tree(tmp_path, SRC_LAYOUT)

    found = select_tests(repo, ["src/pkg/__init__.py"])

    # Importing pkg.c runs pkg/__init__.py first: all three tests can see the change, and
    # every test file selected is the plain suite (no list of files: it costs no more).
    assert (found.files, found.fallback) == ((), EVERY_FILE)
    assert sorted(found.why) == ["tests/test_a.py", "tests/test_b.py", "tests/test_c.py"]
    assert found.why["tests/test_c.py"] == "imports pkg (written: src/pkg/__init__.py)"


def test_flat_layout_and_dotted_imports(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            "app.py": "import lib.core\n",
            "lib/__init__.py": "",
            "lib/core.py": "X = 1\n",
            "other.py": "Y = 2\n",
            "tests/test_app.py": "import app\n\n\ndef test_app() -> None:\n    pass\n",
            "tests/test_core.py": "import lib.core\n\n\ndef test_core() -> None:\n    pass\n",
            "tests/test_other.py": "from other import Y\n\n\ndef test_y() -> None:\n    pass\n",
            "test_top_test.py": "from lib import core\n\n\ndef test_top() -> None:\n    pass\n",
        },
    )

    found = select_tests(repo, ["lib/core.py"])

    assert found.files == ("test_top_test.py", "tests/test_app.py", "tests/test_core.py")
    assert found.why["tests/test_app.py"] == (
        "imports app, which imports lib.core (written: lib/core.py)"
    )
    # `from lib import core` names a module, not just an attribute of lib.
    assert found.why["test_top_test.py"] == "imports lib.core (written: lib/core.py)"


def test_relative_imports_in_test_packages_and_source_packages(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **SRC_LAYOUT,
            "src/pkg/sub/__init__.py": "from . import y\n",
            "src/pkg/sub/y.py": "from ..a import f\n",
            "tests/__init__.py": "",
            "tests/helpers.py": "from pkg.sub import y\n",
            "tests/test_h.py": "from .helpers import y\n\n\ndef test_y() -> None:\n    pass\n",
        },
    )

    found = select_tests(repo, ["src/pkg/a.py"])

    assert "tests/test_h.py" in found.files
    assert found.why["tests/test_h.py"] == (
        "imports .helpers, which imports pkg.sub.y, which imports ..a (written: src/pkg/a.py)"
    )
    assert "tests/test_c.py" not in found.files


def test_a_conftest_that_imports_a_written_module_selects_the_tests_under_it(
    tmp_path: Path,
) -> None:
    repo = tree(
        tmp_path,
        {
            **SRC_LAYOUT,
            "tests/unit/conftest.py": "import pkg.c\n",
            "tests/unit/test_u.py": "def test_u() -> None:\n    pass\n",
            "tests/other/test_o.py": "def test_o() -> None:\n    pass\n",
        },
    )

    found = select_tests(repo, ["src/pkg/c.py"])

    assert found.files == ("tests/test_c.py", "tests/unit/test_u.py")
    assert found.why["tests/unit/test_u.py"] == (
        "uses tests/unit/conftest.py, which imports pkg.c (written: src/pkg/c.py)"
    )


def test_a_written_conftest_runs_the_whole_suite(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **SRC_LAYOUT,
            "tests/other/conftest.py": "",
            "tests/other/test_o.py": "def test_o() -> None:\n    pass\n",
            "tests/other/deeper/test_d.py": "def test_d() -> None:\n    pass\n",
        },
    )

    found = select_tests(repo, ["tests/other/conftest.py"])

    # Its hooks (pytest_collection_modifyitems, say) act on the tests of every folder.
    assert found.files == ()
    assert found.fallback == (
        "the run writes tests/other/conftest.py (a conftest.py's hooks can act on tests in "
        "any folder): whole suite"
    )


def test_a_test_file_the_run_writes_is_selected_even_before_it_exists(tmp_path: Path) -> None:
    repo = tree(tmp_path, SRC_LAYOUT)

    found = select_tests(repo, ["tests/test_new.py", "src/pkg/c.py"])

    # The baseline runs before the file exists: the same selection before and after.
    assert found.files == ("tests/test_c.py", "tests/test_new.py")
    assert found.why["tests/test_new.py"] == "written by the run"


def test_nothing_selected_falls_back_to_the_whole_suite(tmp_path: Path) -> None:
    repo = tree(tmp_path, {**SRC_LAYOUT, "src/pkg/unused.py": "Z = 0\n"})

    found = select_tests(repo, ["src/pkg/unused.py"])

    assert found.files == ()
    assert found.fallback == WHOLE_SUITE


def test_written_pytest_configuration_runs_the_whole_suite(tmp_path: Path) -> None:
    repo = tree(tmp_path, SRC_LAYOUT)

    found = select_tests(repo, ["src/pkg/a.py", "pyproject.toml"])

    assert found.files == ()
    assert found.fallback is not None and "pyproject.toml" in found.fallback


def test_a_data_file_runs_the_whole_suite_even_when_a_test_names_it(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **SRC_LAYOUT,
            "tests/data/cases.json": "[]\n",
            "tests/test_cases.py": "from pathlib import Path\n\nCASES = Path('cases.json')\n",
        },
    )

    found = select_tests(repo, ["tests/data/cases.json"])

    # A name in a string is one way to reach it; a glob, a folder copied whole, a name
    # built at run time are others no source shows.
    assert found.files == ()
    assert found.fallback == (
        "the run writes tests/data/cases.json, not Python (any test may read it; "
        "tests/test_cases.py names 'cases.json' (written: tests/data/cases.json)): whole suite"
    )


def test_given_paths_limit_the_selection(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **SRC_LAYOUT,
            "tests/more/test_more_a.py": "import pkg.a\n\n\ndef test_m() -> None:\n    pass\n",
        },
    )

    found = select_tests(repo, ["src/pkg/a.py"], paths=["tests/more", "tests/test_c.py"])
    assert found.files == ("tests/more/test_more_a.py",)
    assert found.considered == 2

    # A node id stays a node id when its file is selected.
    found = select_tests(
        repo, ["src/pkg/a.py"], paths=["tests/test_a.py::test_f", "tests/test_c.py"]
    )
    assert found.files == ("tests/test_a.py::test_f",)

    # Nothing selected within the paths: the paths as given, never zero tests.
    found = select_tests(repo, ["src/pkg/a.py"], paths=["tests/test_c.py"])
    assert (found.files, found.fallback) == ((), WHOLE_SUITE)


def test_imports_are_cached_by_content_and_a_changed_file_is_read_again(tmp_path: Path) -> None:
    repo = tree(tmp_path, SRC_LAYOUT)
    cache = tmp_path / "cache"
    cache.mkdir()

    first = select_tests(repo, ["src/pkg/c.py"], cache=cache)
    assert first.files == ("tests/test_c.py",)
    assert [p.name for p in cache.iterdir()] == ["imports.json"]

    # Same path, new content: the new imports count, not the cached ones.
    write(repo, "tests/test_a.py", "import pkg.c\n\n\ndef test_f() -> None:\n    pass\n")
    again = select_tests(repo, ["src/pkg/c.py"], cache=cache)
    assert again.files == ("tests/test_a.py", "tests/test_c.py")


def test_a_test_file_that_does_not_parse_is_selected_to_be_safe(tmp_path: Path) -> None:
    repo = tree(tmp_path, {**SRC_LAYOUT, "tests/test_broken.py": "def broken(:\n"})

    found = select_tests(repo, ["src/pkg/c.py"])

    assert found.files == ("tests/test_broken.py", "tests/test_c.py")
    assert "could not be parsed" in found.why["tests/test_broken.py"]


def test_virtualenvs_and_hidden_folders_are_not_part_of_the_project(tmp_path: Path) -> None:
    repo = tree(
        tmp_path,
        {
            **SRC_LAYOUT,
            "venv/pyvenv.cfg": "home = /usr\n",
            "venv/lib/test_inside_venv.py": "import pkg.a\n",
            ".tox/py/test_hidden.py": "import pkg.a\n",
        },
    )

    found = select_tests(repo, ["src/pkg/a.py"])

    assert found.files == ("tests/test_a.py", "tests/test_b.py")


def test_a_targeted_step_declares_that_it_selects_by_the_writes() -> None:
    from phasegraph.graph.steps.runner import StepRunner
    from phasegraph.skills.registry import default_registry

    runner = StepRunner(default_registry())
    assert SKILL.by_writes is not None and SKILL.by_writes({"targeted": True})
    assert runner.by_writes({"id": "t", "skill": "run_pytest", "args": {"targeted": True}})
    assert not runner.by_writes({"id": "t", "skill": "run_pytest", "args": {}})
    assert not runner.by_writes({"id": "t", "skill": "run_ruff", "args": {"targeted": True}})


def fast(repo: Path, planned: tuple[str, ...] | None) -> SkillContext:
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return SkillContext(workspace=repo, env=env, planned_files=planned)


async def test_run_pytest_targeted_runs_only_the_selection(tmp_path: Path) -> None:
    repo = tree(tmp_path, SRC_LAYOUT)

    result = await run_pytest(RunPytestArgs(targeted=True), fast(repo, ("src/pkg/a.py",)))

    assert result.ok, result.summary
    assert result.data["counts"]["passed"] == 2
    selection = result.data["selection"]
    assert selection["files"] == ["tests/test_a.py", "tests/test_b.py"]
    assert selection["fallback"] is None
    assert set(selection["why"]) == {"tests/test_a.py", "tests/test_b.py"}
    assert result.summary == (
        "pytest: 2 passed; targeted: 2 of 3 test files (tests/test_a.py, tests/test_b.py)"
    )
    assert [p for p in result.data["argv"] if p.startswith("tests/")] == selection["files"]


@pytest.mark.parametrize(
    ("planned", "why"),
    [((), WHOLE_SUITE), (None, "the run's writes are not known yet: whole suite")],
)
async def test_run_pytest_targeted_never_runs_zero_tests(
    tmp_path: Path, planned: tuple[str, ...] | None, why: str
) -> None:
    repo = tree(tmp_path, SRC_LAYOUT)

    result = await run_pytest(RunPytestArgs(targeted=True), fast(repo, planned))

    assert result.data["counts"]["passed"] == 3
    assert result.data["selection"] == {
        "files": [],
        "why": {},
        "fallback": why,
        "considered": 3 if planned is not None else 0,
        "written": list(planned or []),
        "left_out": 0,
        "left_out_files": [],
    }
    assert result.summary == f"pytest: 3 passed; targeted: {why}"


async def test_the_selection_is_listed_whole_with_why_and_what_was_left_out(
    tmp_path: Path,
) -> None:
    many = {
        f"tests/test_a_rather_long_descriptive_name_{n:02}.py": (
            f"from pkg.a import f\n\n\ndef test_{n}() -> None:\n    assert f() == 1\n"
        )
        for n in range(30)
    }
    repo = tree(tmp_path, {**SRC_LAYOUT, **many})

    result = await run_pytest(RunPytestArgs(targeted=True), fast(repo, ("src/pkg/a.py",)))

    assert result.data["counts"]["passed"] == 32
    selection = result.data["selection"]
    # The data holds every file, each with why, and every file left out: never cut.
    assert selection["files"] == sorted([*many, "tests/test_a.py", "tests/test_b.py"])
    assert selection["why"]["tests/test_a_rather_long_descriptive_name_29.py"] == (
        "imports pkg.a (written: src/pkg/a.py)"
    )
    assert set(selection["why"]) == set(selection["files"])
    assert (selection["left_out"], selection["left_out_files"]) == (1, ["tests/test_c.py"])
    # The one line names what fits and counts the rest, never cut in the middle of a name.
    assert "…" not in result.summary
    assert result.summary == (
        "pytest: 32 passed; targeted: 32 of 33 test files "
        "(tests/test_a.py, tests/test_a_rather_long_descriptive_name_00.py and 30 more)"
    )
