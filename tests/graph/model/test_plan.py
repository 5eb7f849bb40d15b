"""Plan loading and validation: every rejection names the step and the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from phasegraph import Plan, PlanError, check_plan, default_registry, load_plan, validate_plan
from phasegraph.graph.model.plan import parse_plan
from phasegraph.recipes import expand_recipe

REGISTRY = default_registry()


def plan(*steps: dict[str, Any]) -> Plan:
    return parse_plan({"goal": "test", "steps": list(steps)})


def problems(p: Plan, workspace: Path | None = None) -> list[str]:
    return validate_plan(p, REGISTRY, workspace=workspace)


def test_a_good_plan_has_no_problems() -> None:
    p = plan(
        {"id": "find", "skill": "rg_search", "args": {"pattern": "x"}},
        {
            "id": "edit",
            "skill": "edit_block",
            "args": {"path": "a.py", "search": "x", "replace": "y"},
        },
        {"id": "lint", "skill": "run_ruff", "after": ["edit"]},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "m"}, "after": ["lint"]},
    )
    assert problems(p) == []


def test_duplicate_ids_are_named() -> None:
    p = plan(
        {"id": "find", "skill": "rg_search", "args": {"pattern": "x"}},
        {"id": "find", "skill": "rg_search", "args": {"pattern": "y"}},
    )
    assert problems(p) == ["step 'find': duplicate id; every step needs its own id"]


def test_unknown_skill_lists_the_known_ones() -> None:
    [problem] = problems(plan({"id": "s", "skill": "rm_rf"}))
    assert problem.startswith("step 's': unknown skill 'rm_rf'")
    assert "rg_search" in problem


def test_bad_args_are_validated_by_the_skill_model() -> None:
    found = problems(
        plan(
            {"id": "find", "skill": "rg_search", "args": {}},
            {
                "id": "edit",
                "skill": "edit_block",
                "args": {"path": "a.py", "search": "x", "oops": 1},
            },
        )
    )
    assert any(p.startswith("step 'find': bad args for rg_search: pattern:") for p in found)
    assert any("step 'edit'" in p and "replace" in p for p in found)
    assert any("step 'edit'" in p and "oops" in p for p in found)


def test_unknown_after() -> None:
    p = plan({"id": "a", "skill": "rg_search", "args": {"pattern": "x"}, "after": ["ghost"]})
    assert problems(p) == ["step 'a': 'after' names unknown step 'ghost'"]


def test_cyclic_after() -> None:
    p = plan(
        {"id": "a", "skill": "rg_search", "args": {"pattern": "x"}, "after": ["b"]},
        {"id": "b", "skill": "rg_search", "args": {"pattern": "y"}, "after": ["a"]},
    )
    [problem] = problems(p)
    assert "cycle" in problem and "'a'" in problem and "'b'" in problem


def test_self_dependency() -> None:
    p = plan({"id": "a", "skill": "rg_search", "args": {"pattern": "x"}, "after": ["a"]})
    assert "step 'a': depends on itself" in problems(p)


def test_depending_on_a_later_phase_is_refused() -> None:
    p = plan(
        {"id": "edit", "skill": "write_file", "args": {"path": "a.py", "content": ""}},
        {"id": "look", "skill": "read_file", "args": {"path": "a.py"}, "after": ["edit"]},
    )
    [problem] = problems(p)
    assert problem.startswith("step 'look' (read) depends on 'edit' (write), a later phase")


def test_a_write_after_a_later_listed_write_is_refused() -> None:
    p = plan(
        {"id": "w1", "skill": "write_file", "args": {"path": "a", "content": ""}, "after": ["w2"]},
        {"id": "w2", "skill": "write_file", "args": {"path": "b", "content": ""}},
    )
    [problem] = problems(p)
    assert problem.startswith("step 'w1': depends on write 'w2', listed after it")


def test_two_commits_are_refused() -> None:
    p = plan(
        {"id": "c1", "skill": "git_checkpoint", "args": {"message": "a"}},
        {"id": "c2", "skill": "git_checkpoint", "args": {"message": "b"}},
    )
    assert any("at most one commit" in x for x in problems(p))


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../outside.py", "climbs out of the workspace"),
        ("/etc/passwd", "is absolute"),
        ("src/../../x", "climbs out of the workspace"),
        (".git/config", "inside .git/"),
        (".phasegraph/state.db", "inside .phasegraph/"),
    ],
)
def test_paths_escaping_the_workspace_are_refused(path: str, why: str) -> None:
    p = plan({"id": "w", "skill": "write_file", "args": {"path": path, "content": "x"}})
    [problem] = problems(p)
    assert problem.startswith("step 'w': path:") and why in problem


def test_a_symlink_out_of_the_workspace_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "link").symlink_to(outside)
    p = plan({"id": "w", "skill": "write_file", "args": {"path": "link/x.py", "content": "x"}})
    [problem] = problems(p, workspace=ws)
    assert problem.startswith("step 'w': path:") and "outside the workspace" in problem
    assert problems(p) == []  # without a workspace only the static checks apply


def test_path_lists_are_checked_item_by_item() -> None:
    p = plan({"id": "lint", "skill": "run_ruff", "args": {"paths": ["src", "../x"]}})
    [problem] = problems(p)
    assert problem.startswith("step 'lint': paths:") and "'../x'" in problem


def test_check_plan_raises_with_every_problem() -> None:
    p = plan({"id": "a", "skill": "nope"}, {"id": "b", "skill": "nope2"})
    with pytest.raises(PlanError) as info:
        check_plan(p, REGISTRY)
    assert len(info.value.problems) == 2
    assert "2 problem(s)" in str(info.value)


def test_schema_errors_name_the_step() -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(
            {"goal": "g", "steps": [{"id": "ok", "skill": "x"}, {"id": "bad id!", "skill": "x"}]}
        )
    assert info.value.problems[0].startswith("step 'bad id!': id:")
    with pytest.raises(PlanError) as info:
        parse_plan({"steps": []})
    assert info.value.problems == ["plan: goal: Field required"]


def test_load_yaml_and_json(tmp_path: Path) -> None:
    body = {"goal": "g", "steps": [{"id": "a", "skill": "rg_search", "args": {"pattern": "x"}}]}
    (tmp_path / "p.json").write_text(json.dumps(body))
    (tmp_path / "p.yaml").write_text(
        "goal: g\nsteps:\n  - id: a\n    skill: rg_search\n    args: {pattern: x}\n"
    )
    assert load_plan(tmp_path / "p.json") == load_plan(tmp_path / "p.yaml")


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("goal: [unclosed\n")
    with pytest.raises(PlanError, match=r"bad\.yaml is not valid YAML"):
        load_plan(tmp_path / "bad.yaml")
    with pytest.raises(PlanError, match="cannot read plan file"):
        load_plan(tmp_path / "missing.yaml")


def test_recipe_expansion_and_its_errors() -> None:
    p = expand_recipe(
        parse_plan({"goal": "g", "recipe": {"name": "rename", "args": {"old": "a", "new": "b"}}})
    )
    assert [s.skill for s in p.steps] == [
        "rg_search",
        "run_ruff",
        "run_mypy",
        "run_pytest",
        "git_checkpoint",
    ]
    assert problems(p) == []
    with pytest.raises(PlanError, match="unknown recipe 'nope'"):
        expand_recipe(parse_plan({"goal": "g", "recipe": {"name": "nope"}}))
    with pytest.raises(PlanError, match="recipe rename: new:"):
        expand_recipe(
            parse_plan(
                {"goal": "g", "recipe": {"name": "rename", "args": {"old": "a", "new": "1x"}}}
            )
        )


def test_the_graph_publishes_documented_input_and_context_schemas() -> None:
    # What LangGraph's server serves at /assistants/{id}/schemas (and Studio draws).
    from phasegraph import build_orchestrator

    graph = build_orchestrator(served=True)
    fields = graph.get_input_jsonschema()["properties"]
    assert set(fields) == {"workspace", "plan", "request", "repo", "ref", "push"}
    assert all(field.get("description") for field in fields.values())
    context = graph.get_context_jsonschema()
    assert context is not None
    options = context["properties"]
    assert "python" in options and all(o.get("description") for o in options.values())
    output = graph.get_output_jsonschema()
    assert output is not None and "report" in output["properties"]
