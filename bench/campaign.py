"""Bench: repositories per minute for a campaign of the rename recipe, against a shell loop.

N generated repositories (``--repos N``, default 12), each a small Python project (a module
defining ``compute_total``, two or three modules using it, a test file), each a bare repo
served by ``file://`` URL from a temporary folder the owner's ``PHASEGRAPH_REMOTES`` lists.
The same rename (``compute_total`` to ``total_price``: the recipe's ruff, mypy and pytest
checks, then a commit) runs over all of them, measured side by side in the same run:

- ``loop``: what a team would write without campaigns, a sequential ``bash`` loop of
  ``git clone`` + ``phasegraph run PLAN -w DIR`` (the venv's console script) +
  ``git push origin HEAD:refs/heads/BRANCH``;
- ``campaign``: ``run_campaign`` in library mode (no server) at concurrency 1, 2 and 4;
- ``clone_push``: the per-repository cost of ``clone_at`` + ``push_new_branch`` of a
  prepared commit on the local remote, without any run.

Each measurement pushes to a branch of its own, and every one is checked (every repository
pushed, its branch one commit on ``main`` holding the rename), so no failure is measured.
With ``--repeats R`` the measurements take turns R times and the medians are kept. Prints
one JSON line: repos/minute for each, the ratio campaign/loop at each concurrency, the
clone + push seconds, and whether each goal is met (>= 1.6x the loop at concurrency 2;
clone + push under 0.5 s a repository). A missed goal is reported, not an exit code.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import emit, repeats

from phasegraph.campaign.run import run_campaign
from phasegraph.skills.guards.gitremote import RemoteAccess, clone_at, push_new_branch

GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@phasegraph.invalid"]
CONCURRENCY = (1, 2, 4)
#: The goals: campaign/loop at concurrency 2, and clone + push seconds a repository.
RATIO_GOAL = 1.6
CLONE_PUSH_GOAL = 0.5
PLAN: dict[str, Any] = {
    "goal": "Rename compute_total to total_price across the shop package, keeping it green",
    "recipe": {
        "name": "rename",
        "args": {"old": "compute_total", "new": "total_price", "defined_in": "shop/pricing.py"},
    },
}

PYPROJECT = """[project]
name = "shop{i}"
version = "0.1.0"
requires-python = ">=3.11"

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]

[tool.mypy]
strict = true
explicit_package_bases = true

[tool.ruff.lint]
select = ["E", "F", "I"]

[tool.ruff.lint.isort]
known-first-party = ["shop"]
"""
PRICING = '''"""Prices of shop {i}."""

from __future__ import annotations


def compute_total(prices: list[float], rate: float = {rate}) -> float:
    """The sum of ``prices`` with ``rate`` of tax on top, to the cent."""
    return round(sum(prices) * (1 + rate), 2)
'''
USER = '''"""The {name} of shop {i}."""

from __future__ import annotations

from shop.pricing import compute_total


def {name}_total(prices: list[float]) -> float:
    """What the {name} comes to."""
    return compute_total(prices)
'''
TEST = """{imports}

def test_no_prices_cost_nothing() -> None:
    assert compute_total([]) == 0


def test_tax_is_added() -> None:
    assert compute_total([10.0], rate=0.5) == 15.0
{tests}"""
USER_TEST = """

def test_{name}() -> None:
    assert {name}_total([1.0, 2.0]) == compute_total([1.0, 2.0])
"""


def project(i: int) -> dict[str, str]:
    """Repository ``i``'s files: two or three modules use the function the rename renames."""
    users = ["cart", "invoice", "receipt"][: 2 + i % 2]
    imported = [f"from shop.{u} import {u}_total\n" for u in users]
    imports = "".join(sorted([*imported, "from shop.pricing import compute_total\n"]))
    files = {
        "pyproject.toml": PYPROJECT.format(i=i),
        "shop/__init__.py": f'"""Shop {i}."""\n',
        "shop/pricing.py": PRICING.format(i=i, rate=round(0.05 + i / 100, 2)),
        "tests/test_pricing.py": TEST.format(
            imports=imports, tests="".join(USER_TEST.format(name=u) for u in users)
        ),
    }
    files.update({f"shop/{u}.py": USER.format(name=u, i=i) for u in users})
    return files


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def make_remotes(root: Path, count: int) -> list[tuple[Path, str]]:
    """``count`` bare repositories under ``root/remotes``: each one and its ``file://`` URL."""
    made = []
    for i in range(count):
        seed = root / "seeds" / f"shop{i}"
        for rel, text in project(i).items():
            (seed / rel).parent.mkdir(parents=True, exist_ok=True)
            (seed / rel).write_text(text)
        git(seed, "init", "-q", "-b", "main")
        git(seed, "add", "-A")
        git(seed, "commit", "-q", "-m", "Shop")
        bare = root / "remotes" / f"shop{i}.git"
        git(root, "clone", "-q", "--bare", str(seed), str(bare))
        made.append((bare, bare.resolve().as_uri()))
    return made


