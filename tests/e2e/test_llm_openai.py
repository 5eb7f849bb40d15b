"""Whole runs from a request, with ChatOpenAI against an OpenAI-compatible endpoint (respx)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from blockbuster import blockbuster_ctx
from langchain_openai import ChatOpenAI
from support.llm import BASE_URL, PickyServer, api_error, completion, sent_messages, way_asked
from support.repos import git, require_program, snapshot

from phasegraph import Report, RunOptions, build_orchestrator, run_request
from phasegraph.nodes.planner import WORKSPACE_ROOTS

MakeRepo = Callable[[dict[str, str]], Path]

CONFIG = 'def load_config(path: str) -> dict[str, str]:\n    return {"path": path}\n'
TEST = (
    "from pkg.config import load_config\n\n\n"
    'def test_load() -> None:\n    assert load_config("x") == {"path": "x"}\n'
)
FILES = {
    "pkg/__init__.py": "",
    "pkg/config.py": CONFIG,
    "tests/test_config.py": TEST,
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
}
REQUEST = "rename load_config to read_config and keep the tests green"

PLAN: dict[str, Any] = {
    "goal": "Rename load_config to read_config",
    "steps": [
        {"id": "find", "skill": "rg_search", "args": {"pattern": "load_config"}},
        {"id": "read-config", "skill": "read_file", "args": {"path": "pkg/config.py"}},
        {"id": "read-test", "skill": "read_file", "args": {"path": "tests/test_config.py"}},
        {"id": "lint", "skill": "run_ruff", "args": {}},
        {"id": "tests", "skill": "run_pytest", "args": {}},
        {
            "id": "commit",
            "skill": "git_checkpoint",
            "args": {"message": "Rename load_config to read_config"},
            "after": ["lint", "tests"],
        },
    ],
    "unable": None,
}


def edit(step_id: str, path: str, search: str, replace: str) -> dict[str, Any]:
    return {
        "id": step_id,
        "skill": "edit_block",
        "args": {"path": path, "search": search, "replace": replace},
    }


WRITES = {
    "steps": [
        edit("rename-def", "pkg/config.py", "def load_config(", "def read_config("),
        edit(
            "rename-import",
            "tests/test_config.py",
            "from pkg.config import load_config",
            "from pkg.config import read_config",
        ),
        edit("rename-call", "tests/test_config.py", "assert load_config(", "assert read_config("),
    ],
    "unable": None,
}


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff"):
        require_program(name)


@pytest.fixture
def llm() -> ChatOpenAI:
    # An httpx client so respx sees the requests (the openai SDK takes one as http_async_client);
    # max_retries=0: phasegraph's own retry is the one under test.
    return ChatOpenAI(
        model="test-model",
        base_url=BASE_URL,
        api_key="test",
        max_retries=0,
        http_async_client=httpx.AsyncClient(),
    )


@pytest.fixture
def endpoint() -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as mock:
        yield mock.post("/chat/completions")


async def run(llm: ChatOpenAI, repo: Path, **options: Any) -> Report:
    return await run_request(
        build_orchestrator(model=llm), REQUEST, repo, options=RunOptions(**options)
    )


def prompt_text(route: respx.Route, call: int) -> str:
    return "\n".join(str(m["content"]) for m in sent_messages(route.calls[call].request))


async def test_a_request_runs_all_five_phases_and_commits(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    require_program("mypy")
    repo = make_repo(FILES)
    endpoint.mock(side_effect=[completion(PLAN, 1200, 150), completion(WRITES, 2500, 300)])

    report = await run(llm, repo)

    assert report.status == "completed", report.error
    assert [s.id for s in report.steps] == [
        "find",
        "read-config",
        "read-test",
        "rename-def",
        "rename-import",
        "rename-call",
        "lint",
        "tests",
        "commit",
    ]
    assert all(s.status == "done" for s in report.steps)
    assert "def read_config(" in (repo / "pkg/config.py").read_text()
    assert git(repo, "rev-parse", "HEAD").strip() == report.commit
    committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == ["pkg/config.py", "tests/test_config.py"]
    # Two model calls for the whole task, with the tokens the endpoint reported.
    assert endpoint.call_count == 2
    usage = report.usage
    assert usage.by_node["planner"].model_dump() == {
        "calls": 1,
        "failed_calls": 0,
        "input_tokens": 1200,
        "output_tokens": 150,
    }
    assert usage.by_node["consolidate"].input_tokens == 2500
    assert (usage.total.calls, usage.total.input_tokens, usage.total.output_tokens) == (
        2,
        3700,
        450,
    )
    # The planner saw the request and the skills; the consolidator saw the files it edits.
    assert REQUEST in prompt_text(endpoint, 0)
    assert "### edit_block (write)" in prompt_text(endpoint, 0)
    assert CONFIG in prompt_text(endpoint, 1)
    body = json.loads(endpoint.calls[0].request.content)
    assert body["response_format"]["type"] == "json_schema"


async def test_an_invalid_plan_goes_back_with_its_errors_and_the_fixed_one_runs(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    repo = make_repo(FILES)
    invalid = {
        "goal": "Rename",
        "steps": [
            {"id": "find", "skill": "grep", "args": {"pattern": "load_config"}},
            {"id": "read", "skill": "read_file", "args": {"path": "../outside.py"}},
        ],
    }
    plan = {**PLAN, "steps": [s for s in PLAN["steps"] if s["id"] != "tests"]}
    plan["steps"][-1] = {**plan["steps"][-1], "after": ["lint"]}
    endpoint.mock(side_effect=[completion(invalid), completion(plan), completion(WRITES)])

    report = await run(llm, repo)

    assert report.status == "completed", report.error
    assert endpoint.call_count == 3
    assert report.usage.by_node["planner"].calls == 2
    repair = sent_messages(endpoint.calls[1].request)
    # The model sees its own answer, then every problem exactly as validation reported it.
    assert repair[-2]["role"] == "assistant"
    assert json.loads(repair[-2]["content"])["steps"][0]["skill"] == "grep"
    assert "step 'find': unknown skill 'grep'" in repair[-1]["content"]
    assert "step 'read': path:" in repair[-1]["content"]


async def test_a_model_that_keeps_planning_invalid_steps_stops_the_run_with_the_errors(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    repo = make_repo(FILES)
    before = snapshot(repo)
    invalid = {"goal": "Rename", "steps": [{"id": "find", "skill": "grep", "args": {}}]}
    endpoint.mock(side_effect=[completion(invalid) for _ in range(5)])

    report = await run(llm, repo, plan_attempts=3)

    assert report.status == "stopped"
    assert report.failure_kind == "input"
    assert "still invalid after 3 attempt(s)" in (report.error or "")
    assert "step 'find': unknown skill 'grep'" in (report.error or "")
    assert endpoint.call_count == 3
    assert report.usage.total.calls == 3
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    "fault",
    [
        api_error(429, "Rate limit reached"),
        api_error(503, "overloaded"),
        httpx.ReadTimeout("the server took too long"),
    ],
    ids=["429", "503", "timeout"],
)
async def test_a_transient_model_error_is_retried_and_the_run_goes_on(
    make_repo: MakeRepo,
    llm: ChatOpenAI,
    endpoint: respx.Route,
    fault: httpx.Response | Exception,
) -> None:
    repo = make_repo(FILES)
    plan = {**PLAN, "steps": [s for s in PLAN["steps"] if s["skill"] != "run_pytest"]}
    plan["steps"][-1] = {**plan["steps"][-1], "after": ["lint"]}
    endpoint.mock(side_effect=[fault, completion(plan), completion(WRITES)])

    report = await run(llm, repo)

    assert report.status == "completed", report.error
    assert endpoint.call_count == 3
    assert report.usage.by_node["planner"].model_dump() == {
        "calls": 1,
        "failed_calls": 1,
        "input_tokens": 100,
        "output_tokens": 10,
    }


async def test_transient_errors_are_retried_a_bounded_number_of_times(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    repo = make_repo(FILES)
    endpoint.mock(side_effect=[api_error(500) for _ in range(5)])

    report = await run(llm, repo, retries=2)

    assert report.status == "stopped"
    assert report.failure_kind == "model"
    assert endpoint.call_count == 2
    assert report.usage.total.failed_calls == 2


async def test_refused_credentials_stop_the_run_without_a_retry(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    repo = make_repo(FILES)
    before = snapshot(repo)
    endpoint.mock(side_effect=[api_error(401, "Incorrect API key provided"), completion(PLAN)])

    report = await run(llm, repo)

    assert report.status == "stopped"
    assert report.failure_kind == "model"
    assert "credentials" in (report.error or "")
    assert "Incorrect API key" in (report.error or "")
    assert endpoint.call_count == 1
    assert report.usage.total.failed_calls == 1
    assert report.steps == []
    assert snapshot(repo) == before


@pytest.mark.parametrize("reads", [1, 20])
async def test_model_calls_do_not_grow_with_the_number_of_reads(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route, reads: int
) -> None:
    repo = make_repo({f"mod{n}.py": f"VALUE_{n} = {n}\n" for n in range(reads)})
    plan = {
        "goal": "Raise every value by 100",
        "steps": [
            *(
                {"id": f"read-{n}", "skill": "read_file", "args": {"path": f"mod{n}.py"}}
                for n in range(reads)
            ),
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Raise values"}},
        ],
    }
    writes = {
        "steps": [
            edit(f"edit-{n}", f"mod{n}.py", f"VALUE_{n} = {n}", f"VALUE_{n} = {n + 100}")
            for n in range(reads)
        ]
    }
    endpoint.mock(side_effect=[completion(plan), completion(writes)])

    report = await run_request(
        build_orchestrator(model=llm), f"add 100 to every VALUE in the {reads} modules", repo
    )

    assert report.status == "completed", report.error
    assert sum(s.phase == "read" and s.status == "done" for s in report.steps) == reads
    assert len(report.written) == reads
    assert endpoint.call_count == 2
    assert report.usage.total.calls == 2


def asked_ways(route: respx.Route) -> list[str]:
    return [way_asked(json.loads(call.request.content)) for call in route.calls]


async def test_a_server_refusing_json_schema_is_asked_with_tool_calls_for_the_whole_run(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    repo = make_repo(FILES)
    server = PickyServer({"tool_calling"}, PLAN, WRITES)
    endpoint.mock(side_effect=server)

    report = await run(llm, repo)

    assert report.status == "completed", report.error
    assert "def read_config(" in (repo / "pkg/config.py").read_text()
    assert git(repo, "rev-parse", "HEAD").strip() == report.commit
    assert report.structured_output == "tool_calling"
    # One refusal for the run: the consolidator asks the way the planner found accepted.
    assert server.asked == ["json_schema", "tool_calling", "tool_calling"]
    assert report.usage.by_node["planner"].failed_calls == 1
    assert report.usage.by_node["consolidate"].failed_calls == 0
    assert report.usage.total.calls == 2


async def test_a_server_taking_only_plain_text_gets_json_from_a_fenced_block(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    repo = make_repo(FILES)
    server = PickyServer({"text"}, PLAN, WRITES)
    endpoint.mock(side_effect=server)

    report = await run(llm, repo)

    assert report.status == "completed", report.error
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "pkg/config.py",
        "tests/test_config.py",
    ]
    assert report.structured_output == "text"
    assert server.asked == ["json_schema", "tool_calling", "json_mode", "text", "text"]
    # Asked in words, the model is given the schema to follow.
    assert '"title": "writes"' in prompt_text(endpoint, 4)
    assert report.usage.total.failed_calls == 3


async def test_a_json_mode_server_is_given_the_schema_in_words(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    repo = make_repo(FILES)
    plan = {**PLAN, "steps": [s for s in PLAN["steps"] if s["skill"] != "run_pytest"]}
    plan["steps"][-1] = {**plan["steps"][-1], "after": ["lint"]}
    server = PickyServer({"json_mode"}, plan, WRITES)
    endpoint.mock(side_effect=server)

    report = await run(llm, repo)

    assert report.status == "completed", report.error
    assert report.structured_output == "json_mode"
    assert server.asked == ["json_schema", "tool_calling", "json_mode", "json_mode"]
    assert '"title": "plan"' in prompt_text(endpoint, 2)


async def test_a_bad_request_about_something_else_stops_the_run_without_stepping_down(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    repo = make_repo(FILES)
    before = snapshot(repo)
    endpoint.mock(
        side_effect=[api_error(400, "this model's maximum context length is 8192 tokens")]
    )

    report = await run(llm, repo)

    assert report.status == "stopped"
    assert report.failure_kind == "model"
    assert "maximum context length" in (report.error or "")
    assert endpoint.call_count == 1
    assert snapshot(repo) == before


async def test_a_transient_fault_is_retried_on_the_same_rung_not_stepped_down(
    make_repo: MakeRepo, llm: ChatOpenAI, endpoint: respx.Route
) -> None:
    repo = make_repo(FILES)
    plan = {**PLAN, "steps": [s for s in PLAN["steps"] if s["skill"] != "run_pytest"]}
    plan["steps"][-1] = {**plan["steps"][-1], "after": ["lint"]}
    endpoint.mock(side_effect=[api_error(503, "overloaded"), completion(plan), completion(WRITES)])

    report = await run(llm, repo)

    assert report.status == "completed", report.error
    assert report.structured_output == "json_schema"
    assert asked_ways(endpoint) == ["json_schema"] * 3


async def test_a_served_request_makes_no_blocking_call_on_the_event_loop(
    make_repo: MakeRepo,
    llm: ChatOpenAI,
    endpoint: respx.Route,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = make_repo(FILES)
    monkeypatch.setenv(WORKSPACE_ROOTS, str(tmp_path))
    # A refusal and an invalid plan on the way: the step down and the repair run under
    # blockbuster too.
    invalid = {"goal": "Rename", "steps": [{"id": "find", "skill": "grep", "args": {}}]}
    server = PickyServer({"tool_calling"}, invalid, PLAN, WRITES)
    endpoint.mock(side_effect=server)
    graph = build_orchestrator(model=llm, served=True)

    with blockbuster_ctx():
        report = await run_request(graph, REQUEST, repo)

    assert report.status == "completed", report.error
    assert report.commit
    assert server.asked == ["json_schema"] + ["tool_calling"] * 3
