"""Paths the README documented before the re-layout still import, and say where to go."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("phasegraph.skills.errors", "SkillError", "phasegraph.skills.core.errors"),
        ("phasegraph.graph.events", "StepEvent", "phasegraph.graph.model.events"),
    ],
)
def test_a_moved_path_forwards_with_a_warning(old: str, name: str, new: str) -> None:
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=new):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError):
        module.__getattr__("__wrapped__")


def test_the_public_api_is_unchanged() -> None:
    import phasegraph

    for name in phasegraph.__all__:
        assert getattr(phasegraph, name) is not None, name
    with pytest.warns(DeprecationWarning):
        from phasegraph.skills.errors import SkillError
    assert SkillError is phasegraph.SkillError
