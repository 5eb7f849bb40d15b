"""The run_pytest skill: run the tests, report failing node ids as stable findings."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.checks import (
    Targets,
    cache_dir,
    raw_output,
    relativize,
    run_check,
    split_targets,
    verify_env,
)
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.text import clip, plural
from phasegraph.skills.guards.procs import ProcResult
from phasegraph.skills.guards.workspace import static_path_problem
from phasegraph.skills.python.pyenv import foreign_plugins, normalized, probe
from phasegraph.skills.python.selection import Selection, select_tests
from phasegraph.skills.run_pytest import ahead as pytest_ahead

#: pytest options a plan may pass that take no value (short ones combine: ``-xq``, ``-vv``).
FLAG_OPTIONS = frozenset(
    {
        "-x",
        "--exitfirst",
        "-q",
        "--quiet",
        "-v",
        "--verbose",
        "-l",
        "--showlocals",
        "-s",
        "--runxfail",
        "--strict-markers",
        "--strict-config",
        "--no-header",
        "--no-summary",
        "--disable-warnings",
        "--disable-pytest-warnings",
        "--setup-show",
        "--full-trace",
    }
)
#: pytest options a plan may pass with one value (``-k EXPR``, ``-kEXPR``, ``--tb=short``).
VALUE_OPTIONS = frozenset(
    {
        "-k",
        "-m",
        "-r",
        "-W",
        "--pythonwarnings",
        "--maxfail",
        "--tb",
        "--durations",
        "--durations-min",
        "--capture",
        "--deselect",
        "-n",
        "--numprocesses",
        "--timeout",
        # Leave a file or folder out (a test module that cannot import, say): path-checked.
        "--ignore",
        "--ignore-glob",
        # pytest-randomly's seed: a plan may pin it (phasegraph pins one per run otherwise).
        "--randomly-seed",
    }
)
#: Options named in the refusal because a plan might well try them: they write or delete
#: files (``--basetemp`` empties its folder), load code or send output over the network.
DENIED_OPTIONS = frozenset(
    {
        "--basetemp",
        "--junitxml",
        "--junit-xml",
        "--debug",
        "--log-file",
        "--pastebin",
        "-p",
        "-c",
        "--config-file",
        "--rootdir",
        "-o",
        "--override-ini",
        "--confcutdir",
        # Collects without running a test: a check that checks nothing.
        "--co",
        "--collect-only",
    }
)
#: Options that stop a run early (``-x``, ``--maxfail``): a judged run always runs its whole
#: selection, or a known failure would hide a new one behind it, so they are dropped.
EARLY_STOP = frozenset({"-x", "--exitfirst", "--maxfail"})
_SHORT_FLAGS = frozenset(o[1] for o in FLAG_OPTIONS if len(o) == 2)


def check_pytest_args(args: list[str]) -> list[str]:
    """``args`` if every one is an allowed pytest option or its value, else a ValueError.

    Only the options in :data:`FLAG_OPTIONS` and :data:`VALUE_OPTIONS` pass: a
    plan cannot load plugins, point pytest at other configuration or folders,
    or make it write files. Test paths go in ``paths``, where the workspace
    check applies, so a bare word is refused here; so is a value starting with
    ``-``, which pytest could read as another option.
    """
    wanted: str | None = None  # the option whose value comes next
    for arg in args:
        if "\x00" in arg:
            raise ValueError(f"pytest argument {arg!r} contains a NUL byte")
        if wanted is not None:
            _check_value(wanted, arg)
            wanted = None
        elif arg.startswith("--"):
            name, has_value, value = arg.partition("=")
            if name in FLAG_OPTIONS and not has_value:
                continue
            if name not in VALUE_OPTIONS:
                raise ValueError(_not_allowed(name))
            if has_value:
                _check_value(name, value)
            else:
                wanted = name
        elif arg.startswith("-") and len(arg) > 1:
            name = arg[:2]
            if name == "-p":  # only ever to switch a plugin off: -p no:NAME
                if len(arg) > 2:
                    _check_plugin_off(arg[2:].removeprefix("="))
                else:
                    wanted = name
            elif name in VALUE_OPTIONS:
                if len(arg) > 2:
                    _check_value(name, arg[2:].removeprefix("="))
                else:
                    wanted = name
            elif not all(flag in _SHORT_FLAGS for flag in arg[1:]):
                bad = next(f"-{flag}" for flag in arg[1:] if flag not in _SHORT_FLAGS)
                raise ValueError(_not_allowed(bad))
        else:
            raise ValueError(
                f"pytest argument {arg!r} is not an option; give test paths in `paths`, "
                "where they are checked against the workspace"
            )
    if wanted is not None:
        raise ValueError(f"pytest option {wanted} needs a value after it")
    return args


def without_early_stop(args: list[str]) -> tuple[list[str], list[str]]:
    """``args`` (already checked) without the options that stop a run early, and those
    dropped: ``-x`` (also inside ``-xq``), ``--exitfirst``, ``--maxfail N``."""
    kept: list[str] = []
    dropped: list[str] = []
    value_of: str | None = None  # the option whose value comes next
    for arg in args:
        if value_of is not None:
            (dropped if value_of == "--maxfail" else kept).append(arg)
            value_of = None
            continue
        name = arg.partition("=")[0] if arg.startswith("--") else arg[:2]
        if arg.startswith("--"):
            if name in EARLY_STOP:
                dropped.append(arg)
                value_of = name if name == "--maxfail" and "=" not in arg else None
                continue
            value_of = name if name in VALUE_OPTIONS and "=" not in arg else None
        elif name in VALUE_OPTIONS or name == "-p":
            value_of = name if len(arg) == 2 else None
        elif "x" in arg[1:]:  # a run of short flags
            dropped.append("-x")
            rest = arg.replace("x", "")
            if rest != "-":
                kept.append(rest)
            continue
        kept.append(arg)
    return kept, dropped


_PLUGIN_OFF = re.compile(r"no:[A-Za-z0-9_.\-]+")


def _check_plugin_off(value: str) -> None:
    if not _PLUGIN_OFF.fullmatch(value):
        raise ValueError(
            f"pytest option -p {value!r} is not allowed: a plan may switch a plugin off "
            "(-p no:NAME) but not load code from elsewhere"
        )


def _check_value(option: str, value: str) -> None:
    if option == "-p":
        _check_plugin_off(value)
        return
    if value.startswith("-"):
        raise ValueError(
            f"the value {value!r} of pytest option {option} starts with '-', so pytest could "
            f"read it as an option; write it as {option}=... without the leading '-'"
        )
    if option in ("--deselect", "--ignore", "--ignore-glob"):
        problem = static_path_problem(value.split("::", 1)[0])
        if problem:
            raise ValueError(f"{option} {value!r}: {problem}")
    if option == "--randomly-seed" and not value.isdigit():
        raise ValueError(f"--randomly-seed {value!r}: give the seed as a whole number")


def _not_allowed(name: str) -> str:
    if name in ("--co", "--collect-only"):
        return (
            f"pytest option {name} is not allowed: it collects tests without running them, "
            "so the check would check nothing; use -k or paths to run fewer tests"
        )
    if name in DENIED_OPTIONS:
        return (
            f"pytest option {name} is not allowed: it writes files, loads code or "
            "configuration from elsewhere, or sends output elsewhere, and a check must "
            "leave the workspace untouched"
        )
    allowed = ", ".join(sorted(FLAG_OPTIONS | VALUE_OPTIONS))
    return f"pytest option {name} is not one a plan may pass (allowed: {allowed})"


_PLUGIN = "_phasegraph_pytest_report"
_REPORT_ENV = "PHASEGRAPH_PYTEST_REPORT"

# A tiny pytest plugin, written to a temporary folder outside the workspace and
# loaded with ``-p``. It records every outcome with its exact node id, which
# junit XML cannot give back (it dots the path into a class name and names the
# defining file, not the collected one, for inherited tests).
_PLUGIN_SOURCE = '''\
"""phasegraph's pytest reporter: one JSON line per event, with exact node ids."""
import json
import os

