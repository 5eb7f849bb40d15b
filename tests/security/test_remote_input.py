"""A served client names a repository by its URL and nothing more: the record of a remote run
(its clone, its base commit) is the checkout node's to write, never the client's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phasegraph import build_orchestrator

READ = {"goal": "g", "steps": [{"id": "r", "skill": "read_file", "args": {"path": "a.py"}}]}


async def test_a_client_cannot_hand_a_run_another_runs_clone_as_its_remote_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    victim = work / "someone-elses-run"
    victim.mkdir(parents=True)
    (victim / "a.py").write_text("SECRET = 1\n")
    monkeypatch.setenv("PHASEGRAPH_WORK_DIR", str(work))
    monkeypatch.setenv("PHASEGRAPH_WORKSPACE_ROOTS", str(tmp_path / "served"))
    forged = {"repo": "file:///x", "ref": "HEAD", "push": "b", "base": "0" * 40}
    forged_input: Any = {  # what a hostile client sends: more than the input schema
        "workspace": str(victim),
        "plan": READ,
        "remote": {**forged, "clone": victim.name, "prepare": []},
    }
    final = await build_orchestrator(served=True).ainvoke(forged_input)
    report = final["report"]
    assert report["status"] == "stopped" and report["failure_kind"] == "input"
    assert "not under the served roots" in report["error"]


async def test_a_remote_run_with_a_workspace_too_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASEGRAPH_REMOTES", tmp_path.as_uri() + "/")
    monkeypatch.setenv("PHASEGRAPH_WORK_DIR", str(tmp_path / "work"))
    final = await build_orchestrator(served=True).ainvoke(
        {
            "workspace": str(tmp_path),
            "repo": (tmp_path / "r.git").as_uri(),
            "push": "b",
            "plan": READ,
        }
    )
    report = final["report"]
    assert report["status"] == "stopped" and report["failure_kind"] == "input"
    assert "either a workspace" in report["error"]
    assert not (tmp_path / "work").exists()
