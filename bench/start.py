"""Bench 6: how long the CLI takes to start, for commands that run nothing.

Times ``phasegraph --help`` and ``phasegraph skills`` (the median of ``--repeats`` runs, 5
by default) beside a bare ``python -c pass`` of the same interpreter, measured in the same
run. Target: ``phasegraph skills`` within 1.0 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from common import emit, repeats

COMMANDS = {
    "python": [sys.executable, "-c", "pass"],
    "help": [sys.executable, "-m", "phasegraph.cli.main", "--help"],
    "skills": [sys.executable, "-m", "phasegraph.cli.main", "skills"],
}


def median_run(argv: list[str], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str]) -> None:
    reps = repeats(argv, 5)
    medians = {name: median_run(command, reps) for name, command in COMMANDS.items()}
    emit(
        {
            "bench": "start",
            **{f"{name}_s": round(value, 3) for name, value in medians.items()},
            "skills_within_1s": medians["skills"] <= 1.0,
        }
    )


if __name__ == "__main__":
    main(sys.argv[1:])