_OUT = os.environ.get("PHASEGRAPH_PYTEST_REPORT", "")
_ON = [bool(_OUT)]
_FILE = []


def _emit(record):
    # One handle for the session (an open per event cost ~25 ms per 100 tests), flushed at
    # every line: a run killed at its timeout still leaves every record it wrote.
    if _ON[0]:
        if not _FILE:
            _FILE.append(open(_OUT, "a", encoding="utf-8"))
        _FILE[0].write(json.dumps(record) + "\\n")
        _FILE[0].flush()


def _text(longrepr):
    if longrepr is None:
        return ""
    try:
        text = str(longrepr)
    except Exception:
        text = repr(longrepr)
    return text[-3000:]


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        _ON[0] = False  # a pytest-xdist worker: its controller reports
    _emit({"event": "configure"})


def pytest_unconfigure(config):
    if _FILE:
        _FILE.pop().close()


def pytest_runtest_logstart(nodeid, location):
    _emit({"event": "start", "nodeid": nodeid})


def pytest_runtest_logfinish(nodeid, location):
    _emit({"event": "finish", "nodeid": nodeid})


def pytest_runtest_logreport(report):
    if report.when == "call" or report.failed or report.skipped:
        _emit({
            "event": "test",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail"),
            "location": list(report.location),
            "duration": report.duration,
            "longrepr": _text(report.longrepr) if report.failed else "",
            "reason": _reason(report.longrepr) if report.skipped else "",
        })


