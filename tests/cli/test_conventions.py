"""The CLI's conventions: --version, [tool.phasegraph], --json, -w ., a stopped run's output,
and what the sdist and the wheel ship."""

from __future__ import annotations

import importlib.metadata
import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from support.llm_server import fake_llm
from support.repos import git, require_program, snapshot

from phasegraph.cli.main import parser
from phasegraph.cli.progress import Progress
from phasegraph.cli.project_defaults import apply_project_defaults
from phasegraph.cli.run_cmd import options_from
from phasegraph.graph.model.context import RunOptions
from phasegraph.skills.core.errors import PreflightError
from phasegraph.skills.registry import default_registry

MakeRepo = Callable[[dict[str, str]], Path]
ROOT = Path(__file__).resolve().parents[2]

PLAN = """\
goal: bump A
steps:
  - {id: e1, skill: edit_block, args: {path: a.py, search: 'A = 1', replace: 'A = 2'}}
  - {id: lint, skill: run_ruff}
  - {id: commit, skill: git_checkpoint, args: {message: bump A}}
"""


def phasegraph(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phasegraph.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    """A plan that edits, lints and commits: it needs git and ruff."""
    for name in ("git", "ruff"):
        require_program(name)
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return path


def test_version_is_the_installed_distributions() -> None:
    out = phasegraph("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"phasegraph {importlib.metadata.version('phasegraph')}\n"


def test_skills_json_lists_every_skill_with_its_argument_schema() -> None:
    out = phasegraph("skills", "--json")
    assert out.returncode == 0, out.stderr
    skills = json.loads(out.stdout)
    assert [s["name"] for s in skills] == [s.name for s in default_registry()]
    assert all(
        set(s) == {"name", "phase", "description", "arguments", "args_schema"} for s in skills
    )
    edit = next(s for s in skills if s["name"] == "edit_block")
    assert edit["phase"] == "write"
    assert edit["arguments"] == ["path", "search", "replace"]
    assert set(edit["args_schema"]["required"]) == {"path", "search", "replace"}
    assert edit["args_schema"]["properties"]["path"]["type"] == "string"


def test_validate_json_says_valid_or_why_not_with_the_same_keys(
    make_repo: MakeRepo, plan: Path, tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    good = phasegraph("validate", str(plan), "-w", str(repo), "--json")
    assert good.returncode == 0, good.stderr
    verdict = json.loads(good.stdout)
    assert verdict["valid"] is True and verdict["error"] is None
    assert verdict["goal"] == "bump A" and verdict["workspace"] == str(repo)
    assert [(s["id"], s["phase"], s["after"]) for s in verdict["steps"]] == [
        ("e1", "write", []),
        ("lint", "verify", []),
        ("commit", "commit", []),
    ]

    bad_plan = tmp_path / "bad.yaml"
    bad_plan.write_text(PLAN.replace("run_ruff", "run_rufff"))
    bad = phasegraph("validate", str(bad_plan), "--json")
    assert bad.returncode == 2
    refused = json.loads(bad.stdout)
    assert set(refused) == set(verdict)
    assert refused["valid"] is False and refused["steps"] == []
    assert "run_rufff" in refused["error"]


def test_run_works_in_the_current_folder_and_history_json_lists_its_checkpoints(
    make_repo: MakeRepo, plan: Path
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    out = phasegraph("run", str(plan), "--thread", "t1", cwd=repo)  # no -w: the current folder
    assert out.returncode == 0, out.stdout + out.stderr
    assert (repo / "a.py").read_text() == "A = 2\n"
    assert git(repo, "log", "-1", "--format=%s").strip() == "bump A"

    history = phasegraph("history", "t1", "--json", cwd=repo)
    assert history.returncode == 0, history.stderr
    rows = json.loads(history.stdout)
    assert all(set(r) == {"step", "checkpoint", "saved_at", "next", "todo"} for r in rows)
    assert rows[0]["next"] == [] and list(rows[0]["todo"]) == ["done"]  # newest first: the end
    assert rows[-1]["step"] == -1 and rows[-1]["todo"] == {}  # the input
    assert len({r["checkpoint"] for r in rows}) == len(rows)

    unknown = phasegraph("history", "nope", "--json", cwd=repo)
    assert unknown.returncode == 2 and "no run with thread nope" in unknown.stderr


def test_the_pyproject_table_sets_the_defaults_and_a_flag_wins(
    make_repo: MakeRepo, plan: Path
) -> None:
    files = {
        "a.py": "A = 1\n",
        "b.py": "import os\n",  # a finding from before the run: blocks only a strict run
        "pyproject.toml": '[tool.phasegraph]\nstrict = true\ndb = "runs.sqlite"\n',
    }
    strict_repo, flagged_repo = make_repo(files), make_repo(files)

    strict = phasegraph("run", str(plan), "-w", str(strict_repo), "--thread", "t1")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "stopped at step 'lint' (gate)" in strict.stdout
    assert (strict_repo / "runs.sqlite").is_file()  # the table's database, from the workspace
    assert not (strict_repo / ".phasegraph" / "state.sqlite").exists()
    runs = phasegraph("runs", "-w", str(strict_repo), "--json")  # found through the table
    assert [(r["thread"], r["status"]) for r in json.loads(runs.stdout)] == [("t1", "stopped")]

    loose = phasegraph("run", str(plan), "-w", str(flagged_repo), "--no-strict")
    assert loose.returncode == 0, loose.stdout + loose.stderr
    assert git(flagged_repo, "log", "-1", "--format=%s").strip() == "bump A"


def _defaults(workspace: Path, *flags: str) -> tuple[RunOptions, dict[str, object]]:
    args = parser().parse_args(["run", "plan.yaml", "-w", str(workspace), *flags])
    apply_project_defaults(args)
    cli = {"db": args.db, "model": args.model, "base_url": args.base_url, "key": args.api_key_env}
    return options_from(args, bool(args.strict)), cli


def test_every_key_of_the_table_is_a_default_under_its_flag(tmp_path: Path) -> None:
    assert _defaults(tmp_path) == (RunOptions(), dict.fromkeys(("db", "model", "base_url", "key")))
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\n\n[tool.phasegraph]\n"
        'strict = true\nbaseline = "before"\nstep_timeout = 12.5\nretries = 2\n'
        'on_stop = "restore"\npython = ".venv"\ndb = "state/runs.sqlite"\n'
        'allow_hosts = ["intranet", "10.0.0.0/8"]\nmodel = "llama3"\n'
        'base_url = "http://localhost:8000/v1"\napi_key_env = "MY_KEY"\n'
    )
    options, cli = _defaults(tmp_path)
    assert options == RunOptions(
        strict=True,
        baseline="before",
        step_timeout=12.5,
        retries=2,
        on_stop="restore",
        python=str(tmp_path / ".venv"),  # from the workspace, not the current folder
        allow_hosts=("intranet", "10.0.0.0/8"),
    )
    assert cli == {
        "db": str(tmp_path / "state" / "runs.sqlite"),
        "model": "llama3",
        "base_url": "http://localhost:8000/v1",
        "key": "MY_KEY",
    }
    options, cli = _defaults(
        tmp_path,
        *("--no-strict", "--baseline", "auto", "--step-timeout", "5", "--retries", "4"),
        *("--on-stop", "keep", "--python", "/usr/bin/python3", "--allow-host", "h"),
        *("--db", "postgresql://db/x", "--model", "m", "--base-url", "http://h/v1"),
        *("--api-key-env", "K"),
    )
    assert options == RunOptions(
        step_timeout=5, retries=4, python="/usr/bin/python3", allow_hosts=("h",)
    )
    assert cli == {"db": "postgresql://db/x", "model": "m", "base_url": "http://h/v1", "key": "K"}


@pytest.mark.parametrize(
    ("table", "told"),
    [
        ("strct = true", ["unknown key 'strct'", "did you mean 'strict'?", "rename or remove"]),
        ("step-timeout = 30", ["unknown key 'step-timeout'", "did you mean 'step_timeout'?"]),
        ('step_timeout = "30"', ['step_timeout = "30" is not a number', "step_timeout = 300"]),
        ("strict = 1", ["strict = 1 is not true or false", "strict = true"]),
        ('baseline = "after"', ['baseline = "after" is not one of "auto", "before"']),
        ("retries = 0", ["retries = 0 is not a whole number", "retries = 2"]),
        ("allow_hosts = 'h'", ["allow_hosts", "is not a list"]),
        ("strict = tru", ["could not be read as TOML", "fix the file"]),
    ],
)
def test_a_bad_table_is_bad_input_and_nothing_runs(
    make_repo: MakeRepo, plan: Path, table: str, told: list[str]
) -> None:
    repo = make_repo({"a.py": "A = 1\n", "pyproject.toml": f"[tool.phasegraph]\n{table}\n"})
    before = snapshot(repo)
    out = phasegraph("run", str(plan), "-w", str(repo), "--json")
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stdout == ""
    error = " ".join(out.stderr.split())  # as one line, whatever the terminal's width
    assert str(repo / "pyproject.toml") in error and "nothing was run" in error
    for text in told:
        assert text in error
    assert snapshot(repo) == before and not (repo / ".phasegraph").exists()


def test_a_wrong_table_is_an_error_for_every_command_that_reads_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.phasegraph]\nstrict = 'yes'\n")
    args = parser().parse_args(["runs", "-w", str(tmp_path)])
    with pytest.raises(PreflightError, match=r"strict = \"yes\" is not true or false"):
        apply_project_defaults(args)


def test_a_run_stopped_while_planning_prints_no_empty_table(make_repo: MakeRepo) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    with fake_llm() as llm:
        llm.answers = [{"goal": "rename A", "steps": []}] * 3  # never a plan with steps
        out = phasegraph(
            "run", "--request", "rename A", "--model", "fake", "--base-url", llm.url, cwd=repo
        )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "┏" not in out.stdout and "┃" not in out.stdout  # no table without rows
    assert "goal: rename A" in out.stdout
    assert "no step ran: the run stopped while planning" in out.stdout
    assert "stopped (input): the model's plan was still invalid" in out.stdout


def test_live_progress_draws_no_table_before_a_step_exists() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with Progress(console):
        pass
    assert "┏" not in screen.getvalue() and "┃" not in screen.getvalue()
    with Progress(console) as progress:
        progress.on_event({"event": "step", "id": "e1", "phase": "write", "status": "pending"})
    assert "e1" in screen.getvalue()


def _built(source: Path, hook: str, out: Path) -> Path:
    """Run setuptools' PEP 517 hook (what ``python -m build`` calls) in ``source``."""
    code = f"from setuptools import build_meta as b; print(b.{hook}({str(out)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=source, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out / done.stdout.strip().splitlines()[-1]


SKIPPED = shutil.ignore_patterns(
    ".git", ".venv", "*.egg-info", "build", "dist", "__pycache__", ".*_cache", ".hypothesis",
    ".phasegraph", ".langgraph_api", ".ipynb_checkpoints",
)  # fmt: skip


def test_the_sdist_ships_all_of_tests_and_the_wheel_the_package_alone(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIPPED)
    tests = {p.relative_to(source).as_posix() for p in (source / "tests").rglob("*")}
    tests = {name for name in tests if (source / name).is_file()}
    junk = ["tests/__pycache__/x.cpython-311.pyc", "tests/cli/.phasegraph/state.sqlite"]
    for name in junk:  # what a developer's tree holds and no release should
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(b"x")

    sdist = _built(source, "build_sdist", tmp_path / "dist")
    with tarfile.open(sdist) as tar:
        top = f"phasegraph-{importlib.metadata.version('phasegraph')}/"
        shipped = {m.name.removeprefix(top) for m in tar.getmembers() if m.isfile()}
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert {"LICENSE", "README.md", "pyproject.toml", "MANIFEST.in"} <= shipped
    assert "MIT License" in (tmp_path / "unpacked" / top / "LICENSE").read_text()
    assert {n for n in shipped if n.startswith("tests/")} == tests  # all of them
    assert not shipped & set(junk)
    package = {
        p.relative_to(source).as_posix()
        for p in source.rglob("*.py")
        if p.parts[len(source.parts)] not in ("tests", "bench", "notebooks")
    }
    assert package <= shipped

    wheel = _built(tmp_path / "unpacked" / top, "build_wheel", tmp_path / "wheel")
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = whl.read(info).decode()
    assert {f"phasegraph/{n}" for n in package} <= names  # every module, every subpackage
    assert {
        "phasegraph/py.typed",
        "phasegraph/prompts/planner.md",
        "phasegraph/skills/run_pytest/reporter_plugin.py",
        "phasegraph/demo/sample_repo/inventory/config.py",
        "phasegraph/demo/sample_repo/tests/test_config.py",
    } <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata
    assert not any(n.startswith(("tests/", "phasegraph/tests/", "bench/")) for n in names)
