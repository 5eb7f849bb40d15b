"""What a pytest run's report says: the reporter's records read back from its file, turned into
the step's result (findings: the failing node ids; ``checked``: those that passed), its
failures' texts and its summary line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from phasegraph.skills.base import SkillContext, SkillResult
from phasegraph.skills.checks import raw_output
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.text import clip, plural
from phasegraph.skills.guards.procs import ProcResult
from phasegraph.skills.run_pytest.not_run import not_run


def read_records(report: Path) -> list[dict[str, Any]]:
    """The records the reporter wrote to ``report`` (none when it wrote no file)."""
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


def result_of(
    ctx: SkillContext, proc: ProcResult, records: list[dict[str, Any]], missing: list[str]
) -> SkillResult:
    """The step's result from the run's ``records``, ``missing`` the paths asked for that do
    not exist; a :class:`SkillError` when the run checked nothing (:func:`not_run`)."""
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
            uncollected.append(failure(nodeid or ".", "collect", "error", rec.get("longrepr")))
        elif event == "test":
            outcome, when = rec.get("outcome"), rec.get("when")
            if outcome == "failed":
                kind = "failed" if when == "call" else "error"
                counts["failed" if kind == "failed" else "errors"] += 1
                failures.append(
                    failure(nodeid, when, kind, rec.get("longrepr"), rec.get("location"))
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
    why = not_run(ctx, proc, uncollected, running, bool(failures), ran)
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


def failure(
    nodeid: str, when: object, outcome: str, message: object, location: object = None
) -> dict[str, Any]:
    """One failure as the result's ``data["failures"]`` lists it."""
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
