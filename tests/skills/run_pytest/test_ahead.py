"""The after-run's pytest started while the baseline runs (skills/run_pytest/ahead.py): it runs
in that interpreter, sees a change to what the interpreter had loaded or read (and starts cold
when it cannot know what that was), and never outlives its run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from support.repos import launchers_in

from phasegraph.skills.base import SkillContext
from phasegraph.skills.run_pytest import ahead as pytest_ahead
from phasegraph.skills.run_pytest.skill import SKILL, RunPytestArgs

PROBE_TEST = """import json, os, sys


def test_probe():
    with open(os.environ["PROBE_OUT"], "a") as out:
        out.write(json.dumps({"argv": sys.orig_argv, "v": os.environ.get("PROBE_V")}) + "\\n")
"""


def _project(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A workspace with one probing test, a sitecustomize folder and the probe's output."""
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_probe.py").write_text(PROBE_TEST)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text('import os\nos.environ["PROBE_V"] = "1"\n')
    return ws, site, tmp_path / "probe.jsonl"


def _ctx(ws: Path, site: Path, out: Path, run_id: str, *, baseline: bool) -> SkillContext:
    env = {**os.environ, "PYTHONPATH": str(site), "PROBE_OUT": str(out)}
    return SkillContext(
        workspace=ws,
        step_id="baseline:tests" if baseline else "tests",
        env=env,
        run_id=run_id,
    )


async def _baseline(args: RunPytestArgs, ws: Path, site: Path, out: Path, run_id: str) -> bool:
    """What a run's baseline does: get the after-run ready (``Skill.ahead``, with the
    after-run's context), then run on the untouched tree; whether that ran green."""
    assert SKILL.ahead is not None
    await SKILL.ahead(args, _ctx(ws, site, out, run_id, baseline=False))
    return (await SKILL.run(args, _ctx(ws, site, out, run_id, baseline=True))).ok