def check_pushed(remotes: list[tuple[Path, str]], branch: str, what: str) -> int:
    """How many repositories have ``branch``: one commit on ``main``, holding the rename;
    anything else stops the bench (it never measures failures)."""
    for bare, url in remotes:
        found = subprocess.run(
            ["git", "rev-list", "--count", f"main..refs/heads/{branch}"],
            cwd=bare,
            capture_output=True,
            text=True,
        )
        if found.returncode != 0:
            sys.exit(f"{what}: {url} has no branch {branch}: nothing was pushed there")
        if found.stdout.strip() != "1":
            sys.exit(
                f"{what}: {url} branch {branch}: {found.stdout.strip()} commits on main, not 1"
            )
        pricing = git(bare, "show", f"refs/heads/{branch}:shop/pricing.py")
        if "def total_price(" not in pricing:
            sys.exit(f"{what}: {url} branch {branch}: shop/pricing.py was not renamed")
    return len(remotes)


LOOP = r"""set -euo pipefail
plan=$1 phasegraph=$2 branch=$3 work=$4
shift 4
for url in "$@"; do
  name=$(basename "$url" .git)
  dir="$work/$name"
  git clone -q "$url" "$dir"
  if ! "$phasegraph" run "$plan" -w "$dir" --report "$work/$name.json" >"$work/$name.log" 2>&1
  then
    cat "$work/$name.log" >&2
    exit 1
  fi
  git -C "$dir" push -q origin "HEAD:refs/heads/$branch"
  rm -rf "$dir"
done
"""


def run_loop(
    root: Path, remotes: list[tuple[Path, str]], plan: Path, branch: str
) -> tuple[float, int]:
    """Seconds the shell loop takes over every repository, pushing to ``branch``; and how
    many pushed."""
    work = Path(tempfile.mkdtemp(prefix="loop-", dir=root))
    phasegraph = Path(sys.executable).with_name("phasegraph")
    urls = [url for _, url in remotes]
    argv = ["bash", "-c", LOOP, "bash", str(plan), str(phasegraph), branch, str(work), *urls]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"the shell loop failed (exit {done.returncode}): {done.stderr[-3000:]}")
    for report in sorted(work.glob("*.json")):
        data = json.loads(report.read_text())
        if data.get("status") != "completed" or not data.get("commit"):
            sys.exit(f"shell loop: {report.stem} did not commit: {data.get('error')}")
    pushed = check_pushed(remotes, branch, "shell loop")
    shutil.rmtree(work, ignore_errors=True)
    return seconds, pushed


def run_with_campaign(
    remotes: list[tuple[Path, str]], concurrency: int, branch: str
) -> tuple[float, int]:
    """Seconds ``run_campaign`` takes over every repository, here (no server); and how many
    pushed."""
    repos = [{"repo": url, "ref": "main"} for _, url in remotes]
    campaign_id = branch.replace("/", "-")
    started = time.perf_counter()
    result = asyncio.run(
        run_campaign(PLAN, repos, campaign_id=campaign_id, branch=branch, concurrency=concurrency)
    )
    seconds = time.perf_counter() - started
    bad = [o for o in result.outcomes if o.status != "pushed"]
    if bad:
        why = "; ".join(f"{o.repo}: {o.status} at {o.step or '-'}: {o.reason}" for o in bad)
        sys.exit(f"campaign at concurrency {concurrency}: not every repository pushed: {why}")
    for outcome, (bare, _) in zip(result.outcomes, remotes, strict=True):
        if git(bare, "rev-parse", f"refs/heads/{branch}") != outcome.commit:
            sys.exit(f"campaign: {outcome.repo}: the branch is not at the commit reported")
    return seconds, check_pushed(remotes, branch, f"campaign at concurrency {concurrency}")


