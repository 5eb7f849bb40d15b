"""Checks run in the project's own environment, and a check that could not run is never green.

The project here depends on a package (``tinydep``) installed in its own ``.venv`` only, not
in phasegraph's interpreter, as a user's project depends on what its own venv holds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.repos import git, require_program, run_collecting, snapshot, write

from phasegraph.graph.preflight import checks as preflight_module
from phasegraph.skills.base import SkillContext
from phasegraph.skills.python.env.python_env import PythonEnv
from phasegraph.skills.run_mypy import RunMypyArgs, run_mypy
from phasegraph.skills.run_pytest import results as pytest_results
from phasegraph.skills.run_pytest import skill as run_pytest
from phasegraph.skills.run_pytest.command import run_seed

MakeRepo = Callable[[dict[str, str]], Path]

APP = (
    "from tinydep import shout\n\n\n"
    "def greet(name: str) -> str:\n    return shout('hello ' + name)\n"
)
CONFTEST = "import tinydep  # the project's own dependency, as markupsafe's conftest has\n"
TESTS = (
    "from app import greet\n\n\ndef test_greet() -> None:\n    assert greet('ann') == 'HELLO ANN'\n"
)
PROJECT = {
    "app.py": APP,
    "tests/conftest.py": CONFTEST,
    "tests/test_app.py": TESTS,
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\ntestpaths = ['tests']\n",
    ".gitignore": ".venv\n",
}
BREAK = {
    "id": "break",
    "skill": "edit_block",
    "args": {"path": "app.py", "search": "'hello ' + name", "replace": "'bye ' + name"},
}
PYTEST = {"id": "tests", "skill": "run_pytest"}
COMMIT = {"id": "commit", "skill": "git_checkpoint", "args": {"message": "change"}}


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


@pytest.fixture(scope="session")
def project_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real virtualenv holding pytest, pytest-randomly and ``tinydep`` (built from source),
    made once."""
    root = tmp_path_factory.mktemp("venv")
    dep = root / "tinydep-src"
    write(dep, "tinydep/__init__.py", "def shout(text: str) -> str:\n    return text.upper()\n")
    write(dep, "pyproject.toml", '[project]\nname = "tinydep"\nversion = "1.0"\n')
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, "pytest", "pytest-randomly", str(dep)], check=True, timeout=600)
    return venv


def project(make_repo: MakeRepo, venv: Path | None, files: dict[str, str] | None = None) -> Path:
    repo = make_repo({**PROJECT, **(files or {})})
    if venv is not None:
        (repo / ".venv").symlink_to(venv)  # the workspace's .venv (ignored by git)
    return repo


def plan(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"goal": "change the greeting", "steps": list(steps)}


def test_phasegraphs_interpreter_lacks_the_projects_dependency() -> None:
    # What every test below relies on: only the project's venv can import the project.
    found = subprocess.run([sys.executable, "-c", "import tinydep"], capture_output=True)
    assert found.returncode != 0