def _probes(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def _started_ahead(probe: dict[str, object]) -> bool:
    return any(pytest_ahead.MARK in str(arg) for arg in probe["argv"])  # type: ignore[attr-defined]


async def test_the_after_run_runs_in_the_interpreter_started_during_its_baseline(
    tmp_path: Path,
) -> None:
    ws, site, out = _project(tmp_path)
    args = SKILL.parse_args({})
    assert await _baseline(args, ws, site, out, "r1")
    after = await SKILL.run(args, _ctx(ws, site, out, "r1", baseline=False))
    assert after.ok, after.summary
    assert after.data["counts"]["passed"] == 1
    baseline_probe, after_probe = _probes(out)
    assert not _started_ahead(baseline_probe)
    assert _started_ahead(after_probe)
    assert after_probe["v"] == "1"


async def test_a_change_to_what_it_had_loaded_starts_pytest_cold(tmp_path: Path) -> None:
    ws, site, out = _project(tmp_path)
    args = SKILL.parse_args({})
    await _baseline(args, ws, site, out, "r2")
    await asyncio.sleep(1.0)  # the interpreter started ahead has loaded sitecustomize by now
    (site / "sitecustomize.py").write_text('import os\nos.environ["PROBE_V"] = "2"\n')
    after = await SKILL.run(args, _ctx(ws, site, out, "r2", baseline=False))
    assert after.ok, after.summary
    after_probe = _probes(out)[-1]
    assert after_probe["v"] == "2"  # the changed file, as a cold start would see it
    assert not _started_ahead(after_probe)


async def test_a_module_the_writes_add_is_found_as_a_cold_start_finds_it(tmp_path: Path) -> None:
    # Python's import system caches folder listings, trusting the folder's mtime to tell
    # when to look again; a file system with coarse timestamps (or a restored mtime, as
    # here) hides a file added since. A cold start has no such cache: neither may this one.
    ws, site, out = _project(tmp_path)
    args = SKILL.parse_args({})
    await _baseline(args, ws, site, out, "r5")
    await asyncio.sleep(1.0)  # it has imported pytest, looking through the site folder
    before = (site / "sitecustomize.py").stat(), site.stat()
    (site / "fresh.py").write_text("VALUE = 1\n")
    os.utime(site, ns=(before[1].st_atime_ns, before[1].st_mtime_ns))
    (ws / "tests" / "test_fresh.py").write_text(
        "from fresh import VALUE\n\n\ndef test_fresh():\n    assert VALUE == 1\n"
    )
    after = await SKILL.run(args, _ctx(ws, site, out, "r5", baseline=False))
    assert after.ok, after.summary
    assert after.data["counts"]["passed"] == 2
    assert _started_ahead(_probes(out)[-1])


async def test_an_interpreter_started_ahead_that_died_gives_way_to_a_cold_start(
    tmp_path: Path,
) -> None:
    # Killed while it waited (the OOM killer, a user's pkill): the after-run must not inherit
    # its death, it starts pytest cold.
    ws, site, out = _project(tmp_path)
    args = SKILL.parse_args({})
    await _baseline(args, ws, site, out, "r4")
    pids = launchers_in(ws)
    assert pids, "started ahead during the baseline"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    waiting = pytest_ahead._WAITING[("r4", "tests")].program
    await asyncio.wait([waiting], timeout=30)  # its supervisor has seen it die
    assert waiting.done()
    after = await SKILL.run(args, _ctx(ws, site, out, "r4", baseline=False))
    assert after.ok, after.summary
    assert after.data["counts"]["passed"] == 1
    assert not _started_ahead(_probes(out)[-1])


async def test_an_after_run_that_never_comes_leaves_no_process(tmp_path: Path) -> None:
    ws, site, out = _project(tmp_path)
    await _baseline(SKILL.parse_args({}), ws, site, out, "r3")
    assert launchers_in(ws), "started ahead during the baseline"
    folder = pytest_ahead._WAITING[("r3", "tests")].tmp
    assert folder.is_dir()
    await pytest_ahead.discard("r3")  # what the report nodes do at the run's end
    assert not launchers_in(ws)
    assert not folder.exists()


# The settings a start-up reads, from the workspace: the writes change them.
READS_AT_START_UP = (
    'import os\n\nwith open("settings.txt") as f:\n    os.environ["PROBE_V"] = f.read()\n'
)
READS_AS_PYTEST_IS_IMPORTED = '''import os, sys


class ReadsSettings:
    """Reads the settings as pytest is imported (a lazy set-up, say): after the start-up.
    Once a process: a cold start exec'd in the launcher's place must not inherit them."""

    def find_spec(self, name, path=None, target=None):
        if name == "pytest" and "PROBE_V" not in os.environ:
            with open("settings.txt") as f:
                os.environ["PROBE_V"] = f.read()
        return None


sys.meta_path.insert(0, ReadsSettings())
'''


@pytest.mark.parametrize(
    ("run_id", "sitecustomize"),
    [("r6", READS_AT_START_UP), ("r7", READS_AS_PYTEST_IS_IMPORTED)],
    ids=["as-it-starts", "as-pytest-is-imported"],
)
async def test_a_file_it_read_that_the_writes_change_starts_pytest_cold(
    tmp_path: Path, run_id: str, sitecustomize: str
) -> None:
    ws, site, out = _project(tmp_path)
    (site / "sitecustomize.py").write_text(sitecustomize)
    (ws / "settings.txt").write_text("1")
    args = SKILL.parse_args({})
    await _baseline(args, ws, site, out, run_id)
    await asyncio.sleep(1.0)  # the interpreter started ahead has read the settings by now
    (ws / "settings.txt").write_text("2")
    after = await SKILL.run(args, _ctx(ws, site, out, run_id, baseline=False))
    assert after.ok, after.summary
    baseline_probe, after_probe = _probes(out)
    assert baseline_probe["v"] == "1"
    assert after_probe["v"] == "2"  # the settings the writes left, as a cold start reads them
    assert not _started_ahead(after_probe)


async def test_a_file_it_read_that_the_writes_leave_alone_keeps_it_ahead(tmp_path: Path) -> None:
    ws, site, out = _project(tmp_path)
    (site / "sitecustomize.py").write_text(READS_AT_START_UP)
    (ws / "settings.txt").write_text("1")
    args = SKILL.parse_args({})
    await _baseline(args, ws, site, out, "r8")
    await asyncio.sleep(1.0)
    (ws / "notes.txt").write_text("a file it never read\n")
    after = await SKILL.run(args, _ctx(ws, site, out, "r8", baseline=False))
    assert after.ok, after.summary
    after_probe = _probes(out)[-1]
    assert (after_probe["v"], _started_ahead(after_probe)) == ("1", True)


@pytest.mark.parametrize(
    ("run_id", "sitecustomize"),
    [
        # The project's own code, run as the interpreter starts (a .pth line importing it).
        ("r9", "import os, sys\n\nsys.path.append(os.getcwd())\nimport proj\n"),
        # A program it starts reads what no audit hook sees.
        (
            "r10",
            'import os, subprocess\n\nos.environ["PROBE_V"] = subprocess.run(["echo", "-n", '
            '"proj"], capture_output=True, text=True).stdout\n',
        ),
    ],
    ids=["project-code", "a-program"],
)
async def test_a_start_up_whose_reads_cannot_be_known_starts_pytest_cold(
    tmp_path: Path, run_id: str, sitecustomize: str
) -> None:
    # Nothing the writes change is known to have been read: but what it read is not known.
    ws, site, out = _project(tmp_path)
    (site / "sitecustomize.py").write_text(sitecustomize)
    (ws / "proj.py").write_text('import os\n\nos.environ["PROBE_V"] = "proj"\n')
    args = SKILL.parse_args({})
    await _baseline(args, ws, site, out, run_id)
    await asyncio.sleep(1.0)
    after = await SKILL.run(args, _ctx(ws, site, out, run_id, baseline=False))
    assert after.ok, after.summary
    after_probe = _probes(out)[-1]
    assert (after_probe["v"], _started_ahead(after_probe)) == ("proj", False)
