"""Every bench script runs at its smallest size and prints its JSON lines, so none of them rots.

No timing is asserted here: the figures live in the bench output and the README.
"""

from __future__ import annotations

import pytest
from support.repos import require_program
from support.repos import run_bench as run


def test_vs_react_counts_calls_on_both_sides() -> None:
    require_program("git")
    [row] = run("vs_react.py", "--sizes", "2")
    assert row["phasegraph"]["calls"] == 2
    assert row["react"]["calls"] == 2 + 5 + 3 + 1 + 1  # one per tool call, plus the answer


def test_floor_measures_both_shapes() -> None:
    rows = run("floor.py", "--sizes", "2", "--repeats", "1")
    assert {r["shape"] for r in rows} == {"fanout", "chain"}
    assert all(r["floor_s"] > 0 and r["phasegraph_s"] > 0 for r in rows)


def test_scale_reports_storage() -> None:
    [row] = run("scale.py", "--sizes", "10")
    assert row["steps"] == 10 and row["db_bytes"] > 0


@pytest.mark.parametrize("program", ["ruff"])
def test_verify_parallel_runs_real_checks(program: str) -> None:
    require_program(program)
    [row] = run("verify_parallel.py", "--smoke", "--repeats", "1")
    assert row["checks"] == ["ruff"]


def test_real_repo_times_a_run_against_pytest_once() -> None:
    require_program("git")
    [row] = run("real_repo.py", "--tests", "10", "--repeats", "1")
    assert row["tests"] == 10
    assert row["pytest_once_s"] > 0 and row["phasegraph_run_s"] > 0
    assert row["rerun_s"] > 0 and row["chained_s"] > 0 and row["red_run_s"] > 0


def test_start_times_the_cli_beside_bare_python() -> None:
    [row] = run("start.py", "--repeats", "1")
    assert {"python_s", "help_s", "skills_s", "skills_within_1s"} <= set(row)
