"""``phasegraph run --request``, against an OpenAI-compatible endpoint served on localhost.

The CLI builds its own ChatOpenAI, whose SDK client (httpx2 under openai 3) respx cannot see,
so the fake LLM endpoint here is a real HTTP server answering canned completions.
"""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.llm import LIB, PLAN, WRITES
from support.repos import git, require_program, snapshot

from phasegraph.cli.main import main

MakeRepo = Callable[[dict[str, str]], Path]


class Endpoint:
    """An OpenAI-compatible chat completions server answering from a list, recording requests."""

    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                content = json.dumps(endpoint.answers.pop(0))
                out = json.dumps(
                    {
                        "id": "c",
                        "object": "chat.completion",
                        "created": 1,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content},
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 300,
                            "completion_tokens": 40,
                            "total_tokens": 340,
                        },
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


def test_a_request_runs_to_a_commit_and_the_report_counts_the_model(
    make_repo: MakeRepo,
    endpoint: Endpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = make_repo({"lib.py": LIB})
    endpoint.answers = [PLAN, WRITES]
    monkeypatch.setenv("LOCAL_LLM_KEY", "sk-local")
    report_file = tmp_path / "report.json"

    code = main(
        [
            "run",
            "--request",
            "greet with hi",
            "--model",
            "local-model",
            "--base-url",
            endpoint.url,
            "--api-key-env",
            "LOCAL_LLM_KEY",
            "-w",
            str(repo),
            "--report",
            str(report_file),
        ]
    )

    assert code == 0, capsys.readouterr()
    assert (repo / "lib.py").read_text() == LIB.replace("hello", "hi")
    report = json.loads(report_file.read_text())
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert report["usage"]["total"] == {
        "calls": 2,
        "failed_calls": 0,
        "input_tokens": 600,
        "output_tokens": 80,
    }
    assert (
        "model: 2 call(s) (planner 1, consolidate 1), 600 input + 80 output tokens"
        in capsys.readouterr().out
    )
    assert [r["body"]["model"] for r in endpoint.requests] == ["local-model", "local-model"]
    assert endpoint.requests[0]["auth"] == "Bearer sk-local"
    assert endpoint.requests[0]["body"]["messages"][-1]["content"] == "greet with hi"


def test_approve_shows_the_writes_and_no_stops_with_nothing_written(
    make_repo: MakeRepo,
    endpoint: Endpoint,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = make_repo({"lib.py": LIB})
    before = snapshot(repo)
    endpoint.answers = [PLAN, WRITES]
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))

    code = main(
        [
            "run",
            "--request",
            "greet with hi",
            "--model",
            "m",
            "--base-url",
            endpoint.url,
            "-w",
            str(repo),
            "--approve",
        ]
    )

    out = capsys.readouterr().out
    assert code == 1
    # The file's unified diff, the search and replace applied in memory.
    assert "--- a/lib.py" in out and "+++ b/lib.py" in out
    assert "-    return 'hello ' + name" in out and "+    return 'hi ' + name" in out
    assert "the writes were not approved" in out
    assert {k: v for k, v in snapshot(repo).items() if not k.startswith(".phasegraph/")} == before


def test_a_request_needs_a_model(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo({"lib.py": LIB})
    assert main(["run", "--request", "greet", "-w", str(repo)]) == 2
    assert "--request needs a chat model" in capsys.readouterr().err


def test_a_plan_or_a_request_not_both_nor_neither(
    make_repo: MakeRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo({"lib.py": LIB})
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    assert main(["run", "-w", str(repo)]) == 2
    assert "give a plan file or --request" in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                str(plan),
                "--request",
                "x",
                "--model",
                "m",
                "--base-url",
                "http://x/v1",
                "-w",
                str(repo),
            ]
        )
        == 2
    )
    assert "give a plan file or --request" in capsys.readouterr().err
