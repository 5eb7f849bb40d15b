"""Subprocesses: no shell, plan text never becomes a tool option, killed groups, capped output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from support.repos import require_program
from support.sandbox import Sandbox

from phasegraph.skills.base import SkillContext
from phasegraph.skills.guards.procs import run_program
from phasegraph.skills.rg_search import SKILL as RG_SEARCH
from phasegraph.skills.run_mypy import SKILL as RUN_MYPY
from phasegraph.skills.run_pytest.skill import SKILL as RUN_PYTEST
from phasegraph.skills.run_ruff import SKILL as RUN_RUFF

PY = sys.executable


def ctx(box: Sandbox, *, scrub_env: bool = True) -> SkillContext:
    return SkillContext(workspace=box.ws, step_id="s1", timeout=60, scrub_env=scrub_env)


@pytest.mark.parametrize(
    "pattern",
    ["$(touch pwned)", "`touch pwned`", "x; touch pwned", "x | tee pwned", "x && touch pwned"],
)
async def test_plan_text_never_reaches_a_shell(sandbox: Sandbox, pattern: str) -> None:
    require_program("rg")
    args = RG_SEARCH.parse_args({"pattern": pattern, "fixed_strings": True})
    result = await RG_SEARCH.run(args, ctx(sandbox))
    assert result.data["matches"] == []
    sandbox.assert_unchanged()


@pytest.mark.parametrize(
    ("pattern", "glob"),
    [
        ("--pre=touch", None),  # ripgrep's preprocessor option would run a program
        ("--files", None),
        ("-f/etc/passwd", None),  # patterns read from a file outside
        ("greet", "--pre=touch"),
        ("greet", "--no-ignore-dot"),
    ],
)
async def test_a_search_pattern_or_glob_cannot_become_an_rg_option(
    sandbox: Sandbox, pattern: str, glob: str | None
) -> None:
    require_program("rg")
    (sandbox.ws / "notes.txt").write_text("say --pre=touch and --files and -f/etc/passwd\n")
    sandbox.freeze()
    raw: dict[str, object] = {"pattern": pattern, "fixed_strings": True}
    if glob is not None:
        raw["glob"] = glob
    result = await RG_SEARCH.run(RG_SEARCH.parse_args(raw), ctx(sandbox))
    # Taken as text to find (or a glob to filter by), never as an option.
    if glob is None:
        assert [m["path"] for m in result.data["matches"]] == ["notes.txt"]
    else:
        assert result.data["matches"] == []
    sandbox.assert_unchanged()


async def test_a_path_starting_with_a_dash_cannot_become_a_tool_option(sandbox: Sandbox) -> None:
    require_program("ruff")
    require_program("mypy")
    (sandbox.ws / "--help.py").write_text("import os\n")  # unused import: a ruff finding
    sandbox.freeze()
    ruff = await RUN_RUFF.run(RUN_RUFF.parse_args({"paths": ["--help.py"]}), ctx(sandbox))
    assert ruff.findings == ["--help.py::F401::`os` imported but unused"]
    mypy = await RUN_MYPY.run(RUN_MYPY.parse_args({"paths": ["--help.py"]}), ctx(sandbox))
    assert mypy.ok, mypy.summary
    assert mypy.data["argv"][-1] == "./--help.py"
    sandbox.assert_unchanged()


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["-p", "evil_plugin"], "-p 'evil_plugin' is not allowed"),
        (["-pevil_plugin"], "-p 'evil_plugin' is not allowed"),
        (["-c", "/etc/passwd"], "-c is not allowed"),
        (["--config-file=/etc/passwd"], "--config-file is not allowed"),
        (["--rootdir=/"], "--rootdir is not allowed"),
        (["-o", "cache_dir=/tmp/x"], "-o is not allowed"),
        (["--override-ini=log_file=/tmp/x"], "--override-ini is not allowed"),
        (["--basetemp=."], "--basetemp is not allowed"),
        (["--junitxml", "out.xml"], "--junitxml is not allowed"),
        (["--pastebin=all"], "--pastebin is not allowed"),
        (["/etc"], "not an option; give test paths in `paths`"),
        (["../outside"], "not an option"),
        (["--deselect", "../outside/test_x.py"], "climbs out of the workspace"),
        (["-k", "-p evil"], "starts with '-'"),
        (["-k"], "needs a value"),
        (["-xp", "evil"], "-p is not allowed"),
        (["--import-mode=append"], "is not one a plan may pass"),
        (["-k", "a\x00b"], "NUL byte"),
    ],
)
def test_pytest_args_from_a_plan_cannot_load_code_read_elsewhere_or_write_files(
    args: list[str], why: str
) -> None:
    with pytest.raises(ValidationError, match=why):
        RUN_PYTEST.parse_args({"args": args})


def test_everyday_pytest_args_are_accepted() -> None:
    args = ["-k", "not slow", "-x", "-q", "--tb=short", "-rA", "-vv", "-W", "error", "--maxfail=2"]
    assert RUN_PYTEST.parse_args({"args": args}).args == args


TEST_ENV = """\
import os


