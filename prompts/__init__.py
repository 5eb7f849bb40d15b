"""Prompts as data files, loaded by name, with every variable checked."""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template

from phasegraph.skills.core.errors import PromptError

__all__ = ["PromptError", "load_prompt", "prompt_names", "prompt_variables"]


@cache
def _template(name: str) -> Template:
    source = resources.files(__name__).joinpath(f"{name}.md")
    if not source.is_file():
        raise PromptError(f"no prompt named {name!r} (known: {', '.join(prompt_names())})")
    template = Template(source.read_text(encoding="utf-8"))
    if not template.is_valid():
        raise PromptError(f"prompt {name!r} has a '$' that is not a variable; write '$$' for '$'")
    return template


def prompt_names() -> list[str]:
    """Every prompt file in this package, by name (``planner`` for ``planner.md``)."""
    return sorted(
        entry.name.removesuffix(".md")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".md")
    )


def prompt_variables(name: str) -> set[str]:
    """The ``$variables`` prompt ``name`` needs."""
    return set(_template(name).get_identifiers())


def load_prompt(name: str, **variables: str) -> str:
    """The prompt ``name`` (``prompts/<name>.md``) with its ``$variables`` filled in.

    Every variable the file names must be given, and no other: a typo in a
    caller or in a prompt file is an error, not a silently empty hole.
    """
    needed = prompt_variables(name)
    missing = sorted(needed - variables.keys())
    unknown = sorted(variables.keys() - needed)
    if missing or unknown:
        parts = [f"missing {missing}" if missing else "", f"unknown {unknown}" if unknown else ""]
        raise PromptError(f"prompt {name!r}: " + ", ".join(p for p in parts if p))
    return _template(name).substitute(variables)