async def test_the_suite_runs_in_the_workspaces_venv_and_blocks_a_breaking_edit(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    repo = project(make_repo, project_venv)
    head = git(repo, "rev-parse", "HEAD").strip()

    report, events = await run_collecting(plan(BREAK, PYTEST, COMMIT), repo)

    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    assert report.interpreter.source == ".venv"
    assert report.interpreter.python == str(repo / ".venv" / "bin" / "python")
    assert report.interpreter.version
    # The failing test's report says why: its assertion and where it failed.
    [found] = report.new_findings["tests"]
    assert found.finding == "tests/test_app.py::test_greet"
    assert "AssertionError: assert 'BYE ANN' == 'HELLO ANN'" in found.detail
    assert "tests/test_app.py:5: AssertionError" in found.detail
    # The baseline is a row of its own: the test listed before the writes, then, as it failed
    # after them, run again alone on the tree as it was before the run, where it passed.
    [baseline] = report.baselines
    assert (baseline.id, baseline.phase, baseline.status) == ("baseline:tests", "baseline", "done")
    assert baseline.summary == (
        "pytest: listed 1 test, to run once after the writes; then on the tree before the run, "
        "only 1 test that did not pass after it: pytest: 1 passed"
    )
    assert [e for e in events if e.get("id") == "baseline:tests" and e["status"] == "done"]
    assert git(repo, "rev-parse", "HEAD").strip() == head


async def test_a_harmless_edit_commits_after_the_venvs_suite_passes(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    repo = project(make_repo, project_venv)
    harmless = {
        "id": "doc",
        "skill": "edit_block",
        "args": {"path": "app.py", "search": "def greet", "replace": "# Greets.\ndef greet"},
    }

    report, _ = await run_collecting(plan(harmless, PYTEST, COMMIT), repo)

    assert report.status == "completed", report.error
    assert report.commit
    assert [s.summary for s in report.steps if s.id == "tests"] == ["pytest: 1 passed"]


def test_without_the_venv_the_run_stops_at_preflight_and_names_the_cause(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = project(make_repo, None)
    before = snapshot(repo)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan(BREAK, PYTEST, COMMIT)))

    out = cli("run", str(plan_file), "-w", str(repo), "--report", str(tmp_path / "r.json"))

    assert out.returncode == 2, out.stdout + out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["failure_kind"] == "preflight"
    assert report["interpreter"]["source"] == "phasegraph"
    assert (
        "tests/conftest.py: ModuleNotFoundError: No module named 'tinydep' — is the project "
        "installed in the interpreter phasegraph uses"
    ) in report["error"]
    assert "--python" in report["error"]
    assert {s["id"]: s["status"] for s in report["steps"]} == {
        "break": "skipped",
        "tests": "skipped",
        "commit": "skipped",
    }
    assert snapshot(repo) == before


def test_python_names_the_interpreter_and_the_run_event_says_so(
    make_repo: MakeRepo, project_venv: Path, tmp_path: Path
) -> None:
    repo = project(make_repo, None)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan(BREAK, PYTEST, COMMIT)))
    python = project_venv / "bin" / "python"

    out = cli("run", str(plan_file), "-w", str(repo), "--python", str(python), "--json")

    assert out.returncode == 1, out.stdout + out.stderr  # the gate stops the breaking edit
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0]["event"] == "run"
    assert (events[0]["python"], events[0]["source"]) == (str(python), "--python")
    assert events[-1]["failure_kind"] == "gate"
    assert events[-1]["interpreter"]["python"] == str(python)


def test_a_missing_pytest_in_the_chosen_interpreter_fails_preflight(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    repo = project(make_repo, bare)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan(BREAK, PYTEST)))

    out = cli("run", str(plan_file), "-w", str(repo))

    assert out.returncode == 2
    assert "need pytest, which" in out.stderr and "the workspace's .venv" in out.stderr
    assert "-m pip install pytest" in out.stderr