def clone_and_push(root: Path, remotes: list[tuple[Path, str]], branch: str) -> dict[str, float]:
    """The mean seconds of ``clone_at`` and of ``push_new_branch`` a repository: a commit is
    made between the two (not timed), as a run's would be."""
    access = RemoteAccess.from_env()
    clone_s, push_s = [], []
    for i, (_, url) in enumerate(remotes):
        dest = root / "direct" / f"shop{i}"
        started = time.perf_counter()
        base = clone_at(url, "main", dest, access)
        clone_s.append(time.perf_counter() - started)
        pricing = dest / "shop" / "pricing.py"
        pricing.write_text(pricing.read_text().replace("compute_total", "total_price"))
        git(dest, "commit", "-qam", "Rename compute_total to total_price")
        commit = git(dest, "rev-parse", "HEAD")
        started = time.perf_counter()
        pushed = push_new_branch(dest, url, branch, commit, base, access, protected="main")
        push_s.append(time.perf_counter() - started)
        if pushed.sha != commit or pushed.already:
            sys.exit(f"clone + push: {url}: pushed {pushed}, not a new branch at {commit}")
        shutil.rmtree(dest)
    pushed = check_pushed(remotes, branch, "clone + push")
    clone, push = statistics.mean(clone_s), statistics.mean(push_s)
    return {"clone_s": clone, "push_s": push, "clone_push_s": clone + push, "pushed": pushed}


def count(argv: list[str], default: int) -> int:
    return int(argv[argv.index("--repos") + 1]) if "--repos" in argv else default


def per_minute(repos: int, seconds: float) -> float:
    return round(repos * 60 / seconds, 2)


def main(argv: list[str]) -> None:
    n = count(argv, 12)
    reps = repeats(argv, 1)
    if n < 1 or reps < 1:
        sys.exit(f"--repos and --repeats take 1 or more, not {n} and {reps}")
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="phasegraph-bench-campaign-")).resolve()
    try:
        (root / "remotes").mkdir()
        os.environ["PHASEGRAPH_REMOTES"] = (root / "remotes").as_uri() + "/"
        os.environ["PHASEGRAPH_WORK_DIR"] = str(root / "work")
        for unset in ("PHASEGRAPH_PREPARE", "PHASEGRAPH_PREPARE_ALLOW"):
            os.environ.pop(unset, None)
        remotes = make_remotes(root, n)
        plan = root / "plan.json"
        plan.write_text(json.dumps(PLAN))
        loop: list[tuple[float, int]] = []
        camp: dict[int, list[tuple[float, int]]] = {c: [] for c in CONCURRENCY}
        direct: list[dict[str, float]] = []
        for round_ in range(reps):  # in turns, so the machine's drift weighs on each alike
            loop.append(run_loop(root, remotes, plan, f"bench/loop-{round_}"))
            for c in CONCURRENCY:
                camp[c].append(run_with_campaign(remotes, c, f"bench/campaign-c{c}-{round_}"))
            direct.append(clone_and_push(root, remotes, f"bench/direct-{round_}"))
        loop_s = statistics.median(s for s, _ in loop)
        campaign: dict[str, dict[str, float]] = {}
        for c in CONCURRENCY:
            seconds = statistics.median(s for s, _ in camp[c])
            campaign[str(c)] = {
                "seconds": round(seconds, 2),
                "repos_per_min": per_minute(n, seconds),
                "ratio": round(loop_s / seconds, 2),
                "pushed": sum(p for _, p in camp[c]),
            }
        cost = {k: round(statistics.median(d[k] for d in direct), 3) for k in direct[0]}
        cost["pushed"] = sum(d["pushed"] for d in direct)
        emit(
            {
                "bench": "campaign",
                "repos": n,
                "repeats": reps,
                "loop": {
                    "seconds": round(loop_s, 2),
                    "repos_per_min": per_minute(n, loop_s),
                    "pushed": sum(p for _, p in loop),
                },
                "campaign": campaign,
                "clone_push": cost,
                "ratio_goal": RATIO_GOAL,
                "ratio_goal_met": campaign["2"]["ratio"] >= RATIO_GOAL,
                "clone_push_goal_s": CLONE_PUSH_GOAL,
                "clone_push_goal_met": cost["clone_push_s"] < CLONE_PUSH_GOAL,
                "bench_s": round(time.perf_counter() - started, 1),
            }
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
