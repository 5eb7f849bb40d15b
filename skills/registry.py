"""The skill registry: look skills up by name; register your own functions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pydantic import BaseModel

from phasegraph.skills.base import Skill, SkillFn, SkillKind

A = TypeVar("A", bound=BaseModel)


class SkillRegistry:
    """A name → :class:`Skill` mapping with a decorator for registration.

    Example::

        registry = default_registry()

        @registry.skill("count_lines", kind="read", args=CountArgs)
        async def count_lines(args: CountArgs, ctx: SkillContext) -> SkillResult: ...
    """

    def __init__(self, skills: list[Skill[Any]] | None = None) -> None:
        self._skills: dict[str, Skill[Any]] = {}
        for item in skills or []:
            self.add(item)

    def add(self, skill: Skill[A]) -> Skill[A]:
        if skill.name in self._skills:
            raise ValueError(f"a skill named {skill.name!r} is already registered")
        self._skills[skill.name] = skill
        return skill

    def skill(
        self,
        name: str,
        *,
        kind: SkillKind | str,
        args: type[A],
        description: str = "",
        programs: tuple[str, ...] = (),
    ) -> Callable[[SkillFn[A]], SkillFn[A]]:
        """Decorator: register an async ``(args, context) -> SkillResult`` function."""

        def register(fn: SkillFn[A]) -> SkillFn[A]:
            self.add(
                Skill(
                    name=name,
                    kind=SkillKind(kind),
                    args_model=args,
                    fn=fn,
                    description=description or (fn.__doc__ or "").strip().split("\n")[0],
                    programs=programs,
                )
            )
            return fn

        return register

    def get(self, name: str) -> Skill[Any] | None:
        return self._skills.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._skills

    def __iter__(self) -> Iterator[Skill[Any]]:
        return iter(sorted(self._skills.values(), key=lambda s: (s.kind.order, s.name)))

    def __len__(self) -> int:
        return len(self._skills)


def default_registry() -> SkillRegistry:
    """A fresh registry holding every built-in skill."""
    from phasegraph.skills.builtin import BUILTIN_SKILLS

    return SkillRegistry(list(BUILTIN_SKILLS))
