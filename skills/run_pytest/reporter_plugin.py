"""phasegraph's pytest reporter: one JSON line per event, with exact node ids.

A pytest plugin that runs in the project's interpreter, never imported by phasegraph: run_pytest
copies this file to a temporary folder outside the workspace and loads it with ``-p``
(:mod:`phasegraph.skills.run_pytest.command`). It records every outcome with its exact node id,
which junit XML cannot give back (it dots the path into a class name and names the defining
file, not the collected one, for inherited tests). So it imports nothing of phasegraph's, and
reads as any Python 3 the project's pytest may run on: its annotations quoted (never
evaluated), its one variable's type in a comment.
"""

import json
import os
import typing

if typing.TYPE_CHECKING:
    import pytest

_OUT = os.environ.get("PHASEGRAPH_PYTEST_REPORT", "")
_ON = [bool(_OUT)]
_FILE = []  # type: list[typing.TextIO]


def _emit(record: "dict[str, object]") -> None:
    # One handle for the session (an open per event cost ~25 ms per 100 tests), flushed at
    # every line: a run killed at its timeout still leaves every record it wrote.
    if _ON[0]:
        if not _FILE:
            _FILE.append(open(_OUT, "a", encoding="utf-8"))  # noqa: PTH123, SIM115
        _FILE[0].write(json.dumps(record) + "\n")
        _FILE[0].flush()


def _text(longrepr: object) -> str:
    if longrepr is None:
        return ""
    try:
        text = str(longrepr)
    except Exception:
        text = repr(longrepr)
    return text[-3000:]


def pytest_configure(config: "pytest.Config") -> None:
    if hasattr(config, "workerinput"):
        _ON[0] = False  # a pytest-xdist worker: its controller reports
    _emit({"event": "configure"})


def pytest_unconfigure(config: "pytest.Config") -> None:
    if _FILE:
        _FILE.pop().close()


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    _emit({"event": "start", "nodeid": nodeid})


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    _emit({"event": "finish", "nodeid": nodeid})


def pytest_runtest_logreport(report: "pytest.TestReport") -> None:
    if report.when == "call" or report.failed or report.skipped:
        _emit(
            {
                "event": "test",
                "nodeid": report.nodeid,
                "when": report.when,
                "outcome": report.outcome,
                "xfail": hasattr(report, "wasxfail"),
                "location": list(report.location),
                "duration": report.duration,
                "longrepr": _text(report.longrepr) if report.failed else "",
                "reason": _reason(report.longrepr) if report.skipped else "",
            }
        )


def pytest_collectreport(report: "pytest.CollectReport") -> None:
    if report.failed:
        _emit({"event": "collect", "nodeid": report.nodeid, "longrepr": _text(report.longrepr)})
    elif report.skipped:  # a whole module skipped (importorskip, allow_module_level)
        _emit(
            {
                "event": "test",
                "nodeid": report.nodeid,
                "when": "collect",
                "outcome": "skipped",
                "xfail": False,
                "reason": _reason(report.longrepr),
            }
        )


def pytest_deselected(items: "list[pytest.Item]") -> None:
    _emit({"event": "deselected", "count": len(items)})


def pytest_collection_finish(session: "pytest.Session") -> None:
    record = {"event": "collected", "count": len(session.items)}
    if session.config.option.collectonly:  # listed, not run: the ids are the answer
        record["ids"] = [item.nodeid for item in session.items]
    _emit(record)


def _reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return (reason[9:] if reason.startswith("Skipped: ") else reason)[:300]
    return _text(longrepr)[-300:]
