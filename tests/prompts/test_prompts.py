"""Prompts are data files: each renders with exactly the variables its caller gives."""

from __future__ import annotations

import pytest

from phasegraph.prompts import load_prompt, prompt_names, prompt_variables
from phasegraph.skills.core.errors import PromptError

#: What each prompt needs, as the nodes fill it in.
NEEDS = {
    "planner": {"skills", "unavailable", "workspace"},
    "consolidator": {"skills"},
    "consolidate_task": {"goal", "request", "plan", "findings", "cut"},
    "repair": {"problems", "attempts_left"},
    "json_reply": {"schema"},
}


def test_every_prompt_file_is_known_with_the_variables_it_needs() -> None:
    assert set(prompt_names()) == set(NEEDS)
    for name, needed in NEEDS.items():
        assert prompt_variables(name) == needed, name


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_each_prompt_renders_every_variable(name: str) -> None:
    values = {v: f"<<value of {v}>>" for v in NEEDS[name]}
    text = load_prompt(name, **values)
    for value in values.values():
        assert value in text
    assert "$" not in text.replace("$$", "")


def test_a_missing_or_unknown_variable_is_an_error_not_a_hole() -> None:
    with pytest.raises(PromptError, match=r"missing \['attempts_left'\]"):
        load_prompt("repair", problems="- x")
    with pytest.raises(PromptError, match=r"unknown \['problem'\]"):
        load_prompt("repair", problems="- x", attempts_left="1", problem="typo")
    with pytest.raises(PromptError, match="no prompt named 'nope'"):
        load_prompt("nope")


def test_values_are_inserted_as_they_are() -> None:
    text = load_prompt("repair", problems="- costs $5 and ${x}", attempts_left="1")
    assert "- costs $5 and ${x}" in text
