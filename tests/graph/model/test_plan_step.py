"""A plan's step in its dict form (``PlanStep``) is ``Step.model_dump()``, typed."""

from __future__ import annotations

from typing import NotRequired, get_origin, get_type_hints

from phasegraph.graph.model.plan import PlanStep, Step


def test_a_plan_step_has_the_keys_of_a_dumped_step() -> None:
    hints = get_type_hints(PlanStep, include_extras=True)
    assert set(hints) == set(Step.model_fields)
    required = {name for name, hint in hints.items() if get_origin(hint) is not NotRequired}
    assert required == {name for name, field in Step.model_fields.items() if field.is_required()}


def test_as_plan_step_is_the_dump() -> None:
    step = Step(id="edit", skill="edit_block", args={"path": "a.py"}, after=["find"])
    assert step.as_plan_step() == step.model_dump()
    assert Step(id="find", skill="rg_search").as_plan_step() == {
        "id": "find",
        "skill": "rg_search",
        "args": {},
        "after": [],
    }
