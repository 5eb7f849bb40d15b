"""A campaign on a real ``langgraph dev``, driven by the ``phasegraph campaign`` command: 20
generated repositories served by file:// URL (bare repos on this disk, as a git server would
serve them) and one the server's owner does not list, a rename recipe over all of them, the
server killed (SIGKILL) in the middle and started again, the command run again to the end.

The oracle is the remotes themselves: each repository whose checks pass has a branch with
exactly one commit (the rename, its whole test suite green on it); each whose tests the
rename breaks has no branch; the unlisted one was never cloned.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.remotes import bare_remote, branch_head, commits_on, file_at
from support.repos import full_suite, git, require_program
from support.served import TOKEN, Server, served_config

COUNT = 20
#: These repositories call the function by its name in a string: the rename cannot see it,
#: their tests fail after it, and the campaign must report them blocked and push nothing.
BLOCKED = {3, 11, 17}
BRANCH = "phasegraph/grand-total"
PLAN = {
    "goal": "Rename total to grand_total",
    "recipe": {
        "name": "rename",
        "args": {"old": "total", "new": "grand_total", "defined_in": "calc.py"},
    },
}


def project(n: int) -> dict[str, str]:
    files = {
        "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
        "calc.py": f'"""Project {n}."""\n\n\ndef total(values):\n    return sum(values)\n',
        "report.py": "from calc import total\n\n\ndef summary(values):\n"
        "    return f'{total(values)} in all'\n",
        "test_calc.py": "from calc import total\nfrom report import summary\n\n\n"
        f"def test_total():\n    assert total([{n}, 1]) == {n + 1}\n\n\n"
        "def test_summary():\n    assert summary([2]) == '2 in all'\n",
    }
    if n in BLOCKED:
        files["test_by_name.py"] = (
            "import calc\n\n\ndef test_by_name():\n    assert getattr(calc, 'total')([2]) == 2\n"
        )
    return files


@dataclass
class Fleet:
    root: Path
    listed: dict[int, tuple[Path, str]]
    unlisted: str
    plan: Path
    repos: Path


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    require_program("git")
    root = tmp_path_factory.mktemp("fleet")
    (root / "remotes").mkdir()
    (root / "elsewhere").mkdir()
    listed = {n: bare_remote(root / "remotes", f"project{n:02d}", project(n)) for n in range(COUNT)}
    _, unlisted = bare_remote(root / "elsewhere", "stranger", project(99))
    plan = root / "plan.json"
    plan.write_text(json.dumps(PLAN))
    repos = root / "repos.txt"
    urls = [url for _, url in listed.values()] + [unlisted]
    repos.write_text("# the campaign's repositories\n" + "\n".join(urls) + "\n")
    return Fleet(root, listed, unlisted, plan, repos)


def campaign(fleet: Fleet, url: str, *extra: str) -> subprocess.Popen[str]:
    """``phasegraph campaign`` against the server at ``url``, as a user runs it."""
    argv = [sys.executable, "-m", "phasegraph.cli.main", "campaign", str(fleet.plan)]
    argv += ["--repos", str(fleet.repos), "--server", url, "--branch", BRANCH, *extra]
    env = {**os.environ, "PHASEGRAPH_SERVER_TOKEN": TOKEN}
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def pushed(fleet: Fleet) -> list[int]:
    return [n for n, (bare, _) in fleet.listed.items() if branch_head(bare, BRANCH)]


def test_a_campaign_survives_its_server_being_killed_and_pushes_one_commit_per_repository(
    fleet: Fleet, tmp_path: Path
) -> None:
    require_program("langgraph")
    home = tmp_path / "server"
    home.mkdir()
    env = {
        "PHASEGRAPH_REMOTES": (fleet.root / "remotes").resolve().as_uri() + "/",
        "PHASEGRAPH_WORK_DIR": str(tmp_path / "work"),
    }
    server = Server(home, served_config(home, env))
    try:
        url = server.start()
        first = campaign(fleet, url)
        deadline = time.monotonic() + 600
        # Kill the server once some repositories have pushed and others have not.
        while len(pushed(fleet)) < 3:
            assert first.poll() is None, first.communicate()[0]
            assert time.monotonic() < deadline, server.tail()
            time.sleep(0.5)
        server.kill(signal.SIGKILL)
        assert len(pushed(fleet)) < COUNT - len(BLOCKED), "the server was killed too late"
        first.kill()
        first.communicate()

        url = server.start()  # the same folder: LangGraph's dev server keeps its state there
        summary = tmp_path / "summary.json"
        second = campaign(
            fleet, url, "--summary", str(summary), "--markdown", str(tmp_path / "s.md")
        )
        out, _ = second.communicate(timeout=900)
    finally:
        server.kill(signal.SIGTERM)

    assert second.returncode == 1, out  # some were blocked, one refused: not all pushed
    data: dict[str, Any] = json.loads(summary.read_text())
    by_repo = {o["repo"]: o for o in data["repos"]}
    for n, (bare, repo_url) in fleet.listed.items():
        outcome = by_repo[repo_url]
        if n in BLOCKED:
            assert outcome["status"] == "blocked", outcome
            assert any("test_by_name" in f for fs in outcome["new_findings"].values() for f in fs)
            assert branch_head(bare, BRANCH) is None
            continue
        assert outcome["status"] == "pushed", outcome
        # Exactly one commit on the branch, whatever the kill interrupted...
        assert len(commits_on(bare, BRANCH)) == 1, (n, commits_on(bare, BRANCH))
        assert outcome["commit"] == branch_head(bare, BRANCH)
        assert "def grand_total(values)" in file_at(bare, BRANCH, "calc.py")
        assert "grand_total(values)" in file_at(bare, BRANCH, "report.py")
        # ...and the whole suite green on what was pushed.
        clone = tmp_path / "check" / f"p{n}"
        git(tmp_path, "clone", "-q", "-b", BRANCH, repo_url, str(clone))
        code, counts, log = full_suite(clone)
        assert code == 0 and counts.get("passed") == 2, log
        assert branch_head(bare, "main") == git(bare, "rev-parse", "main").strip()
    refused = by_repo[fleet.unlisted]
    assert refused["status"] == "refused" and "PHASEGRAPH_REMOTES" in refused["reason"]
    assert not list((tmp_path / "work").glob("*/calc.py"))  # no clone left behind
    assert "| blocked |" in (tmp_path / "s.md").read_text()
