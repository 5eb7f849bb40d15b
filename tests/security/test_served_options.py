"""What a served client may set: its context may tighten the guards, never loosen them;
paths mean one thing; input of any shape ends in a report; a client gets the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from langgraph.runtime import Runtime
from support.repos import snapshot, text_server

from phasegraph import RunOptions, as_tool, build_orchestrator, run_plan
from phasegraph.graph.model.context import (
    SERVED_ALLOW_HOSTS,
    SERVED_CAPS,
    SERVED_SCRUB_ENV,
    SERVED_STRICT,
    served_options,
)
from phasegraph.graph.model.plan import Plan
from phasegraph.graph.model.report import Report
from phasegraph.graph.model.state import InputState, State
from phasegraph.graph.steps.runner import StepRunner, held_to_server, options
from phasegraph.nodes.planner import SERVED_PYTHONS, WORKSPACE_ROOTS
from phasegraph.skills.core.errors import InputRefused
from phasegraph.skills.registry import default_registry

MakeRepo = Callable[[dict[str, str]], Path]
READ = {"goal": "read", "steps": [{"id": "r", "skill": "read_file", "args": {"path": "a.py"}}]}
#: A plan that would hand the server's environment to a test it writes (the sweep's finding).
LEAK = {
    "goal": "leak",
    "steps": [
        {
            "id": "w",
            "skill": "write_file",
            "args": {
                "path": "test_env.py",
                "content": "import os\n\ndef test_env():\n    assert False, dict(os.environ)\n",
            },
        },
        {"id": "t", "skill": "run_pytest", "args": {}, "after": ["w"]},
    ],
}


def refused(given: RunOptions, **environ: str) -> str:
    with pytest.raises(InputRefused) as caught:
        served_options(given, environ)
    return str(caught.value)


# The rules, as the server's environment sets them.


def test_a_client_may_not_hand_the_server_environment_to_the_checks() -> None:
    error = refused(RunOptions(scrub_env=False))
    assert "scrub_env" in error and f"{SERVED_SCRUB_ENV}=0" in error
    assert "server's environment" in error
    # Only the server's owner may allow it; JSON's spellings of false count as off.
    assert not served_options(RunOptions(scrub_env=False), {SERVED_SCRUB_ENV: "0"}).scrub_env
    assert "scrub_env" in refused(RunOptions(scrub_env="false"))  # type: ignore[arg-type]
    assert served_options(RunOptions()).scrub_env


def test_a_client_may_open_only_hosts_the_server_lists() -> None:
    error = refused(RunOptions(allow_hosts=("127.0.0.1",)))
    assert "allow_hosts" in error and "127.0.0.1" in error and SERVED_ALLOW_HOSTS in error
    listed = {SERVED_ALLOW_HOSTS: "10.0.0.0/8, intranet.example"}
    fewer = RunOptions(allow_hosts=("10.1.0.0/16", "10.2.3.4", "INTRANET.example."))
    assert served_options(fewer, listed).allow_hosts == fewer.allow_hosts
    # A name is never covered by a network (it is trusted whatever it resolves to), nor a
    # wider network by a narrower one.
    assert "db.internal" in refused(RunOptions(allow_hosts=("db.internal",)), **listed)
    assert "0.0.0.0/0" in refused(RunOptions(allow_hosts=("0.0.0.0/0",)), **listed)
    assert "::1" in refused(RunOptions(allow_hosts=("::1",)), **listed)
    # JSON gives a list: it is typed; a bare string is no list of hosts.
    as_json = RunOptions(allow_hosts=["10.9.9.9"])  # type: ignore[arg-type]
    assert served_options(as_json, listed).allow_hosts == ("10.9.9.9",)
    assert "allow_hosts" in refused(RunOptions(allow_hosts="10.9.9.9"), **listed)  # type: ignore[arg-type]


def option(name: str, value: object) -> RunOptions:
    given: dict[str, Any] = {name: value}  # as a client's JSON gives it
    return RunOptions(**given)


@pytest.mark.parametrize("name", sorted(SERVED_CAPS))
def test_numbers_may_be_lowered_never_raised_above_the_servers_cap(name: str) -> None:
    default = getattr(RunOptions(), name)
    setting = SERVED_CAPS[name]
    error = refused(option(name, default * 10))
    assert name in error and setting in error and "server's environment" in error
    lower = option(name, type(default)(default / 2) or 1)
    assert getattr(served_options(lower), name) == getattr(lower, name)
    # The owner raises the cap; below the default, a run that names nothing gets the cap.
    assert getattr(served_options(option(name, default * 10), {setting: "1e9"}), name)
    assert getattr(served_options(RunOptions(), {setting: "2"}), name) == 2
    for bad in (float("nan"), float("inf"), 0, -1):
        assert name in refused(option(name, bad))
    assert setting in refused(RunOptions(), **{setting: "lots"})


def test_a_strict_server_makes_every_run_strict() -> None:
    assert not served_options(RunOptions()).strict
    assert served_options(RunOptions(), {SERVED_STRICT: "1"}).strict
    assert served_options(RunOptions(strict=True)).strict  # a client may turn it on


def test_options_of_the_wrong_type_are_refused_naming_the_option() -> None:
    assert "step_timeout" in refused(RunOptions(step_timeout="soon"))  # type: ignore[arg-type]
    assert "python" in refused(RunOptions(python=7))  # type: ignore[arg-type]
    typed = served_options(RunOptions(step_timeout="60"))  # type: ignore[arg-type]
    assert typed.step_timeout == 60.0


# Served runs: refused before anything runs, with an input-error report.


@pytest.fixture
def served_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(WORKSPACE_ROOTS, str(tmp_path))
    for setting in (SERVED_SCRUB_ENV, SERVED_ALLOW_HOSTS, SERVED_STRICT, SERVED_PYTHONS):
        monkeypatch.delenv(setting, raising=False)
    return tmp_path


async def served_run(plan: Any, workspace: Path | str, options: RunOptions | None = None) -> Report:
    return await run_plan(build_orchestrator(served=True), plan, workspace, options=options)


def assert_input_error(report: Report, *words: str) -> None:
    assert (report.status, report.failure_kind) == ("stopped", "input"), report.error
    for word in words:
        assert word in (report.error or ""), report.error
    assert all(s.status != "done" for s in report.steps)


async def test_a_served_context_that_loosens_a_guard_ends_in_an_input_error(
    served_roots: Path, make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASEGRAPH_SERVED_TEST_TOKEN", "server-secret-value")
    repo = make_repo({"a.py": "A = 1\n"})
    before = snapshot(repo)

    report = await served_run(LEAK, repo, RunOptions(scrub_env=False))
    assert_input_error(report, "scrub_env", f"{SERVED_SCRUB_ENV}=0")
    assert "server-secret-value" not in report.model_dump_json()
    for loosened, words in (
        (RunOptions(allow_hosts=("127.0.0.1",)), ("allow_hosts", SERVED_ALLOW_HOSTS)),
        (RunOptions(step_timeout=86_400), ("step_timeout", SERVED_CAPS["step_timeout"])),
        (RunOptions(model_timeout=86_400), ("model_timeout", SERVED_CAPS["model_timeout"])),
    ):
        assert_input_error(await served_run(LEAK, repo, loosened), *words)
    assert snapshot(repo) == before
    # The same options stay the library's and the CLI's to set.
    assert (
        await run_plan(build_orchestrator(), READ, repo, options=RunOptions(scrub_env=False))
    ).status == "completed"


async def test_fetch_url_reaches_an_internal_host_only_when_the_server_lists_it(
    served_roots: Path, make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    with text_server("internal {path}") as url:
        fetch = {
            "goal": "fetch",
            "steps": [{"id": "f", "skill": "fetch_url", "args": {"url": url}}],
        }
        asked = RunOptions(allow_hosts=("127.0.0.1",))
        assert_input_error(await served_run(fetch, repo, asked), "allow_hosts")

        monkeypatch.setenv(SERVED_ALLOW_HOSTS, "127.0.0.1")
        report = await served_run(fetch, repo, asked)
        assert report.status == "completed", report.error
        # Listed by the owner, still closed to a run that does not ask for it.
        assert (await served_run(fetch, repo)).failed_step == "f"


# Interpreter paths: resolved once, against the workspace; '~' and '$' never expanded.


def fake_python(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("given", ["~/evil/bin/python", "$HOME/evil/bin/python"])
async def test_a_plan_python_with_tilde_or_a_variable_is_refused_everywhere(
    served_roots: Path, make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    home = served_roots / "home"
    marker = served_roots / "ran"
    fake_python(home / "evil" / "bin" / "python", marker)
    monkeypatch.setenv("HOME", str(home))
    repo = make_repo({"a.py": "A = 1\n"})
    plan = {**READ, "python": given}
    checks = {**plan, "steps": [{"id": "t", "skill": "run_pytest", "args": {}}]}

    for graph in (build_orchestrator(), build_orchestrator(served=True)):
        for each in (plan, checks):
            assert_input_error(await run_plan(graph, each, repo), "python", given)
    assert not marker.exists()


async def test_a_served_context_python_is_the_workspaces_own(
    served_roots: Path, make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    marker = tmp_path / "ran"
    venv_python = fake_python(repo / ".venv" / "bin" / "python", marker)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-cwd"  # outside the served roots
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (elsewhere / ".venv" / "bin").mkdir(parents=True)

    # Relative: taken from the workspace, not the server's folder, and accepted there.
    report = await served_run(READ, repo, RunOptions(python=".venv/bin/python"))
    assert report.status == "completed", report.error
    assert report.interpreter.python == str(venv_python)
    assert report.interpreter.source == "--python"

    home = tmp_path / "home"
    fake_python(home / "bin" / "python", marker)
    monkeypatch.setenv("HOME", str(home))
    for given in ("~/bin/python", "$HOME/bin/python", str(home / "bin" / "python")):
        assert_input_error(await served_run(READ, repo, RunOptions(python=given)), "python")
    # Out through '..' or a symlinked folder: resolved before the check.
    (repo / "out").symlink_to(home)
    for given in ("../home/bin/python", "out/bin/python", "out/bin"):
        report = await served_run(READ, repo, RunOptions(python=given))
        assert_input_error(report, "context option python", "outside the workspace", SERVED_PYTHONS)
    # One the server's owner lists may be named.
    monkeypatch.setenv(SERVED_PYTHONS, str(home / "bin" / "python"))
    report = await served_run(READ, repo, RunOptions(python=str(home / "bin" / "python")))
    assert report.status == "completed", report.error
    assert not marker.exists()  # a run without checks never starts the interpreter


# Input of any shape ends in a report.


BAD_INPUTS: list[tuple[dict[str, Any], str]] = [
    ({"plan": READ, "workspace": "repo\x00/x"}, "NUL"),
    ({"plan": READ, "workspace": "~\x00"}, "NUL"),
    ({"plan": READ, "workspace": 7}, "workspace must be a string"),
    ({"plan": READ, "workspace": ["/a"]}, "workspace must be a string"),
    ({"plan": READ}, "no workspace given"),
    ({"plan": "do it", "workspace": "{repo}"}, "plan must be a mapping"),
    ({"plan": ["goal", "steps"], "workspace": "{repo}"}, "plan must be a mapping"),
    ({"plan": {"goal": "g", "steps": "all"}, "workspace": "{repo}"}, "steps"),
    ({"request": ["greet"], "workspace": "{repo}"}, "request must be a string"),
]


@pytest.mark.parametrize("served", [False, True])
async def test_input_of_any_shape_ends_in_an_input_error_report(
    served_roots: Path, make_repo: MakeRepo, served: bool
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    graph = build_orchestrator(served=served)
    for given, why in BAD_INPUTS:
        inputs = {**given}
        if inputs.get("workspace") == "{repo}":
            inputs["workspace"] = str(repo)
        final = await graph.ainvoke(cast(InputState, inputs))
        assert (final["report"]["status"], final["report"]["failure_kind"]) == ("stopped", "input")
        assert why in final["report"]["error"], (given, final["report"]["error"])
    # The library's entry point too.
    assert_input_error(await run_plan(graph, READ, "~\x00"), "NUL")
    assert_input_error(await run_plan(graph, "do it", repo), "plan must be a mapping")  # type: ignore[arg-type]


async def test_the_tool_answers_bad_input_with_an_input_error_never_an_exception(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    tool = as_tool()
    answer = await tool.ainvoke({"plan": READ, "workspace": f"{repo}\x00"})
    assert json.loads(str(answer))["failure_kind"] == "input"
    # A plan that is not one (text that is not JSON, a list, a plan with an unknown field) is
    # a stopped report the agent can read, naming the plan, never a trace.
    for plan in ("do it", ["goal"], {**READ, "python": "~/bin/python"}):
        answer = await tool.ainvoke({"plan": plan, "workspace": str(repo)})
        report = json.loads(str(answer))
        assert report["status"] == "stopped", report
        assert report["failure_kind"] == "input" and "plan" in report["error"], report
    assert "python" in str(
        await tool.ainvoke({"plan": {**READ, "python": "$X/py"}, "workspace": str(repo)})
    )


# A served client gets the report, and the published input schema says what to give.


async def test_a_served_run_outputs_the_report_and_its_ids_the_library_the_whole_state(
    served_roots: Path, make_repo: MakeRepo
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    final = await build_orchestrator(served=True).ainvoke({"plan": READ, "workspace": str(repo)})
    assert set(final) <= {"report", "run_id", "commit_sha", "failure"}
    assert final["report"]["status"] == "completed" and final["run_id"]
    whole = await build_orchestrator().ainvoke({"plan": READ, "workspace": str(repo)})
    assert {"workspace", "steps", "written", "report"} <= set(whole)  # undo_run reads it
    # run_plan reads the report from either.
    assert (await served_run(READ, repo)).status == "completed"


def test_the_published_input_schema_offers_a_workspace_or_a_repo_and_types_the_plan() -> None:
    graph = build_orchestrator(served=True)
    schema = graph.get_input_jsonschema()
    # A workspace, or a repo to clone: the planner or checkout says which is missing.
    assert "required" not in schema
    assert {"workspace", "repo", "ref", "push"} <= set(schema["properties"])
    assert schema["properties"]["plan"]["$ref"] == "#/$defs/Plan"
    assert set(schema["$defs"]["Plan"]["properties"]) == set(Plan.model_fields)
    output = graph.get_output_jsonschema()
    assert set(output["properties"]) == {"report", "run_id", "commit_sha", "failure"}


# Every node of a served graph holds the options, so a resumed run's new context loosens
# nothing either (the planner, which checked the first context, does not run again).


def runtime(opts: RunOptions) -> Runtime[RunOptions]:
    return Runtime(context=opts, store=None)


async def test_a_served_node_runs_with_the_options_held_to_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[RunOptions] = []

    async def node(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        seen.append(options(runtime))
        return {}

    held = held_to_server(node)
    monkeypatch.setenv(SERVED_STRICT, "1")
    monkeypatch.setenv(SERVED_CAPS["step_timeout"], "30")
    monkeypatch.delenv(SERVED_SCRUB_ENV, raising=False)
    assert await held(State(workspace=""), runtime=runtime(RunOptions())) == {}
    assert (seen[0].strict, seen[0].step_timeout) == (True, 30.0)
    update = await held(State(workspace=""), runtime=runtime(RunOptions(scrub_env=False)))
    assert update["failure"]["kind"] == "input" and "scrub_env" in update["failure"]["error"]
    assert len(seen) == 1


async def test_a_served_runner_refuses_a_step_under_a_loosened_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SERVED_ALLOW_HOSTS, raising=False)
    (tmp_path / "a.py").write_text("A = 1\n")
    step = {"id": "r", "skill": "read_file", "args": {"path": "a.py"}}
    where = {"workspace": str(tmp_path), "run_id": "run"}
    loosened = runtime(RunOptions(allow_hosts=("10.0.0.0/8",)))
    outcome = await StepRunner(default_registry(), served=True).run(step, where, loosened)
    assert outcome.failure is not None and outcome.failure["kind"] == "input"
    assert "allow_hosts" in outcome.failure["error"]
    assert (await StepRunner(default_registry()).run(step, where, loosened)).failure is None


def test_the_settings_are_named_in_security_and_readme() -> None:
    root = Path(__file__).resolve().parents[2]
    docs = (root / "SECURITY.md").read_text() + (root / "README.md").read_text()
    for setting in (
        SERVED_SCRUB_ENV,
        SERVED_ALLOW_HOSTS,
        SERVED_STRICT,
        SERVED_PYTHONS,
        *SERVED_CAPS.values(),
    ):
        assert setting in docs, setting