def test_no_secret():
    assert "PHASEGRAPH_SECURITY_API_TOKEN" not in os.environ
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ
    assert os.environ.get("PHASEGRAPH_SECURITY_PLAIN") == "kept"
"""


async def test_verify_subprocesses_get_no_secrets(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASEGRAPH_SECURITY_API_TOKEN", "tok-0123456789abcdef")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("PHASEGRAPH_SECURITY_PLAIN", "kept")
    (sandbox.ws / "test_env.py").write_text(TEST_ENV)
    sandbox.freeze()
    args = RUN_PYTEST.parse_args({"paths": ["test_env.py"]})
    scrubbed = await RUN_PYTEST.run(args, ctx(sandbox))
    assert scrubbed.ok, scrubbed.data.get("failures")
    # Opting out hands the environment over as it is.
    whole = await RUN_PYTEST.run(args, ctx(sandbox, scrub_env=False))
    assert whole.findings == ["test_env.py::test_no_secret"]
    sandbox.assert_unchanged()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


async def _gone(pid: int) -> bool:
    for _ in range(200):  # up to 10 s for the kill to land on a loaded machine
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    # The grandchild ignores SIGTERM and SIGINT: only a group-wide SIGKILL stops it.
    code = (
        "import pathlib, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(120)'])\n"
        "pathlib.Path(sys.argv[1]).write_text(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    pid_file = tmp_path / "child.pid"
    try:
        result = await run_program([PY, "-c", code, str(pid_file)], cwd=tmp_path, timeout=2)
        assert result.timed_out
        assert await _gone(int(pid_file.read_text()))
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


async def test_a_background_process_left_by_a_check_is_stopped(tmp_path: Path) -> None:
    # The program starts a sleeper with its output elsewhere, then exits at once.
    code = (
        "import pathlib, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "pathlib.Path(sys.argv[1]).write_text(str(child.pid))\n"
    )
    pid_file = tmp_path / "child.pid"
    try:
        result = await run_program([PY, "-c", code, str(pid_file)], cwd=tmp_path, timeout=60)
        assert result.returncode == 0 and not result.timed_out
        assert await _gone(int(pid_file.read_text()))
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


async def test_an_output_flood_is_capped(tmp_path: Path) -> None:
    code = "import sys\nfor _ in range(200): sys.stdout.write('x' * 65536)\n"
    result = await run_program([PY, "-c", code], cwd=tmp_path, timeout=60, output_cap=10_000)
    assert result.truncated
    assert result.stdout == "x" * 10_000
    assert result.returncode == 0


# A phasegraph process: runs one program through run_program and waits for it.
RUNNER = """\
import asyncio, sys
from pathlib import Path
from phasegraph.skills.guards.procs import run_program
argv = [sys.executable, "-c", sys.argv[1], sys.argv[2]]
asyncio.run(run_program(argv, cwd=Path(sys.argv[3]), timeout=300))
"""

# The program: a detached child (its own session, as `setsid sleep` makes) and a daemon
# (double fork: its parent gone at once, so nobody's child), then it sleeps itself. It
# writes "its parent, itself, the detached child, the daemon" once all are running.
SPAWNER = """\
import os, subprocess, sys, time
from pathlib import Path
out = Path(sys.argv[1])
sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
detached = subprocess.Popen(sleeper, start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        Path(str(out) + ".daemon").write_text(str(os.getpid()))
        os.execv(sys.executable, sleeper)
    os._exit(0)
while not Path(str(out) + ".daemon").exists():
    time.sleep(0.01)
daemon = Path(str(out) + ".daemon").read_text()
Path(str(out) + ".tmp").write_text(f"{os.getppid()} {os.getpid()} {detached.pid} {daemon}")
os.replace(str(out) + ".tmp", out)
time.sleep(300)
"""


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(sys.platform != "linux", reason="detached processes are tracked on Linux")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
async def test_nothing_a_step_started_outlives_phasegraph_itself(
    tmp_path: Path, how: signal.Signals
) -> None:
    pid_file = tmp_path / "pids"
    runner = await asyncio.create_subprocess_exec(
        PY, "-c", RUNNER, SPAWNER, str(pid_file), str(tmp_path), cwd=tmp_path
    )
    pids: list[int] = []
    try:
        for _ in range(600):  # up to 30 s for everything to start on a loaded machine
            if pid_file.exists() or runner.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert pid_file.exists(), "the program did not start"
        pids = [int(p) for p in pid_file.read_text().split()]
        assert all(_alive(pid) for pid in pids)
        runner.send_signal(how)  # phasegraph dies mid-step, without any say in it
        assert await runner.wait() == -how
        survivors = [pid for pid in pids if not await _gone(pid)]
        assert survivors == [], f"still running after phasegraph died: {survivors}"
    finally:
        _kill_all(pids)
        if runner.returncode is None:
            runner.kill()
            await runner.wait()
