"""bench/targeted.py at its smallest size, so it does not rot. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from testkit import require_program

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_targeted_bench_times_both_runs_and_targets_one_module() -> None:
    require_program("git")
    out = subprocess.run(
        [sys.executable, "targeted.py", "--small"],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    [row] = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert row["bench"] == "targeted" and row["tests"] == 4
    assert row["full_pytest_s"] > 0 and row["targeted_pytest_s"] > 0
    # The targeted run picked the one test file importing the edited module.
    assert row["targeted_summary"] == (
        "pytest: 2 passed; targeted: 1 of 2 test files (tests/test_mod0.py)"
    )
