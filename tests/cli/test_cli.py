"""The command line as a user runs it: real processes, exit codes, JSON reports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.repos import git, require_program, snapshot, text_server

MakeRepo = Callable[[dict[str, str]], Path]


def phasegraph(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phasegraph.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff", "mypy"):
        require_program(name)


def test_demo_ends_with_a_commit(tmp_path: Path, no_git_identity: None) -> None:
    repo = tmp_path / "demo"
    out = phasegraph("demo", "--dir", str(repo), "--report", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "completed"
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "log", "-1", "--format=%s").strip() == "Rename load_config to read_config"
    assert "load_config" not in (repo / "inventory" / "config.py").read_text()
    assert git(repo, "status", "--porcelain") == ""
    phases = [s["phase"] for s in report["steps"]]
    assert phases == sorted(phases, key=["read", "write", "verify", "commit"].index)
    assert "completed" in out.stdout


def test_run_stops_with_exit_1_and_a_report(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "A = 1\n", "b/keep.txt": "b is a folder\n"})
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "goal: two writes\n"
        "steps:\n"
        "  - {id: e1, skill: edit_block, args: {path: a.py, search: 'A = 1', replace: 'A = 2'}}\n"
        "  - {id: e2, skill: write_file, args: {path: b, content: 'x'}}\n"
        "  - {id: lint, skill: run_ruff}\n"
        "  - {id: commit, skill: git_checkpoint, args: {message: m}}\n"
    )
    out = phasegraph(
        "run", str(plan), "--workspace", str(repo), "--report", str(tmp_path / "r.json")
    )
    assert out.returncode == 1, out.stdout + out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "stopped"
    assert report["commit"] is None
    assert report["failed_step"] == "e2"
    assert "'b'" in report["error"]
    assert [(s["id"], s["skill"], s["phase"], s["status"]) for s in report["steps"]] == [
        ("e1", "edit_block", "write", "done"),
        ("e2", "write_file", "write", "failed"),
        ("lint", "run_ruff", "verify", "skipped"),
        ("commit", "git_checkpoint", "commit", "skipped"),
    ]
    assert all(isinstance(s["summary"], str) for s in report["steps"])


def test_a_search_that_matches_twice_exits_2_before_any_step(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "A = 1\nA = 1\n", "test_a.py": "def test_a():\n    pass\n"})
    before = snapshot(repo)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "goal: ambiguous edit\n"
        "steps:\n"
        "  - {id: find, skill: rg_search, args: {pattern: A}}\n"
        "  - {id: e, skill: edit_block, args: {path: a.py, search: 'A = 1', replace: 'A = 2'}}\n"
        "  - {id: tests, skill: run_pytest}\n"
    )
    checked = phasegraph("validate", str(plan), "--workspace", str(repo))
    assert checked.returncode == 2
    assert (
        "step 'e': search text 'A = 1' matches 2 times in 'a.py'" in checked.stderr + checked.stdout
    )

    out = phasegraph("run", str(plan), "--workspace", str(repo), "--json")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "step 'e': search text 'A = 1' matches 2 times in 'a.py'" in out.stderr
    # Nothing ran: no event at all was printed, and the repository is as it was.
    assert out.stdout == ""
    assert snapshot(repo) == before


def test_bad_plan_exits_2_and_touches_nothing(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    before = snapshot(repo)
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "goal": "g",
                "steps": [
                    {
                        "id": "w",
                        "skill": "write_file",
                        "args": {"path": "../escape.py", "content": "x"},
                    }
                ],
            }
        )
    )
    out = phasegraph("run", str(plan), "--workspace", str(repo))
    assert out.returncode == 2
    assert "step 'w'" in out.stderr and "climbs out of the workspace" in out.stderr
    assert snapshot(repo) == before
    assert not (tmp_path / "escape.py").exists()


def test_preflight_failures_exit_2(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("goal: g\nsteps:\n  - {id: c, skill: git_checkpoint, args: {message: m}}\n")
    out = phasegraph("run", str(plan), "--workspace", str(tmp_path / "nope"))
    assert out.returncode == 2 and "is not a directory" in out.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    out = phasegraph("run", str(plan), "--workspace", str(plain))
    assert out.returncode == 2 and "not a git repository" in out.stderr


def test_validate_and_skills(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("goal: g\nsteps:\n  - {id: s, skill: rg_search, args: {pattern: x}}\n")
    out = phasegraph("validate", str(good))
    assert out.returncode == 0 and "valid plan of 1 steps" in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("goal: g\nsteps:\n  - {id: s, skill: rg_search, args: {}, after: [s]}\n")
    out = phasegraph("validate", str(bad))
    assert out.returncode == 2
    assert "step 's': bad args for rg_search: pattern" in out.stderr
    assert "step 's': depends on itself" in out.stderr
    out = phasegraph("skills")
    assert out.returncode == 0
    for name in (
        "rg_search",
        "get_file_outline",
        "fetch_url",
        "edit_block",
        "run_pytest",
        "git_checkpoint",
    ):
        assert name in out.stdout


#: What ``phasegraph skills`` must not pay for at start-up: each loads where it is used.
HEAVY = ("httpx", "httpcore", "langgraph", "langchain_core", "langsmith", "mcp", "tree_sitter")

LOADED_BY_SKILLS = f"""
import sys
from phasegraph.cli.main import main
code = main(["skills"])
print("LOADED", sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def test_listing_the_skills_loads_no_network_graph_or_model_stack() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LOADED_BY_SKILLS], capture_output=True, text=True, timeout=300
    )

    assert out.returncode == 0, out.stderr
    assert "fetch_url" in out.stdout
    assert "LOADED []" in out.stderr


