"""A plan's DAG as mermaid: phases in order, writes chained, dependencies drawn."""

from __future__ import annotations

from phasegraph import plan_mermaid
from phasegraph.demo import DEMO_PLAN


def test_phases_in_order_writes_chained_and_dependencies_drawn() -> None:
    plan = {
        "goal": "g",
        "steps": [
            {"id": "find", "skill": "rg_search", "args": {"pattern": "x"}},
            {"id": "look", "skill": "read_file", "args": {"path": "a.py"}, "after": ["find"]},
            {"id": "w1", "skill": "write_file", "args": {"path": "a.py", "content": "1"}},
            {"id": "w2", "skill": "write_file", "args": {"path": "b.py", "content": '"2"'}},
            {"id": "tests", "skill": "run_pytest"},
        ],
    }
    lines = plan_mermaid(plan).splitlines()
    assert lines[0] == "flowchart LR"
    boxes = [line.split("[")[0].split()[1] for line in lines if line.strip().startswith("subgraph")]
    assert boxes == ["phase_read", "phase_write", "phase_verify"]
    assert "  phase_read ==> phase_write" in lines
    assert "  phase_write ==> phase_verify" in lines
    assert "  s2 --> s3" in lines  # w1 before w2: writes run one after the other
    assert "  s0 -.-> s1" in lines  # look after find
    assert not any("commit" in line for line in lines)


def test_a_recipe_plan_shows_its_writes_as_a_placeholder_until_consolidated() -> None:
    text = plan_mermaid(DEMO_PLAN)
    assert 'writes(["edits from the reads<br/>(recipe rename)"])' in text
    assert "find-usages" in text and "git_checkpoint" in text
