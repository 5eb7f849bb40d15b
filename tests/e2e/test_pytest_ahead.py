"""The after-run's pytest started during the baseline, in whole runs: it runs the suite the
writes left (after a reused baseline too), a write that changes how pytest itself would start
is met by a cold start, so is one the project read as its interpreter started, and a run that
stops before its after-run leaves nothing behind (no process, no temporary folder)."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from support.repos import git, launchers_in, run_collecting

from phasegraph.skills.run_pytest import ahead as pytest_ahead

MakeRepo = Callable[[dict[str, str]], Path]

# The test writes down what it saw: lib's greeting and how its interpreter was started.
PROBE = """import json, os, sys

from lib import GREETING


def test_probe():
    with open(os.environ["PHASEGRAPH_TEST_PROBE"], "a") as out:
        out.write(json.dumps({"greeting": GREETING, "argv": sys.orig_argv}) + "\\n")
"""
FILES = {
    "lib.py": 'GREETING = "hello"\n',
    "test_probe.py": PROBE,
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
}


def plan(*writes: dict[str, Any]) -> dict[str, Any]:
    return {"goal": "greet", "steps": [*writes, {"id": "tests", "skill": "run_pytest"}]}


GREET = {
    "id": "greet",
    "skill": "edit_block",
    "args": {"path": "lib.py", "search": '"hello"', "replace": '"hi"'},
}


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "probe.jsonl"
    monkeypatch.setenv("PHASEGRAPH_TEST_PROBE", str(out))
    return out


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the run's temporary folders go to (the reporter plugin's among them)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def started_ahead(seen: dict[str, Any]) -> bool:
    return any(pytest_ahead.MARK in arg for arg in seen["argv"])


async def test_the_after_run_runs_ahead_on_the_tree_the_writes_left(
    make_repo: MakeRepo, probe: Path, temp_root: Path
) -> None:
    repo = make_repo(FILES)
    report, _ = await run_collecting(plan(GREET), repo, baseline="before")
    assert report.status == "completed", report.error
    baseline, after = (json.loads(line) for line in probe.read_text().splitlines())
    assert (baseline["greeting"], started_ahead(baseline)) == ("hello", False)
    assert (after["greeting"], started_ahead(after)) == ("hi", True)
    assert list(temp_root.iterdir()) == []


async def test_with_the_baseline_after_the_writes_the_one_run_is_started_ahead(
    make_repo: MakeRepo, probe: Path, temp_root: Path
) -> None:
    repo = make_repo(FILES)
    report, _ = await run_collecting(plan(GREET), repo)
    assert report.status == "completed", report.error
    # The baseline only listed the test (no probe line); the one run after the writes was
    # started ahead while it listed.
    [after] = (json.loads(line) for line in probe.read_text().splitlines())
    assert (after["greeting"], started_ahead(after)) == ("hi", True)
    assert list(temp_root.iterdir()) == []


async def test_a_rerun_whose_baseline_is_reused_still_runs_its_after_run_ahead(
    make_repo: MakeRepo, probe: Path
) -> None:
    repo = make_repo(FILES)
    await run_collecting(plan(GREET), repo)
    git(repo, "checkout", "--", "lib.py")  # the same tree again: its baseline is kept
    report, _ = await run_collecting(plan(GREET), repo)
    assert report.status == "completed", report.error
    assert report.baselines[0].summary.startswith("reused")
    *_, after = (json.loads(line) for line in probe.read_text().splitlines())
    assert (after["greeting"], started_ahead(after)) == ("hi", True)


async def test_a_write_that_shadows_pytest_is_met_by_a_cold_start(
    make_repo: MakeRepo, probe: Path
) -> None:
    # `python -m pytest` in the workspace imports a pytest.py there: the interpreter started
    # ahead had imported the real one, so it must start cold and run what a cold start runs.
    args = {"path": "pytest.py", "content": "import sys\n\nsys.exit(3)  # not pytest at all\n"}
    write = {"id": "shadow", "skill": "write_file", "args": args}
    repo = make_repo(FILES)
    report, _ = await run_collecting(plan(write), repo, baseline="before")
    assert report.status == "stopped"
    assert report.failed_step == "tests", report.error
    [baseline] = (json.loads(line) for line in probe.read_text().splitlines())
    assert not started_ahead(baseline)  # the after-run ran the shadow: no test, no probe


async def test_a_run_stopped_before_its_after_run_leaves_nothing_started_ahead(
    make_repo: MakeRepo, probe: Path, temp_root: Path
) -> None:
    repo = make_repo({**FILES, "test_broken.py": "def test_broken(:\n"})
    report, _ = await run_collecting(plan(GREET), repo)
    assert report.status == "stopped"
    assert report.failed_step == "tests", report.error
    assert "before any write" in (report.error or "")
    assert not launchers_in(repo)
    assert list(temp_root.iterdir()) == []
    assert (repo / "lib.py").read_text() == FILES["lib.py"]


# A project whose venv imports it at interpreter start-up (a .pth line), and which reads its
# settings file as it is imported: the interpreter started ahead read the settings before the
# writes, so only a cold start sees the ones the writes left.
SETTINGS_PROJECT = {
    "proj/__init__.py": (
        "import json\nfrom pathlib import Path\n\n"
        "SETTINGS = json.loads((Path(__file__).parent.parent / 'config' / 'settings.json')"
        ".read_text())\n"
    ),
    "config/settings.json": '{"greeting": "hello"}\n',
    "tests/test_settings.py": (
        "import proj\n\n\ndef test_greeting():\n    assert proj.SETTINGS['greeting'] == 'hello'\n"
    ),
    ".gitignore": ".venv\n",
}


def venv_importing_the_project(repo: Path) -> Path:
    """``repo/.venv`` (ignored by git), holding pytest and a ``.pth`` that puts the project on
    ``sys.path`` and imports it as the interpreter starts; its python."""
    venv = repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    found = subprocess.run([python, "-c", where], check=True, capture_output=True, text=True)
    site = Path(found.stdout.strip())
    install_pytest(site)
    (site / "proj_at_startup.pth").write_text(f"{repo}\nimport proj\n")
    return python


def install_pytest(site: Path) -> None:
    """Copy pytest, and what it requires on this Python, from phasegraph's interpreter into
    the ``site`` folder, as pip would install them (offline, and without phasegraph's own
    pytest plugins)."""
    todo, done = ["pytest"], set()
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        name = dist.metadata["Name"].lower()
        if name in done:
            continue
        done.add(name)
        for file in dist.files or ():
            if not str(file).startswith(".."):  # its scripts: not needed
                target = site / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(str(dist.locate_file(file)), target)
        for line in dist.requires or ():
            required = Requirement(line)
            if required.marker is None or required.marker.evaluate({"extra": ""}):
                todo.append(required.name)


async def test_what_the_project_read_as_its_interpreter_started_is_read_again_after_the_writes(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(SETTINGS_PROJECT)
    python = venv_importing_the_project(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    args = {"path": "config/settings.json", "search": '"hello"', "replace": '"bye"'}
    edit = {"id": "settings", "skill": "edit_block", "args": args}
    commit = {"id": "commit", "skill": "git_checkpoint", "args": {"message": "bye"}}

    steps = [edit, {"id": "tests", "skill": "run_pytest"}, commit]

    report, _ = await run_collecting({"goal": "say bye", "steps": steps}, repo)

    # The oracle: the project's whole suite, started cold on the tree the run left, fails.
    assert json.loads((repo / "config" / "settings.json").read_text()) == {"greeting": "bye"}
    oracle = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert oracle.returncode == 1, oracle.stdout + oracle.stderr
    assert "assert 'bye' == 'hello'" in oracle.stdout
    # So must the run's own suite after the writes: it stops at the gate, committing nothing.
    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    assert report.failed_step == "tests"
    [found] = report.new_findings["tests"]
    assert found.finding == "tests/test_settings.py::test_greeting"
    assert "assert 'bye' == 'hello'" in found.detail
    assert git(repo, "rev-parse", "HEAD").strip() == head


async def test_a_red_run_runs_its_failures_again_in_an_interpreter_started_ahead_too(
    make_repo: MakeRepo, probe: Path, temp_root: Path
) -> None:
    strict_probe = PROBE + "    assert GREETING == 'hello'\n"
    repo = make_repo({**FILES, "test_probe.py": strict_probe})
    report, _ = await run_collecting(plan(GREET), repo)
    assert report.status == "stopped" and report.failure_kind == "gate", report.error
    # After the writes the test fails; on the earlier tree, run again alone, it passed: both
    # runs were started ahead (the second beside the first, in case it was needed).
    after, before = (json.loads(line) for line in probe.read_text().splitlines())
    assert (after["greeting"], started_ahead(after)) == ("hi", True)
    assert (before["greeting"], started_ahead(before)) == ("hello", True)
    assert list(temp_root.iterdir()) == []
