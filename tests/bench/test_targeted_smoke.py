"""bench/targeted.py at its smallest size, so it does not rot. No timing is asserted."""

from __future__ import annotations

from support.repos import require_program, run_bench


def test_targeted_bench_times_both_runs_and_targets_one_module() -> None:
    require_program("git")
    [row] = run_bench("targeted.py", "--small")
    assert row["bench"] == "targeted" and row["tests"] == 4
    assert row["full_pytest_s"] > 0 and row["targeted_pytest_s"] > 0
    # The targeted run picked the one test file importing the edited module.
    assert row["targeted_summary"] == (
        "pytest: 2 passed; targeted: 1 of 2 test files (tests/test_mod0.py)"
    )
