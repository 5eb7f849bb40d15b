"""The run records a workspace keeps in ``.phasegraph/runs/``: written whole, found by run id
or thread, never a path outside their folder, and a damaged one skipped."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from phasegraph.graph.durable.run_index import (
    find_run,
    record_of,
    record_run,
    recorded_runs,
    undo_values,
    valid_run_id,
)


def state(run_id: str, workspace: Path, **more: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "workspace": str(workspace),
        "written": ["a.py", "new.py"],
        "created": ["new.py"],
        "written_sha": {"a.py": "1" * 64, "new.py": "2" * 64},
        "head": "3" * 40,
        "steps": {"s": {"started_at": 1_700_000_000.0}},
        **more,
    }


def test_a_record_holds_what_undo_needs_and_is_owner_only(tmp_path: Path) -> None:
    record = record_of(
        state("r1", tmp_path, commit_sha="4" * 40), thread="t1", status="completed", restored=False
    )
    record_run(tmp_path, record)

    path = tmp_path / ".phasegraph" / "runs" / "r1.json"
    assert json.loads(path.read_text())["thread"] == "t1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert record["started"] == "2023-11-14T22:13:20+00:00"
    values = undo_values(record, tmp_path)
    assert values == {
        "workspace": str(tmp_path),
        "run_id": "r1",
        "head": "3" * 40,
        "written": ["a.py", "new.py"],
        "created": ["new.py"],
        "written_sha": {"a.py": "1" * 64, "new.py": "2" * 64},
        "commit_sha": "4" * 40,
    }


def test_a_run_is_found_by_its_id_or_its_thread(tmp_path: Path) -> None:
    for run_id, thread in (("r1", "shared"), ("r2", "shared"), ("r3", None)):
        rec = record_of(state(run_id, tmp_path), thread=thread, status="stopped", restored=False)
        rec["time"] = f"2024-01-0{run_id[1]}T00:00:00+00:00"
        record_run(tmp_path, rec)

    assert (found := find_run(tmp_path, "r1")) is not None and found["run_id"] == "r1"
    # A thread names its newest run.
    assert (found := find_run(tmp_path, "shared")) is not None and found["run_id"] == "r2"
    assert find_run(tmp_path, "unknown") is None
    assert [r["run_id"] for r in recorded_runs(tmp_path)] == ["r3", "r2", "r1"]


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", "", "x" * 200, "a..b"])
def test_a_run_id_that_is_not_a_plain_name_names_no_file(tmp_path: Path, bad: str) -> None:
    assert not valid_run_id(bad)
    assert find_run(tmp_path, bad) is None
    rec = record_of(state("ok", tmp_path), thread=None, status="stopped", restored=False)
    rec["run_id"] = bad
    with pytest.raises(ValueError, match="cannot name a run record"):
        record_run(tmp_path, rec)


def test_a_damaged_record_is_skipped(tmp_path: Path) -> None:
    record_run(
        tmp_path, record_of(state("good", tmp_path), thread="t", status="stopped", restored=True)
    )
    folder = tmp_path / ".phasegraph" / "runs"
    (folder / "torn.json").write_text('{"run_id": "torn", "writ')
    (folder / "list.json").write_text("[1, 2]")

    assert [r["run_id"] for r in recorded_runs(tmp_path)] == ["good"]
    assert find_run(tmp_path, "torn") is None
    assert recorded_runs(tmp_path / "nowhere") == []
