"""The orchestrator served by ``langgraph dev`` from langgraph.json, driven with langgraph_sdk."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.schema import ThreadState
from support.llm import LIB, PLAN, WRITES
from support.llm_server import FakeLLM, fake_llm
from support.repos import git, require_program, write
from support.served import ROOT, TOKEN, serving

from phasegraph.demo import DEMO_PLAN, prepare_sample_repo

GRAPH = "phasegraph"

MakeRepo = Callable[[dict[str, str]], Path]

#: The model API key in the server's own environment: clients never send one.
SERVER_KEY = "server-side-model-key"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with fake_llm() as served:
        yield served


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder ``langgraph dev`` runs in (its working directory)."""
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM, server_home: Path
) -> Iterator[str]:
    """``langgraph dev`` on a free 127.0.0.1 port, as the README runs it; stopped afterwards:
    it serves workspaces under the tests' temporary folders only, with the auth example
    enabled and the fake model's URL as the one model endpoint runs may name."""
    require_program("git")
    env = {
        "PHASEGRAPH_WORKSPACE_ROOTS": str(tmp_path_factory.getbasetemp()),
        "PHASEGRAPH_MODEL_BASE_URLS": llm.url,
        "OPENAI_API_KEY": SERVER_KEY,
    }
    with serving(server_home, env) as served:
        yield served.url


