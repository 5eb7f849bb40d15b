"""A real ``langgraph dev`` serving the project's langgraph.json, started the way LangGraph's
docs start it (``--no-reload``, a free 127.0.0.1 port, tracing off), from a temporary folder
(it keeps its run state in ``.langgraph_api/`` there), and stopped or killed by the tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.repos import require_program

ROOT = Path(__file__).resolve().parents[2]
#: ``langgraph dev`` takes ~40 s to be ready on a 2-core machine; more under load.
READY_TIMEOUT = 180.0
#: The bearer token the served orchestrator admits (graph/auth.py, enabled for these tests).
TOKEN = "test-token-for-the-served-orchestrator"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def served_config(dest: Path, env: dict[str, str]) -> Path:
    """The project's langgraph.json, its paths made absolute so the server can run elsewhere,
    with ``env`` added to its environment and the auth example enabled."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["dependencies"] = [str((ROOT / d).resolve()) for d in config["dependencies"]]
    config["graphs"] = {
        name: {
            **spec,
            "path": f"{(ROOT / spec['path'].split(':')[0]).resolve()}:{spec['path'].split(':')[1]}",
        }
        for name, spec in config["graphs"].items()
    }
    config["env"] = {**config.get("env", {}), "PHASEGRAPH_API_TOKEN": TOKEN, **env}
    config["auth"] = {"path": f"{(ROOT / 'graph' / 'auth.py').resolve()}:auth"}
    path = dest / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


class Server:
    """One ``langgraph dev`` process in ``home`` (its working folder and log)."""

    def __init__(self, home: Path, config: Path) -> None:
        self.home, self.config = home, config
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        langgraph = require_program("langgraph")
        port = free_port()
        log = (self.home / "server.log").open("a")
        env = {**os.environ, "LANGSMITH_TRACING": "false", "LANGGRAPH_NO_VERSION_CHECK": "true"}
        argv = [langgraph, "dev", "--no-reload", "--no-browser", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--config", str(self.config)]
        self.proc = subprocess.Popen(
            argv, cwd=self.home, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"langgraph dev exited ({self.proc.returncode}):\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                headers = {"Authorization": f"Bearer {TOKEN}"}
                if httpx.get(f"{self.url}/ok", headers=headers, timeout=2).status_code == 200:
                    return self.url
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"langgraph dev was not ready in {READY_TIMEOUT:g}s:\n{self.tail()}")
            time.sleep(0.5)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop the server and everything it started (SIGKILL: as a dying machine would)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def tail(self, lines: int = 40) -> str:
        text = (self.home / "server.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def serving(home: Path, env: dict[str, str]) -> Iterator[Server]:
    """A started server, stopped (SIGTERM) at the end."""
    server = Server(home, served_config(home, env))
    server.start()
    try:
        yield server
    finally:
        server.kill(signal.SIGTERM)
