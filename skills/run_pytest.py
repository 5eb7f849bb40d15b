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

#: pytest options a plan may not pass: they write or delete files (``--basetemp``
#: empties its folder) or send output over the network.
DENIED_OPTIONS = frozenset(
    {"--basetemp", "--junitxml", "--junit-xml", "--debug", "--log-file", "--pastebin"}
)

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
        for arg in value:
            if "\x00" in arg:
                raise ValueError(f"pytest argument {arg!r} contains a NUL byte")
            if arg.split("=", 1)[0] in DENIED_OPTIONS:
                raise ValueError(
                    f"pytest option {arg.split('=', 1)[0]} is not allowed: it writes files "
                    "or sends output elsewhere, and a check must leave the workspace untouched"
                )
        return value


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