def test_plan_show_prints_the_dag_as_text_and_mermaid(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "goal: show me\n"
        "steps:\n"
        "  - {id: find, skill: rg_search, args: {pattern: x}}\n"
        "  - {id: edit, skill: edit_block, args: {path: a.py, search: x, replace: y}}\n"
        "  - {id: lint, skill: run_ruff}\n"
        "  - {id: commit, skill: git_checkpoint, args: {message: m}, after: [lint]}\n"
    )
    out = phasegraph("plan", "show", str(plan))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    order = [
        next(n for n, line in enumerate(lines) if step in line)
        for step in ("find", "edit", "lint", "commit")
    ]
    assert order == sorted(order)
    assert "read (in parallel)" in out.stdout and "write (one at a time" in out.stdout
    mermaid = phasegraph("plan", "show", str(plan), "--mermaid")
    assert mermaid.returncode == 0
    assert mermaid.stdout.startswith("flowchart")
    assert "-.->" in mermaid.stdout  # the explicit 'after' edge lint -> commit
    bad = tmp_path / "bad.yaml"
    bad.write_text("goal: g\nsteps:\n  - {id: a, skill: nope}\n")
    out = phasegraph("plan", "show", str(bad))
    assert out.returncode == 2 and "unknown skill 'nope'" in out.stderr


def test_fetching_a_local_address_needs_allow_host(tmp_path: Path) -> None:
    with text_server("hello from the intranet") as url:
        plan = tmp_path / "plan.yaml"
        plan.write_text(
            f"goal: g\nsteps:\n  - {{id: page, skill: fetch_url, args: {{url: '{url}/'}}}}\n"
        )
        ws = tmp_path / "ws"
        ws.mkdir()
        refused = phasegraph("run", str(plan), "-w", str(ws), "--report", str(tmp_path / "r.json"))
        assert refused.returncode == 1
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["failed_step"] == "page" and "127.0.0.1" in report["error"]
        allowed = phasegraph("run", str(plan), "-w", str(ws), "--allow-host", "127.0.0.1")
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
