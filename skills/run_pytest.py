"""The run_pytest skill: run the tests, report failing node ids as stable findings."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.procs import ProcResult, run_program
from phasegraph.skills.verify_common import (
    clip,
    plural,
    raw_output,
    relativize,
    split_targets,
    tool_failure,
    verify_env,
)
from phasegraph.skills.workspace import static_path_problem

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
        "--co",
        "--collect-only",
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
    }
)
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
            if name in VALUE_OPTIONS:
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


def _check_value(option: str, value: str) -> None:
    if value.startswith("-"):
        raise ValueError(
            f"the value {value!r} of pytest option {option} starts with '-', so pytest could "
            f"read it as an option; write it as {option}=... without the leading '-'"
        )
    if option == "--deselect":
        problem = static_path_problem(value.split("::", 1)[0])
        if problem:
            raise ValueError(f"--deselect {value!r}: {problem}")


def _not_allowed(name: str) -> str:
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


def _emit(record):
    if _ON[0]:
        with open(_OUT, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\\n")


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
        })


def pytest_collectreport(report):
    if report.failed:
        _emit({"event": "collect", "nodeid": report.nodeid, "longrepr": _text(report.longrepr)})
'''

_CONFTEST_ERROR = re.compile(r"ImportError while loading conftest '([^']+)'")


class RunPytestArgs(SkillArgs):
    """Arguments of ``run_pytest``."""

    #: Test files, folders or node ids (``tests/test_x.py::test_y``); empty means
    #: pytest's own default (``testpaths`` or the workspace).
    paths: Annotated[list[str], PathArg()] = Field(default_factory=list)
    #: Extra pytest arguments, e.g. ``["-k", "parser", "-x"]``.
    args: list[str] = Field(default_factory=list)

    @field_validator("args")
    @classmethod
    def _safe_args(cls, value: list[str]) -> list[str]:
        return check_pytest_args(value)


async def run_pytest(args: RunPytestArgs, ctx: SkillContext) -> SkillResult:
    """Run pytest with no cache and no bytecode, so the workspace stays byte-for-byte the same."""
    targets = split_targets(ctx, args.paths, node_ids=True)
    missing = targets.missing
    if args.paths and not targets.present:
        return SkillResult(
            ok=False,
            summary=clip(f"pytest: nothing to run, not found: {', '.join(missing)}"),
            data={"missing": missing},
            findings=list(missing),
        )
    with tempfile.TemporaryDirectory(prefix="phasegraph-pytest-") as tmp:
        report = Path(tmp) / "report.jsonl"
        (Path(tmp) / f"{_PLUGIN}.py").write_text(_PLUGIN_SOURCE, encoding="utf-8")
        env = verify_env(ctx)
        env[_REPORT_ENV] = str(report)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tmp, env.get("PYTHONPATH", "")) if p)
        # pytest does not honour "--" before paths, so split_targets has already
        # turned any path starting with "-" into "./-...".
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", _PLUGIN]
        argv += ["--color=no", *targets.present, *args.args]
        proc = await run_program(
            argv,
            cwd=ctx.workspace,
            timeout=ctx.timeout,
            env=env,
            output_cap=ctx.output_cap,
        )
        records = _read_records(report)
    return _result(ctx, proc, records, missing)


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
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "xfailed": 0, "xpassed": 0}
    started: list[str] = []
    finished: set[str] = set()
    for rec in records:
        event = rec.get("event")
        nodeid = str(rec.get("nodeid", ""))
        if event == "start":
            started.append(nodeid)
        elif event == "finish":
            finished.add(nodeid)
        elif event == "collect":
            counts["errors"] += 1
            failures.append(_failure(nodeid or ".", "collect", "error", rec.get("longrepr")))
        elif event == "test":
            outcome, when = rec.get("outcome"), rec.get("when")
            if outcome == "failed":
                kind = "failed" if when == "call" else "error"
                counts["failed" if kind == "failed" else "errors"] += 1
                failures.append(
                    _failure(nodeid, when, kind, rec.get("longrepr"), rec.get("location"))
                )
            elif outcome == "skipped":
                counts["xfailed" if rec.get("xfail") else "skipped"] += 1
            elif outcome == "passed" and when == "call":
                counts["xpassed" if rec.get("xfail") else "passed"] += 1

    running = [n for n in started if n not in finished]
    code = proc.returncode
    conftest = _CONFTEST_ERROR.search(proc.stderr + proc.stdout)
    no_tests = False
    if proc.timed_out:
        if not running:
            raise tool_failure("pytest", proc, ctx)
        note = f"still running when the {ctx.timeout:g}s timeout stopped pytest"
        failures += [_failure(nodeid, "call", "timeout", note) for nodeid in running]
    elif code == 5 and not failures:
        no_tests = True
    elif code == 4 and conftest and not failures:
        counts["errors"] += 1
        path = relativize(ctx.workspace, conftest.group(1))
        failures.append(_failure(path, "conftest", "error", proc.stderr.strip()))
    elif code not in (0, 1, 2) or (code in (1, 2) and not failures):
        raise tool_failure("pytest", proc, ctx, f"pytest failed with exit code {code}")

    findings = list(dict.fromkeys(f["nodeid"] for f in failures))
    findings += [m for m in missing if m not in findings]
    data: dict[str, Any] = {
        "counts": counts,
        "failures": failures,
        "missing": missing,
        "no_tests_collected": no_tests,
        "timed_out": proc.timed_out,
        **raw_output(proc),
    }
    summary = _summary(counts, findings, missing, no_tests=no_tests, timed_out=proc.timed_out)
    return SkillResult(ok=not findings, summary=summary, data=data, findings=findings)


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
    counts: dict[str, int],
    findings: list[str],
    missing: list[str],
    *,
    no_tests: bool,
    timed_out: bool,
) -> str:
    if no_tests and not findings:
        return "pytest: no tests were collected"
    shown = [
        plural(counts[k], k.rstrip("s")) if k == "errors" else f"{counts[k]} {k}"
        for k in ("failed", "errors", "passed", "skipped", "xfailed", "xpassed")
        if counts[k]
    ]
    text = "pytest: " + (", ".join(shown) or "no test outcomes")
    if timed_out:
        text += "; timed out"
    if missing:
        text += f"; not found: {', '.join(missing)}"
    failing = [f for f in findings if f not in missing]
    if failing:
        text += f"; first failing: {failing[0]}"
    return clip(text)


SKILL = Skill(
    name="run_pytest",
    kind=SkillKind.VERIFY,
    args_model=RunPytestArgs,
    fn=run_pytest,
    description="Run pytest; findings are the failing test node ids",
    programs=(),
)
