"""What a consolidation may add once the reads are over: one rule for every consolidator."""

from __future__ import annotations

from phasegraph.graph.model.plan import Step
from phasegraph.graph.preflight.acceptance import not_addable
from phasegraph.skills.registry import default_registry


def test_a_consolidation_adds_writes_checks_and_a_commit_only() -> None:
    registry = default_registry()
    added = [
        Step(id="w", skill="write_file", args={"path": "a.py", "content": ""}),
        Step(id="t", skill="run_pytest"),
        Step(id="c", skill="git_checkpoint", args={"message": "m"}),
        Step(id="more", skill="rg_search", args={"pattern": "x"}),
        Step(id="odd", skill="no_such_skill"),
    ]
    assert not_addable(added, registry) == [
        "step 'more': rg_search is a read skill; the reads are over, so give only write, "
        "verify and commit steps",
        "step 'odd': unknown skill 'no_such_skill'; a consolidation adds write, verify and "
        "commit steps only",
    ]
    assert not_addable(added[:3], registry) == []