def pytest_collectreport(report):
    if report.failed:
        _emit({"event": "collect", "nodeid": report.nodeid, "longrepr": _text(report.longrepr)})
    elif report.skipped:  # a whole module skipped (importorskip, allow_module_level)
        _emit({"event": "test", "nodeid": report.nodeid, "when": "collect",
               "outcome": "skipped", "xfail": False, "reason": _reason(report.longrepr)})


def pytest_deselected(items):
    _emit({"event": "deselected", "count": len(items)})


def pytest_collection_finish(session):
    record = {"event": "collected", "count": len(session.items)}
    if session.config.option.collectonly:  # listed, not run: the ids are the answer
        record["ids"] = [item.nodeid for item in session.items]
    _emit(record)


def _reason(longrepr):
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return (reason[9:] if reason.startswith("Skipped: ") else reason)[:300]
    return _text(longrepr)[-300:]
'''

SKILL_NAME = "run_pytest"

_CONFTEST_ERROR = re.compile(r"ImportError while loading conftest '([^']+)'")


class RunPytestArgs(SkillArgs):
    """Arguments of ``run_pytest``."""

    #: Test files, folders or node ids (``tests/test_x.py::test_y``); empty means
    #: pytest's own default (``testpaths`` or the workspace).
    paths: Annotated[list[str], PathArg()] = Field(default_factory=list)
    #: Extra pytest arguments, e.g. ``["-k", "parser", "-x"]``.
    args: list[str] = Field(default_factory=list)
    #: Run only the test files (within ``paths``) that reach what the run writes, plus the
    #: test files it writes; the whole suite, saying why, wherever the static graph cannot
    #: see (see :mod:`phasegraph.skills.python.selection`).
    targeted: bool = False

    @field_validator("args")
    @classmethod
    def _safe_args(cls, value: list[str]) -> list[str]:
        return check_pytest_args(value)


def by_writes(args: Mapping[str, Any]) -> bool:
    """Whether a run_pytest step with ``args`` is targeted: it needs the run's planned writes
    (:attr:`SkillContext.planned_files`) before it runs, baseline too."""
    return args.get("targeted") is True


def narrowed(args: Mapping[str, Any], tests: list[str]) -> dict[str, Any]:
    """``args`` narrowed to run only ``tests`` (node ids, or test files skipped whole), with
    the step's options."""
    return {**args, "paths": list(tests), "targeted": False}


#: Environment variables through which pytest takes options and plugins.
_ENV_OPTIONS = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")

#: Why a targeted step runs the whole suite when it is not told the run's writes.
WRITES_UNKNOWN = "the run's writes are not known yet: whole suite"


def _selection(args: RunPytestArgs, ctx: SkillContext) -> Selection:
    if ctx.planned_files is None:
        return Selection((), {}, WRITES_UNKNOWN)
    env = ctx.subprocess_env()
    hidden = [name for name in _ENV_OPTIONS if env.get(name, "").strip()]
    if hidden:
        return Selection(
            (),
            {},
            f"{' and '.join(hidden)} set (pytest options the selection cannot see): whole suite",
        )
    cache = cache_dir(ctx, "test-selection")
    found = select_tests(ctx.workspace, ctx.planned_files, paths=args.paths, cache=cache)
    return with_baseline(found, ctx.selected_before)


#: Why a targeted check after the writes ran the whole suite although it selected fewer.
BASELINE_WHOLE = "its baseline ran the whole suite: whole suite"


def with_baseline(found: Selection, before: tuple[str, ...] | None) -> Selection:
    """``found`` widened to what the baseline ran (``before``; ``()``: the whole suite): the
    written files read differently before and after the writes, and a test the baseline
    passed that the check after them did not run would read as lost."""
    if before is None or not found.files:
        return found
    if not before:
        return dataclasses.replace(found, files=(), why={}, fallback=BASELINE_WHOLE, left_out=())
    extra = [f for f in before if f not in found.files]
    why = {**found.why, **{f: "run by the baseline" for f in extra if f not in found.why}}
    files = tuple(sorted({*found.files, *extra}))
    left_out = tuple(f for f in found.left_out if f not in why)
    return dataclasses.replace(found, files=files, why=why, left_out=left_out)


async def run_pytest(args: RunPytestArgs, ctx: SkillContext) -> SkillResult:
    """Run pytest with the project's interpreter, no cache and no bytecode, so the workspace
    stays byte-for-byte the same; a suite that could not really run is an error, never green."""
    selection, paths, targets = await _what_to_run(args, ctx)
    missing = targets.missing
    picked = {"selection": selection.as_data()} if selection else {}
    if paths and not targets.present:
        return SkillResult(
            ok=False,
            summary=clip(f"pytest: nothing to run, not found: {', '.join(missing)}"),
            data={"missing": missing, **picked},
            findings=list(missing),
        )
    argv, dropped = await _argv(args, ctx, targets)
    proc, records = await _pytest(ctx, argv, verify_env(ctx))
    result = await asyncio.to_thread(_result, ctx, proc, records, missing)
    notes = [f"targeted: {_selected(selection)}"] if selection else []
    if dropped:
        notes.append(f"ran without {' '.join(dropped)} (a check runs every selected test)")
    if not notes:
        return result
    summary = clip("; ".join([result.summary, *notes]))
    data = {**result.data, **picked, "dropped_options": dropped}
    return result.model_copy(update={"summary": summary, "data": data})


async def collect_listed(args: RunPytestArgs, ctx: SkillContext) -> SkillResult:
    """Every test the step would run (a targeted one: its selection), listed on the tree as
    it is (``pytest --collect-only``: the test modules imported, no test run), for a baseline
    taken after the writes (:mod:`phasegraph.nodes.baseline_after`). A suite that cannot be
    collected stops the run here, before any write. Its ``checked`` holds the node ids;
    ``data["reach"]`` the test files a targeted step listed (``None``: its whole suite)."""
    selection, paths, targets = await _what_to_run(args, ctx)
    data: dict[str, Any] = {
        "reach": list(selection.files) if selection and selection.files else None,
        **({"selection": selection.as_data()} if selection else {}),
    }
    if paths and not targets.present:
        summary = "pytest: none of the tests it would run exists yet"
        return SkillResult(ok=True, summary=summary, data=data)
    argv, _ = await _argv(args, ctx, targets, "--collect-only", "-q")
    proc, records = await _pytest(ctx, argv, verify_env(ctx))
    ids = [str(i) for r in records if r.get("event") == "collected" for i in r.get("ids") or []]
    uncollected = [
        _failure(str(r.get("nodeid") or "."), "collect", "error", r.get("longrepr"))
        for r in records
        if r.get("event") == "collect"
    ]
    why = _not_run(ctx, proc, uncollected, [], False, True)
    if why:
        raise SkillError(why, step_id=ctx.step_id or None)
    which = f"; targeted: {_selected(selection)}" if selection else ""
    summary = f"pytest: listed {plural(len(ids), 'test')}, to run once after the writes{which}"
    return SkillResult(ok=True, summary=clip(summary), data=data, checked=ids)


async def _what_to_run(
    args: RunPytestArgs, ctx: SkillContext
) -> tuple[Selection | None, list[str], Targets]:
    """A targeted step's selection (else ``None``), the paths pytest gets, and those paths
    confined to the workspace and split into present and missing. Filesystem calls go to a
    worker thread: never a blocking call on the event loop."""
    selection = await asyncio.to_thread(_selection, args, ctx) if args.targeted else None
    paths = list(selection.files) if selection and selection.files else args.paths
    return selection, paths, await asyncio.to_thread(split_targets, ctx, paths, node_ids=True)


async def _argv(
    args: RunPytestArgs, ctx: SkillContext, targets: Targets, *mode: str
) -> tuple[list[str], list[str]]:
    """The pytest command line (``mode``: more options, such as ``--collect-only``) and the
    early-stop options dropped from it."""
    extra = await asyncio.to_thread(_hygiene, ctx, args.args)
    options, dropped = without_early_stop(args.args)
    # pytest does not honour "--" before paths, so split_targets has already
    # turned any path starting with "-" into "./-...".
    argv = [ctx.python.python, "-m", "pytest", "-p", "no:cacheprovider", "-p", _PLUGIN]
    return [*argv, "--color=no", *mode, *extra, *targets.present, *options], dropped


async def _pytest(
    ctx: SkillContext, argv: list[str], env: dict[str, str]
) -> tuple[ProcResult, list[dict[str, Any]]]:
    """Run ``argv`` with the reporter plugin: in the interpreter started ahead for this step
    when there is one that runs exactly as a cold start would, else cold."""
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
        return proc, await asyncio.to_thread(_read_records, folder / _REPORT)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


async def start_ahead(args: RunPytestArgs, ctx: SkillContext) -> None:
    """Start the interpreter of the run of ``ctx`` (the step's run after the writes) now
    (:mod:`pytest_ahead`); its arguments come when it runs."""
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


_REPORT = "report.jsonl"


def _plugin_folder() -> Path:
    """A temporary folder outside the workspace with the reporter plugin in it."""
    folder = Path(tempfile.mkdtemp(prefix="phasegraph-pytest-"))
    (folder / f"{_PLUGIN}.py").write_text(_PLUGIN_SOURCE, encoding="utf-8")
    return folder


def _with_plugin(env: dict[str, str], folder: Path) -> dict[str, str]:
    """``env`` with ``folder``'s plugin importable and its report file named."""
    path = os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH", "")) if p)
    return {**env, _REPORT_ENV: str(folder / _REPORT), "PYTHONPATH": path}


#: How much of a summary line the selected files' names may take: the step's data lists
#: them all, each with why (``data["selection"]``), so the line names what fits and counts
#: the rest rather than being cut in the middle of a name.
_NAMES_ROOM = 100


def _selected(selection: Selection) -> str:
    """``2 of 10 test files (tests/test_a.py, tests/test_b.py)``, ``12 of 40 test files
    (tests/test_a.py and 11 more)``, or why the whole suite ran."""
    if selection.fallback:
        return selection.fallback
    files = selection.files
    shown: list[str] = []
    for name in files:
        if shown and len(", ".join([*shown, name])) > _NAMES_ROOM:
            break
        shown.append(name)
    more = f" and {len(files) - len(shown)} more" if len(shown) < len(files) else ""
    names = f"{', '.join(shown)}{more}"
    return f"{len(files)} of {plural(selection.considered, 'test file')} ({names})"


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


def _read_records(report: Path) -> list[dict[str, Any]]:
    if not report.exists():
        return []
    records: list[dict[str, Any]] = []
    for line in report.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # the last line of a killed run may be cut short
        if isinstance(item, dict):
            records.append(item)
    return records


def _result(
    ctx: SkillContext, proc: ProcResult, records: list[dict[str, Any]], missing: list[str]
) -> SkillResult:
    failures: list[dict[str, Any]] = []
    uncollected: list[dict[str, Any]] = []
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "xfailed": 0, "xpassed": 0}
    started: list[str] = []
    finished: set[str] = set()
    passed: dict[str, None] = {}
    not_passed: dict[str, str] = {}
    selected = deselected = 0
    for rec in records:
        event = rec.get("event")
        nodeid = str(rec.get("nodeid", ""))
        if event == "start":
            started.append(nodeid)
        elif event == "finish":
            finished.add(nodeid)
        elif event == "collected":
            selected += int(rec.get("count") or 0)
        elif event == "deselected":
            deselected += int(rec.get("count") or 0)
        elif event == "collect":
            uncollected.append(_failure(nodeid or ".", "collect", "error", rec.get("longrepr")))
        elif event == "test":
            outcome, when = rec.get("outcome"), rec.get("when")
            if outcome == "failed":
                kind = "failed" if when == "call" else "error"
                counts["failed" if kind == "failed" else "errors"] += 1
                failures.append(
                    _failure(nodeid, when, kind, rec.get("longrepr"), rec.get("location"))
                )
            elif outcome == "skipped":
                xfail = bool(rec.get("xfail"))
                counts["xfailed" if xfail else "skipped"] += 1
                reason = str(rec.get("reason") or "")
                not_passed[nodeid] = "xfailed" if xfail else f"skipped: {reason}".rstrip(": ")
            elif outcome == "passed" and when == "call":
                counts["xpassed" if rec.get("xfail") else "passed"] += 1
                if rec.get("xfail"):
                    not_passed[nodeid] = "xpassed"
                else:
                    passed[nodeid] = None

    running = [n for n in started if n not in finished]
    # Exit 5 with a module skipped whole (importorskip) ran: the gate judges the skips.
    ran = any(counts.values())
    why = _not_run(ctx, proc, uncollected, running, bool(failures), ran)
    if why:
        raise SkillError(why, step_id=ctx.step_id or None)

    findings = list(dict.fromkeys(f["nodeid"] for f in failures))
    details = {f["nodeid"]: failure_text(f["message"]) for f in failures}
    findings += [m for m in missing if m not in findings]
    # A test that failed in teardown after passing its call did not pass.
    checked = [n for n in passed if n not in details]
    data: dict[str, Any] = {
        "counts": counts,
        "failures": failures,
        "missing": missing,
        "not_passed": not_passed,
        "selected": selected,
        "deselected": deselected,
        "interpreter": ctx.python.python,
        **raw_output(proc),
    }
    summary = _summary(counts, findings, missing, selected, deselected)
    return SkillResult(
        ok=not findings,
        summary=summary,
        data=data,
        findings=findings,
        details=details,
        checked=checked,
    )


def _not_run(
    ctx: SkillContext,
    proc: ProcResult,
    uncollected: list[dict[str, Any]],
    running: list[str],
    any_failed: bool,
    ran: bool,
) -> str | None:
    """Why the suite did not really run (``None`` when it did): a timeout, a test module or
    conftest that cannot be collected, no tests at all, an internal or usage error.

    Such a run checked nothing, whatever the baseline says, so it can never be green.
    """
    code = proc.returncode
    output = proc.stderr + proc.stdout
    if proc.timed_out:
        hung = f"; still running: {', '.join(running[:5])}" if running else ""
        fix = f" (or leave it out: --deselect {running[0]})" if running else ""
        return (
            f"pytest did not finish within {ctx.timeout:g}s and was stopped{hung}; "
            f"raise the step timeout (--step-timeout SECONDS, RunOptions.step_timeout){fix}"
        )
    if "No module named pytest" in output and not proc.stdout.strip():
        return (
            f"pytest is not installed in {ctx.python.describe()}; install it there "
            f"({ctx.python.python} -m pip install pytest) or pass --python"
        )
    conftest = _CONFTEST_ERROR.search(output)
    if conftest:
        path = relativize(ctx.workspace, conftest.group(1))
        error = _error_line(proc.stderr)
        return f"{path}: {error}{_install_hint(ctx, error)}"
    if uncollected:
        first = uncollected[0]
        error = _error_line(first["message"])
        more = f" (and {len(uncollected) - 1} more)" if len(uncollected) > 1 else ""
        return (
            f"pytest could not collect {first['nodeid']}{more}: {error}{_install_hint(ctx, error)}"
            f"; fix it, or leave it out of the check (args: [--ignore={first['nodeid']}])"
        )
    if code == 5 and ran:
        return None
    if code == 5:
        return (
            "pytest collected no tests, so nothing was checked; point run_pytest at the tests "
            "(paths, -k) or remove the step"
        )
    if (code in (1, 2) and not any_failed) or code not in (0, 1, 2):
        what = {2: "was interrupted", 3: "hit an internal error", 4: "was used wrongly"}
        return (
            f"pytest {what.get(code, f'failed with exit code {code}')} and ran no test to the "
            f"end; its output says:\n{_excerpt(output)}"
        )
    return None


def _error_line(text: str) -> str:
    """The error of a traceback in one line: its last ``E   ...`` line, else its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    return clip(errors[-1] if errors else (lines[-1] if lines else "(no output)"))


def _install_hint(ctx: SkillContext, error: str) -> str:
    if "ImportError" not in error and "ModuleNotFoundError" not in error:
        return ""
    if ctx.python.own:
        return (
            f" — is the project installed in the interpreter phasegraph uses "
            f"({ctx.python.python}, phasegraph's own)? give the project's with --python, "
            "or create the workspace's .venv"
        )
    return (
        f" — is the project installed in the interpreter phasegraph uses "
        f"({ctx.python.describe()})? install it there, or see --python"
    )


def _excerpt(output: str, lines: int = 15) -> str:
    """The lines of ``output`` that say what went wrong: pytest's INTERNALERROR lines (their
    end, where the exception is), else its first lines."""
    all_lines = [ln for ln in output.splitlines() if ln.strip()]
    internal = [ln for ln in all_lines if ln.startswith("INTERNALERROR>")]
    shown = internal[-lines:] if internal else all_lines[:lines]
    return "\n".join(ln[:300] for ln in shown) or "(no output)"


#: Lines of a failing test's text the report keeps.
FAILURE_LINES = 20


def failure_text(longrepr: str, lines: int = FAILURE_LINES) -> str:
    """A failing test's text cut to what explains it: the failing source line (``>``), the
    assertion (``E`` lines) and where it failed; the last lines when it has no such parts."""
    all_lines = longrepr.rstrip().splitlines()
    key = [ln for ln in all_lines if ln.startswith((">", "E "))]
    location = [ln for ln in all_lines[-3:] if re.match(r"^\S+:\d+: ", ln)]
    shown = (key[: lines - 1] + location[-1:]) if key else all_lines[-lines:]
    return "\n".join(ln[:300] for ln in shown)


def _failure(
    nodeid: str, when: object, outcome: str, message: object, location: object = None
) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "when": when,
        "outcome": outcome,
        "location": location,
        "message": str(message or ""),
    }


def _summary(
    counts: dict[str, int], findings: list[str], missing: list[str], selected: int, deselected: int
) -> str:
    shown = [
        plural(counts[k], k.rstrip("s")) if k == "errors" else f"{counts[k]} {k}"
        for k in ("failed", "errors", "passed", "skipped", "xfailed", "xpassed")
        if counts[k]
    ]
    text = "pytest: " + (", ".join(shown) or "no test outcomes")
    if deselected:
        text += f" ({selected} of {selected + deselected} collected tests selected)"
    if missing:
        text += f"; not found: {', '.join(missing)}"
    failing = [f for f in findings if f not in missing]
    if failing:
        text += f"; first failing: {failing[0]}"
    return clip(text)


SKILL = Skill(
    name=SKILL_NAME,
    kind=SkillKind.VERIFY,
    args_model=RunPytestArgs,
    fn=run_pytest,
    description="Run pytest; findings are the failing test node ids",
    programs=(),
    ahead=start_ahead,
    collect=collect_listed,
    needs_module="pytest",
    by_writes=by_writes,
    narrowed=narrowed,
)