async def test_pytest_randomly_gets_one_seed_per_run(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    # The baseline and the after-run of one run must see the same order; another run may not.
    repo = project(make_repo, project_venv)
    env = PythonEnv(str(repo / ".venv" / "bin" / "python"), ".venv")

    async def seed_used(run_id: str, args: list[str] | None = None) -> str:
        ctx = SkillContext(workspace=repo, python_env=env, run_id=run_id)
        result = await run_pytest.run_pytest(run_pytest.RunPytestArgs(args=args or []), ctx)
        assert result.ok, result.data["stdout_tail"]
        stdout: str = result.data["stdout_tail"]
        [line] = [ln for ln in stdout.splitlines() if "randomly-seed" in ln]
        return line

    first = await seed_used("run-a")
    assert first == await seed_used("run-a")
    assert f"--randomly-seed={run_seed('run-a')}" in first
    assert first != await seed_used("run-b")
    assert "--randomly-seed=7" in await seed_used("run-a", ["--randomly-seed=7"])


async def test_phasegraphs_mypy_checks_against_the_projects_packages(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    # The venv has no mypy of its own: phasegraph's runs with --python-executable, so it finds
    # tinydep installed there (untyped) instead of calling it missing.
    repo = project(make_repo, project_venv)
    project_env = PythonEnv(str(repo / ".venv" / "bin" / "python"), ".venv")
    args = RunMypyArgs(paths=["app.py"])

    theirs = await run_mypy(args, SkillContext(workspace=repo, python_env=project_env))
    ours = await run_mypy(args, SkillContext(workspace=repo))

    assert {f.split("::")[1] for f in theirs.findings} == {"import-untyped"}
    assert {f.split("::")[1] for f in ours.findings} == {"import-not-found"}


# No false green: a suite that could not really run blocks whatever the baseline said.


async def test_a_suite_that_cannot_import_after_the_writes_blocks_the_commit(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    repo = project(make_repo, project_venv)
    head = git(repo, "rev-parse", "HEAD").strip()
    typo = {
        "id": "typo",
        "skill": "edit_block",
        "args": {
            "path": "tests/conftest.py",
            "search": "import tinydep",
            "replace": "import tinydp",
        },
    }

    report, _ = await run_collecting(plan(typo, PYTEST, COMMIT), repo)

    assert report.status == "stopped" and report.failure_kind == "verify"
    assert report.failed_step == "tests"
    assert "tests/conftest.py: ModuleNotFoundError: No module named 'tinydp'" in (
        report.error or ""
    )
    assert git(repo, "rev-parse", "HEAD").strip() == head


async def test_a_suite_broken_before_the_run_stops_it_before_any_write(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    # An unrelated test module that cannot import: pytest then runs no test at all, before
    # and after, so a breaking edit would be "0 new, 1 pre-existing" without the rule.
    repo = project(make_repo, project_venv, {"tests/test_other.py": "import nosuchmodule\n"})
    before = snapshot(repo)

    report, events = await run_collecting(plan(BREAK, PYTEST, COMMIT), repo)

    assert report.status == "stopped" and report.failure_kind == "preflight"
    assert "could not collect tests/test_other.py" in (report.error or "")
    assert "No module named 'nosuchmodule'" in (report.error or "")
    assert not [e for e in events if e.get("phase") == "write" and e["status"] == "running"]
    assert snapshot(repo) == before


async def test_without_the_rule_the_gate_would_have_committed_the_breaking_edit(
    make_repo: MakeRepo, project_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mutation: "the suite could not run" is no longer an error. The same run then
    # commits a change that no test ever checked, which is what the rule prevents.
    repo = project(make_repo, project_venv, {"tests/test_other.py": "import nosuchmodule\n"})
    monkeypatch.setattr(pytest_results, "not_run", lambda *args: None)

    report, _ = await run_collecting(plan(BREAK, PYTEST, COMMIT), repo, baseline="before")

    assert report.status == "completed" and report.commit


async def test_a_run_that_leaves_no_tests_blocks(make_repo: MakeRepo, project_venv: Path) -> None:
    repo = project(make_repo, project_venv)
    emptied = {
        "id": "empty",
        "skill": "write_file",
        "args": {"path": "tests/test_app.py", "content": "from app import greet\n"},
    }

    report, _ = await run_collecting(plan(emptied, PYTEST, COMMIT), repo)

    assert report.status == "stopped" and report.failed_step == "tests"
    assert "pytest collected no tests, so nothing was checked" in (report.error or "")
    assert report.commit is None


async def test_a_hanging_test_is_never_pre_existing(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    hang = "import time\n\n\ndef test_hangs() -> None:\n    time.sleep(60)\n"
    repo = project(make_repo, project_venv, {"tests/test_hang.py": hang})

    report, _ = await run_collecting(
        plan(BREAK, PYTEST, COMMIT), repo, step_timeout=4.0, baseline="before"
    )

    assert report.status == "stopped" and report.failure_kind == "preflight"
    assert "still running: tests/test_hang.py::test_hangs" in (report.error or "")
    assert report.written == []

    # With the baseline after the writes, the hang is met by the run after them: it stops
    # there, nothing committed, its writes listed to undo.
    report, _ = await run_collecting(plan(BREAK, PYTEST, COMMIT), repo, step_timeout=4.0)

    assert report.status == "stopped" and report.failure_kind == "verify", report.error
    assert "still running: tests/test_hang.py::test_hangs" in (report.error or "")
    assert report.commit is None and report.written == ["app.py"]


# The project's environment where nox and tox keep it, and the tests always import the
# workspace's own code: never a copy of the same name installed elsewhere (a false green).

IGNORE_ENVS = {".gitignore": ".venv\n.nox\n.tox\n"}


async def test_a_nox_session_is_found_and_its_suite_blocks_a_breaking_edit(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    repo = project(make_repo, None, IGNORE_ENVS)
    (repo / ".nox").mkdir()
    (repo / ".nox" / "tests").symlink_to(project_venv)  # nox's session folder
    lint = repo / ".nox" / "lint" / "bin"  # a session without pytest: not the one taken
    lint.mkdir(parents=True)
    (lint / "python").symlink_to(sys.executable)
    head = git(repo, "rev-parse", "HEAD").strip()

    report, _ = await run_collecting(plan(BREAK, PYTEST, COMMIT), repo)

    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    assert report.interpreter.source == ".nox/tests"
    assert report.interpreter.python == str(repo / ".nox" / "tests" / "bin" / "python")
    [found] = report.new_findings["tests"]
    assert found.finding == "tests/test_app.py::test_greet"
    assert git(repo, "rev-parse", "HEAD").strip() == head


def test_a_tox_environment_is_found_and_named_in_the_run_event(
    make_repo: MakeRepo, project_venv: Path, tmp_path: Path
) -> None:
    repo = project(make_repo, None, IGNORE_ENVS)
    (repo / ".tox").mkdir()
    (repo / ".tox" / "py311").symlink_to(project_venv)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan(BREAK, PYTEST, COMMIT)))

    out = cli("run", str(plan_file), "-w", str(repo), "--json")

    assert out.returncode == 1, out.stdout + out.stderr  # the gate stops the breaking edit
    events = [json.loads(line) for line in out.stdout.splitlines()]
    python = str(repo / ".tox" / "py311" / "bin" / "python")
    assert (events[0]["python"], events[0]["source"]) == (python, ".tox/py311")
    assert events[-1]["failure_kind"] == "gate"
    assert events[-1]["interpreter"]["source"] == ".tox/py311"


#: A project that shares its name with a package installed beside phasegraph (tenacity is a
#: dependency of phasegraph's): its own copy, in src/, defines retry.
SHADOWED = {
    "src/tenacity/__init__.py": "def retry(fn):\n    return fn\n",
    "tests/test_api.py": (
        "import tenacity\n\n\ndef test_retry() -> None:\n    assert callable(tenacity.retry)\n"
    ),
    "pyproject.toml": '[project]\nname = "tenacity"\nversion = "0.1"\n',
}
RENAME_RETRY = {
    "id": "rename",
    "skill": "edit_block",
    "args": {"path": "src/tenacity/__init__.py", "search": "def retry", "replace": "def again"},
}


def test_a_project_named_like_a_package_beside_phasegraph_stops_at_preflight(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    import tenacity  # the copy phasegraph's own interpreter would have imported

    repo = make_repo(SHADOWED)
    before = snapshot(repo)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan(RENAME_RETRY, PYTEST, COMMIT)))

    out = cli("run", str(plan_file), "-w", str(repo))

    assert out.returncode == 2, out.stdout + out.stderr
    error = " ".join(out.stderr.split())  # the console wraps long lines
    assert "the tests would not test the workspace's code" in error
    assert (
        f"- tenacity: from {tenacity.__file__} (installed beside phasegraph), not from the "
        "workspace's src/tenacity"
    ) in error
    assert "python -m venv .venv" in error and "--python" in error
    assert snapshot(repo) == before


async def test_without_the_guard_the_installed_copy_would_have_passed_the_breaking_edit(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mutation: preflight no longer asks where the project's packages come from. The
    # suite then tests phasegraph's installed tenacity and commits a change that breaks the
    # project's own (its retry is gone), which is the false green the guard prevents.
    repo = make_repo(SHADOWED)
    monkeypatch.setattr(preflight_module, "foreign_packages", lambda *args: [])

    report, _ = await run_collecting(plan(RENAME_RETRY, PYTEST, COMMIT), repo)

    assert report.status == "completed" and report.commit, report.error
    assert "def again" in (repo / "src" / "tenacity" / "__init__.py").read_text()


async def test_a_check_a_consolidator_adds_is_held_to_the_same_guard(
    make_repo: MakeRepo,
) -> None:
    """A plan without tests passes preflight's interpreter checks trivially; a consolidator
    that adds run_pytest afterwards gets them then, before any write."""
    from langgraph.store.memory import InMemoryStore

    from phasegraph import RunOptions, build_orchestrator, run_plan
    from phasegraph.graph.model.plan import Step, parse_plan

    async def adds_tests(plan: Any, outputs: Any, workspace: Path) -> list[Step]:
        return [Step.model_validate(PYTEST)]

    repo = make_repo(SHADOWED)
    before = snapshot(repo)
    graph = build_orchestrator(store=InMemoryStore(), consolidator=adds_tests)

    report = await run_plan(
        graph, parse_plan(plan(RENAME_RETRY, COMMIT)), repo, options=RunOptions()
    )

    assert report.status == "stopped" and report.failure_kind == "preflight", report.error
    assert "the tests would not test the workspace's code" in (report.error or "")
    assert snapshot(repo) == before


#: The ordinary src layout: the package in src/, put on sys.path by pytest's configuration.
SRC_LAYOUT = {
    "src/greeting/__init__.py": "def greet(name: str) -> str:\n    return 'hello ' + name\n",
    "tests/test_greeting.py": (
        "from greeting import greet\n\n\n"
        "def test_greet() -> None:\n    assert greet('ann') == 'hello ann'\n"
    ),
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['src']\n",
    **IGNORE_ENVS,
}
BREAK_GREETING = {
    "id": "break",
    "skill": "edit_block",
    "args": {"path": "src/greeting/__init__.py", "search": "'hello '", "replace": "'bye '"},
}


async def test_a_src_layout_project_with_its_own_venv_still_runs(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    repo = make_repo(SRC_LAYOUT)
    (repo / ".venv").symlink_to(project_venv)

    report, _ = await run_collecting(plan(BREAK_GREETING, PYTEST, COMMIT), repo)

    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    assert report.interpreter.source == ".venv"
    [found] = report.new_findings["tests"]
    assert found.finding == "tests/test_greeting.py::test_greet"


async def test_a_non_editable_install_in_the_found_environment_is_refused_an_editable_one_runs(
    make_repo: MakeRepo, project_venv: Path
) -> None:
    # tox's default: the project installed as a copy into .tox/<env>/'s site-packages, where
    # the tests import it from (no pythonpath here). The run's writes would never reach it.
    files = {**SRC_LAYOUT, "pyproject.toml": '[project]\nname = "greeting"\nversion = "1"\n'}
    repo = make_repo(files)
    env = repo / ".tox" / "py311"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    [site] = env.glob("lib/python*/site-packages")
    [deps] = project_venv.glob("lib/python*/site-packages")
    (site / "deps.pth").write_text(f"{deps}\n")  # pytest and the rest, from the shared venv
    (site / "greeting").mkdir()
    (site / "greeting" / "__init__.py").write_text((repo / "src/greeting/__init__.py").read_text())

    report, _ = await run_collecting(plan(BREAK_GREETING, PYTEST, COMMIT), repo)

    assert report.status == "stopped" and report.failure_kind == "preflight"
    copy = site / "greeting" / "__init__.py"
    assert f"- greeting: from {copy} (installed in it, not editable)" in (report.error or "")
    python = env / "bin" / "python"
    assert f"{python} -m pip install -e . (tox: package = editable)" in (report.error or "")
    assert report.written == []

    # Installed editable instead (what pip's .pth does): the same run now tests src/.
    shutil.rmtree(site / "greeting")
    (site / "__editable__.greeting-1.pth").write_text(f"{repo / 'src'}\n")

    report, _ = await run_collecting(plan(BREAK_GREETING, PYTEST, COMMIT), repo)

    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    assert report.interpreter.source == ".tox/py311"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run(
        [sys.executable, "-m", "phasegraph.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture(autouse=True)
def _no_active_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    """An activated virtualenv outside the workspace must not matter; none is set here."""
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