@pytest.fixture
async def client(server: str) -> AsyncIterator[LangGraphClient]:
    # api_key=None: never send a LangSmith key from the environment; the auth example
    # admits the bearer token.
    lg = get_client(url=server, api_key=None, headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        yield lg
    finally:
        await lg.aclose()


async def stream_run(
    client: LangGraphClient, thread_id: str, graph: str = GRAPH, **kwargs: Any
) -> list[Any]:
    """Every streamed part of one run, in order."""
    parts = []
    async for part in client.runs.stream(
        thread_id,
        graph,
        stream_mode=["custom", "values"],
        stream_subgraphs=True,
        **kwargs,
    ):
        assert part.event != "error", part.data
        parts.append(part)
    return parts


def values_of(state: ThreadState) -> dict[str, Any]:
    """A thread's state values: the orchestrator's state is a dict, never a list."""
    values = state["values"]
    assert isinstance(values, dict)
    return values


def step_events(parts: list[Any]) -> list[dict[str, Any]]:
    return [
        p.data
        for p in parts
        if p.event.startswith("custom")
        and isinstance(p.data, dict)
        and p.data.get("event") == "step"
    ]


async def test_a_served_run_streams_its_todo_list_and_ends_in_a_committed_report(
    client: LangGraphClient, tmp_path: Path
) -> None:
    repo = prepare_sample_repo(tmp_path / "repo")
    thread = await client.threads.create()

    parts = await stream_run(
        client,
        thread["thread_id"],
        input={"plan": DEMO_PLAN, "workspace": str(repo)},
        context={"strict": False},
    )

    events = step_events(parts)
    phases = {e["phase"] for e in events if e["status"] == "done"}
    assert phases == {"read", "baseline", "write", "verify", "commit"}
    # The writer subgraph's events come through too, under its own namespace.
    assert any(p.event.startswith("custom|writer") for p in parts)
    state = await client.threads.get_state(thread["thread_id"])
    report = values_of(state)["report"]
    assert report["status"] == "completed", report["error"]
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert "read_config" in (repo / "inventory" / "config.py").read_text()


async def test_a_run_paused_before_its_writes_resumes_on_the_same_thread(
    client: LangGraphClient, tmp_path: Path
) -> None:
    repo = prepare_sample_repo(tmp_path / "repo")
    before = (repo / "inventory" / "config.py").read_text()
    thread = await client.threads.create()

    await stream_run(
        client,
        thread["thread_id"],
        input={"plan": DEMO_PLAN, "workspace": str(repo)},
        interrupt_before=["writer"],
    )

    paused = await client.threads.get_state(thread["thread_id"])
    assert paused["next"] == ["writer"]
    todo = values_of(paused)["steps"]
    assert {r["status"] for r in todo.values() if r["phase"] == "read"} == {"done"}
    assert {r["status"] for r in todo.values() if r["phase"] == "write"} == {"pending"}
    assert (repo / "inventory" / "config.py").read_text() == before
    assert "report" not in values_of(paused)

    parts = await stream_run(client, thread["thread_id"], input=None)

    assert {e["phase"] for e in step_events(parts)} >= {"write", "verify", "commit"}
    final = await client.threads.get_state(thread["thread_id"])
    assert final["next"] == []
    assert values_of(final)["report"]["status"] == "completed"
    assert values_of(final)["report"]["commit"] == git(repo, "rev-parse", "HEAD").strip()


async def test_a_run_paused_for_approval_resumes_with_the_answer(
    client: LangGraphClient, tmp_path: Path
) -> None:
    repo = prepare_sample_repo(tmp_path / "repo")
    thread = await client.threads.create()
    approval = "phasegraph_approval"

    await stream_run(
        client,
        thread["thread_id"],
        graph=approval,
        input={"plan": DEMO_PLAN, "workspace": str(repo)},
    )

    paused = await client.threads.get_state(thread["thread_id"])
    (asked,) = [i["value"] for i in paused["interrupts"]]
    assert asked["kind"] == "approve_writes"
    assert {w["paths"][0] for w in asked["writes"]} >= {"inventory/config.py"}
    assert git(repo, "status", "--porcelain") == ""

    await stream_run(
        client, thread["thread_id"], graph=approval, command={"resume": {"approve": True}}
    )

    final = await client.threads.get_state(thread["thread_id"])
    assert values_of(final)["report"]["status"] == "completed"
    assert values_of(final)["report"]["commit"] == git(repo, "rev-parse", "HEAD").strip()


async def test_run_options_travel_in_the_run_context(
    client: LangGraphClient, make_repo: MakeRepo
) -> None:
    # An unused import is already there: only a strict run lets it block the commit.
    repo = make_repo({"lib.py": "import os\n\nVALUE = 1\n"})
    write(repo, "pyproject.toml", "[tool.ruff]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "ruff config")
    plan: dict[str, Any] = {
        "goal": "bump",
        "steps": [
            {
                "id": "bump",
                "skill": "edit_block",
                "args": {"path": "lib.py", "search": "VALUE = 1", "replace": "VALUE = 2"},
            },
            {"id": "lint", "skill": "run_ruff"},
            {"id": "commit", "skill": "git_checkpoint", "args": {"message": "bump"}},
        ],
    }
    require_program("ruff")
    strict = await client.threads.create()
    values = await client.runs.wait(
        strict["thread_id"],
        GRAPH,
        input={"plan": plan, "workspace": str(repo)},
        context={"strict": True},
    )
    assert isinstance(values, dict)
    assert (values["report"]["status"], values["report"]["failure_kind"]) == ("stopped", "gate")
    assert "F401" in values["report"]["error"]
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "2"


async def test_the_server_publishes_the_input_and_context_schemas(client: LangGraphClient) -> None:
    # Studio draws its input form from these, and clients discover the fields and options.
    described = json.loads((ROOT / "langgraph.json").read_text())["graphs"]
    for graph_id in ("phasegraph", "phasegraph_approval"):
        [assistant] = await client.assistants.search(graph_id=graph_id)
        # What LangGraph's /mcp endpoint and Studio show for the graph, not a generic line.
        assert assistant["description"] == described[graph_id]["description"]
        schemas = await client.assistants.get_schemas(assistant["assistant_id"])
        inputs = schemas["input_schema"]
        assert inputs is not None
        fields = inputs["properties"]
        assert {"workspace", "repo", "ref", "push", "plan", "request"} <= set(fields)
        assert fields["workspace"]["description"].startswith("Root of the repository")
        assert "PHASEGRAPH_REMOTES" in fields["repo"]["description"]
        # A workspace or a repo (the run says which is missing), the plan typed as the Plan
        # model (Studio, MCP clients).
        assert "required" not in inputs
        assert fields["plan"]["$ref"] == "#/$defs/Plan"
        assert {"goal", "steps", "python"} <= set(inputs["$defs"]["Plan"]["properties"])
        context = schemas["context_schema"]
        assert context is not None
        options = context["properties"]
        assert {"strict", "step_timeout", "python", "baseline_cache"} <= set(options)
        assert options["strict"]["description"].startswith("Any verify failure blocks")


def files_of(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` but the server's own state and log, with its size."""
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and ".langgraph_api" not in p.parts and p.name != "server.log"
    }


async def test_a_served_run_works_only_under_the_served_roots(
    client: LangGraphClient, server_home: Path
) -> None:
    # Without a workspace the server would run in its own folder; outside the roots, anywhere.
    home_before, checkout_before = files_of(server_home), git(ROOT, "status", "--porcelain")
    for workspace, why in (("", "no workspace given"), (str(ROOT), "not under the served roots")):
        thread = await client.threads.create()
        await client.runs.wait(
            thread["thread_id"], GRAPH, input={"plan": DEMO_PLAN, "workspace": workspace}
        )
        report = values_of(await client.threads.get_state(thread["thread_id"]))["report"]
        assert (report["status"], report["failure_kind"]) == ("stopped", "input")
        assert why in report["error"]
    assert files_of(server_home) == home_before
    assert git(ROOT, "status", "--porcelain") == checkout_before


async def test_a_request_without_the_token_is_refused(server: str, tmp_path: Path) -> None:
    repo_before = sorted(p.name for p in tmp_path.iterdir())
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        lg = get_client(url=server, api_key=None, headers=headers)
        try:
            with pytest.raises(httpx.HTTPStatusError) as refused:
                await lg.threads.create()
        finally:
            await lg.aclose()
        assert refused.value.response.status_code == 401
        assert "PHASEGRAPH_API_TOKEN" in refused.value.response.text
    assert sorted(p.name for p in tmp_path.iterdir()) == repo_before


async def test_a_request_is_planned_by_the_model_the_run_context_names(
    client: LangGraphClient, make_repo: MakeRepo, llm: FakeLLM
) -> None:
    repo = make_repo({"lib.py": LIB})
    llm.received.clear()
    llm.answers[:] = [PLAN, WRITES]  # the planner's plan, then the consolidator's writes
    thread = await client.threads.create()

    parts = await stream_run(
        client,
        thread["thread_id"],
        input={"request": "Greet with hi", "workspace": str(repo)},
        context={"model": "fake-coder", "model_base_url": llm.url},
    )

    report = values_of(await client.threads.get_state(thread["thread_id"]))["report"]
    assert report["status"] == "completed", report["error"]
    assert report["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert "'hi '" in (repo / "lib.py").read_text()
    assert {e["id"] for e in step_events(parts)} >= {"read-lib", "edit", "commit"}
    # Two calls, with the key from the server's environment: the client sent none.
    assert [r["body"]["model"] for r in llm.received] == ["fake-coder", "fake-coder"]
    assert {r["headers"]["authorization"] for r in llm.received} == {f"Bearer {SERVER_KEY}"}


async def test_a_model_endpoint_the_server_does_not_list_is_refused(
    client: LangGraphClient, make_repo: MakeRepo, llm: FakeLLM
) -> None:
    repo = make_repo({"lib.py": LIB})
    llm.received.clear()
    thread = await client.threads.create()

    await client.runs.wait(
        thread["thread_id"],
        GRAPH,
        input={"request": "Greet with hi", "workspace": str(repo)},
        context={"model": "fake-coder", "model_base_url": "http://127.0.0.1:9/v1"},
    )

    report = values_of(await client.threads.get_state(thread["thread_id"]))["report"]
    assert (report["status"], report["failure_kind"]) == ("stopped", "input")
    assert "PHASEGRAPH_MODEL_BASE_URLS" in report["error"]
    assert llm.received == []
    assert git(repo, "status", "--porcelain") == ""


#: What a served run gives its client: the report and the run's ids, never the whole state.
OUTPUT_KEYS = {"report", "run_id", "commit_sha", "failure"}
READ_PLAN: dict[str, Any] = {
    "goal": "read",
    "steps": [{"id": "read", "skill": "read_file", "args": {"path": "lib.py"}}],
}


async def test_a_served_client_may_tighten_the_guards_never_loosen_them(
    client: LangGraphClient, make_repo: MakeRepo
) -> None:
    repo = make_repo({"lib.py": LIB})

    async def refused(context: dict[str, Any], *words: str, **inputs: Any) -> None:
        thread = await client.threads.create()
        output = await client.runs.wait(
            thread["thread_id"],
            GRAPH,
            input={"plan": READ_PLAN, "workspace": str(repo), **inputs},
            context=context,
        )
        # runs.wait (and the server's MCP tool) answer with the report, not the state.
        assert isinstance(output, dict) and set(output) <= OUTPUT_KEYS, output
        report = output["report"]
        assert (report["status"], report["failure_kind"]) == ("stopped", "input"), report
        for word in words:
            assert word in report["error"], report["error"]
        assert output["failure"]["kind"] == "input"

    await refused({"scrub_env": False}, "scrub_env", "PHASEGRAPH_SCRUB_ENV=0")
    await refused({"allow_hosts": ["127.0.0.1"]}, "allow_hosts", "PHASEGRAPH_ALLOW_HOSTS")
    await refused({"step_timeout": 86400}, "step_timeout", "PHASEGRAPH_MAX_STEP_TIMEOUT")
    await refused({"python": "~/.venv/bin/python"}, "context option python", "'~'")
    await refused({}, "python", "'~'", plan={**READ_PLAN, "python": "~/.venv/bin/python"})
    await refused({}, "NUL", workspace=f"{repo}\x00/x")
    await refused({}, "plan must be a mapping", plan="read lib.py")

    # A run paused before its consolidation, resumed with a looser context: refused too.
    thread = await client.threads.create()
    await client.runs.wait(
        thread["thread_id"],
        GRAPH,
        input={"plan": READ_PLAN, "workspace": str(repo)},
        interrupt_before=["consolidate"],
    )
    assert (await client.threads.get_state(thread["thread_id"]))["next"] == ["consolidate"]
    output = await client.runs.wait(
        thread["thread_id"], GRAPH, input=None, context={"scrub_env": False}
    )
    assert isinstance(output, dict) and set(output) <= OUTPUT_KEYS
    assert (output["report"]["failure_kind"], output["failure"]["step"]) == ("input", None)
    assert "scrub_env" in output["report"]["error"]

    # A context that only tightens runs, and its client gets the report.
    thread = await client.threads.create()
    output = await client.runs.wait(
        thread["thread_id"],
        GRAPH,
        input={"plan": READ_PLAN, "workspace": str(repo)},
        context={"strict": True, "step_timeout": 60, "python": None},
    )
    assert isinstance(output, dict) and set(output) <= OUTPUT_KEYS
    assert output["report"]["status"] == "completed", output["report"]["error"]
    assert output["run_id"] and output["failure"] is None
    assert git(repo, "status", "--porcelain") == ""
