"""Helpers the tests share: real git repos, program checks, byte snapshots."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phasegraph import Report, RunOptions, build_orchestrator, run_plan
from phasegraph.graph.model.plan import parse_plan
from phasegraph.skills.guards.procs import find_program
from phasegraph.skills.run_pytest.ahead import MARK

GIT_ID = ["-c", "user.name=phasegraph tests", "-c", "user.email=tests@phasegraph.invalid"]


def require_program(name: str) -> str:
    """Path of ``name``; skip when missing, except under CI=true where it fails."""
    found = find_program(name)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI but is not installed")
    pytest.skip(f"{name} is not installed")


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a test identity; return stdout."""
    require_program("git")
    out = subprocess.run(
        ["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return out.stdout


def write(repo: Path, rel: str, text: str) -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def init_repo(repo: Path, files: dict[str, str]) -> Path:
    """Make ``repo`` a real git repo holding ``files``, committed once."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    for rel, text in files.items():
        write(repo, rel, text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes, for byte-exact comparisons: all but git's
    own and phasegraph's own (``.phasegraph/``: run state and tool caches, ignored by git)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not {".git", ".phasegraph"} & set(p.relative_to(root).parts)
    }


@contextlib.contextmanager
def text_server(body: str = "page {path}", delay: float = 0.0) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering every GET with ``body`` (``{path}`` filled in)
    after ``delay`` seconds; yields its base URL and stops on exit."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            data = body.format(path=self.path).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def run_collecting(
    plan: dict[str, Any], workspace: Path, **options: Any
) -> tuple[Report, list[dict[str, Any]]]:
    """Run ``plan`` with the default orchestrator; the report and every stream event."""
    events: list[dict[str, Any]] = []
    report = await run_plan(
        build_orchestrator(),
        parse_plan(plan),
        workspace,
        options=RunOptions(**options),
        on_event=lambda event: events.append(dict(event)),
    )
    return report, events


BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(script: str, *args: str) -> list[dict[str, Any]]:
    """Run ``bench/<script>`` with ``args``; its JSON lines (it must exit 0)."""
    out = subprocess.run(
        [sys.executable, script, *args], cwd=BENCH, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def launchers_in(workspace: Path) -> list[int]:
    """The pids of the pytest interpreters started ahead (skills/run_pytest/ahead.py) that are
    working in ``workspace``, read from /proc."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            cwd = str((proc / "cwd").readlink())
        except OSError:
            continue
        if MARK.encode() in cmdline and cwd == str(workspace):
            found.append(int(proc.name))
    return found


def full_suite(repo: Path, ref: str | None = "HEAD") -> tuple[int, dict[str, int], str]:
    """The oracle: the project's whole suite on a clean copy of the tree ``ref`` names (no
    bytecode, nothing untracked; ``None``: the working tree), its exit code, its counts and
    its closing line."""
    with tempfile.TemporaryDirectory() as tmp:
        if ref is None:
            junk = shutil.ignore_patterns(".git", ".phasegraph", "__pycache__")
            shutil.copytree(repo, tmp, ignore=junk, dirs_exist_ok=True)
        else:
            archive = subprocess.run(
                ["git", "archive", ref], cwd=repo, capture_output=True, check=True
            )
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(tmp, filter="data")
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
            # The project uses none of the plugins of phasegraph's environment (which its own
            # runs switch off too); loading them costs seconds.
            env={
                **os.environ,
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
            },
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    counts = {word: int(num) for num, word in re.findall(r"(\d+) (\w+)", last)}
    return proc.returncode, counts, last
