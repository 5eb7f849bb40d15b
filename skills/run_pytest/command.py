"""The pytest command line of a run_pytest step, and its run: with the reporter plugin
(:mod:`phasegraph.skills.run_pytest.reporter_plugin`) copied to a temporary folder outside the
workspace, in the interpreter started ahead for the step (:mod:`phasegraph.skills.run_pytest.ahead`)
when there is one that runs exactly as a cold start would, else cold."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from phasegraph.skills.base import SkillArgs, SkillContext
from phasegraph.skills.checks import Targets, run_check, verify_env
from phasegraph.skills.guards.procs import ProcResult
from phasegraph.skills.python.env.foreign_imports import foreign_plugins, normalized
from phasegraph.skills.python.env.probe import probe
from phasegraph.skills.run_pytest import ahead as pytest_ahead
from phasegraph.skills.run_pytest.options import without_early_stop
from phasegraph.skills.run_pytest.results import read_records

#: The name pytest imports the reporter plugin by (``-p``): its file's name in the folder.
_PLUGIN = "_phasegraph_pytest_report"
#: The variable naming the report file, which the plugin reads.
_REPORT_ENV = "PHASEGRAPH_PYTEST_REPORT"
_REPORT = "report.jsonl"


async def start_ahead(args: SkillArgs, ctx: SkillContext) -> None:
    """Start the interpreter of the run of ``ctx`` (the step's run after the writes) now
    (:mod:`pytest_ahead`); its arguments come when it runs (``args`` then)."""
    if not ctx.run_id:
        return
    env = verify_env(ctx)
    folder = await asyncio.to_thread(_plugin_folder)
    await pytest_ahead.start(
        (ctx.run_id, ctx.step_id),
        ctx.python.python,
        ctx.workspace,
        env,
        folder,
        _with_plugin(env, folder),
        timeout=ctx.timeout,
        output_cap=ctx.output_cap,
    )


def _plugin_folder() -> Path:
    """A temporary folder outside the workspace with the reporter plugin in it."""
    source = Path(__file__).with_name("reporter_plugin.py").read_text(encoding="utf-8")
    folder = Path(tempfile.mkdtemp(prefix="phasegraph-pytest-"))
    (folder / f"{_PLUGIN}.py").write_text(source, encoding="utf-8")
    return folder


def _with_plugin(env: dict[str, str], folder: Path) -> dict[str, str]:
    """``env`` with ``folder``'s plugin importable and its report file named."""
    path = os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH", "")) if p)
    return {**env, _REPORT_ENV: str(folder / _REPORT), "PYTHONPATH": path}


def _hygiene(ctx: SkillContext, args: list[str]) -> list[str]:
    """Options that keep the run the project's own: phasegraph's dependencies' plugins off
    (only in phasegraph's interpreter), and one pytest-randomly seed for the whole run, so
    the baseline and the after-run see the same order."""
    off = foreign_plugins(ctx.python, ctx.workspace)
    extra = [f"-pno:{name}" for name in off]
    plugins = {normalized(dist): name for name, dist in probe(ctx.python).pytest_plugins}
    randomly = plugins.get("pytest-randomly")
    user_off = {a[2:].removeprefix("=") for a in args if a.startswith("-p") and len(a) > 2}
    user_off |= {b for a, b in itertools.pairwise(args) if a == "-p"}
    pinned = any(a.startswith("--randomly-seed") for a in args)
    if randomly and randomly not in off and f"no:{randomly}" not in user_off and not pinned:
        extra.append(f"--randomly-seed={run_seed(ctx.run_id)}")
    return extra


def run_seed(run_id: str) -> int:
    """The shuffling seed of a run: the same for its baseline and its after-run."""
    return int(hashlib.sha256((run_id or "phasegraph").encode()).hexdigest()[:8], 16)


async def pytest_argv(
    options: list[str], ctx: SkillContext, targets: Targets, *mode: str
) -> tuple[list[str], list[str]]:
    """The pytest command line for the step's ``options`` (its ``args``, already checked)
    on ``targets`` (``mode``: more options, such as ``--collect-only``), and the early-stop
    options dropped from it."""
    extra = await asyncio.to_thread(_hygiene, ctx, options)
    kept, dropped = without_early_stop(options)
    # pytest does not honour "--" before paths, so split_targets has already
    # turned any path starting with "-" into "./-...".
    argv = [ctx.python.python, "-m", "pytest", "-p", "no:cacheprovider", "-p", _PLUGIN]
    return [*argv, "--color=no", *mode, *extra, *targets.present, *kept], dropped


async def run_reported(
    ctx: SkillContext, argv: list[str], env: dict[str, str]
) -> tuple[ProcResult, list[dict[str, Any]]]:
    """Run ``argv`` with the reporter plugin: in the interpreter started ahead for this step
    when there is one that runs exactly as a cold start would, else cold. The run, and the
    records its reporter wrote."""
    ahead = (
        pytest_ahead.claim((ctx.run_id, ctx.step_id), ctx.python.python, ctx.workspace, env)
        if ctx.run_id
        else None
    )
    folder = ahead.tmp if ahead else await asyncio.to_thread(_plugin_folder)
    try:
        if ahead is not None:
            proc = await ahead.run(argv)
        else:
            proc = await run_check(ctx, argv, _with_plugin(env, folder))
        return proc, await asyncio.to_thread(read_records, folder / _REPORT)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
