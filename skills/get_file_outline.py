"""get_file_outline: the classes, functions and methods of a Python file, via tree-sitter."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any, Literal

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.guards.workspace import relative_name, resolve_in_workspace
from phasegraph.skills.python.syntax import PYTHON_SUFFIXES, parse_python
from phasegraph.skills.read_file import read_text_file

if TYPE_CHECKING:
    import tree_sitter

#: Larger files are refused rather than parsed.
MAX_OUTLINE_BYTES = 10_000_000

Scope = Literal["module", "class", "function"]


class GetFileOutlineArgs(SkillArgs):
    """Arguments of :func:`get_file_outline`."""

    path: Annotated[str, PathArg()]


def _text(node: tree_sitter.Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def _outline(node: tree_sitter.Node, prefix: str, scope: Scope, out: list[dict[str, Any]]) -> None:
    """Append every definition under ``node``; ``prefix`` is the enclosing qualname + dot."""
    for child in node.named_children:
        outer = child
        definition: tree_sitter.Node | None = child
        decorators: list[str] = []
        if child.type == "decorated_definition":
            definition = child.child_by_field_name("definition")
            decorators = [
                _text(d).lstrip("@").strip()[:120] for d in child.children if d.type == "decorator"
            ]
        if definition is None or definition.type not in ("class_definition", "function_definition"):
            # if/try/with/... blocks keep the scope: a def under `if TYPE_CHECKING:` still counts.
            _outline(child, prefix, scope, out)
            continue
        name = _text(definition.child_by_field_name("name"))
        qualname = prefix + name
        is_class = definition.type == "class_definition"
        kind = "class" if is_class else ("method" if scope == "class" else "function")
        symbol: dict[str, Any] = {
            "kind": kind,
            "name": name,
            "qualname": qualname,
            # Decorators belong to the definition: its lines start at the first one.
            "start_line": outer.start_point.row + 1,
            "end_line": outer.end_point.row + 1,
            "decorators": decorators,
        }
        if not is_class:
            symbol["async"] = any(c.type == "async" for c in definition.children)
        out.append(symbol)
        body = definition.child_by_field_name("body")
        if body is not None:
            if is_class:
                _outline(body, qualname + ".", "class", out)
            else:
                # Python's own __qualname__ convention for nested definitions.
                _outline(body, qualname + ".<locals>.", "function", out)


async def get_file_outline(args: GetFileOutlineArgs, ctx: SkillContext) -> SkillResult:
    """Its file work (below) runs in a worker thread, never on the event loop."""
    return await asyncio.to_thread(_get_file_outline, args, ctx)


def _get_file_outline(args: GetFileOutlineArgs, ctx: SkillContext) -> SkillResult:
    """Outline a Python file: each class, function and method with its line range."""
    target = resolve_in_workspace(ctx.workspace, args.path, step_id=ctx.step_id)
    if target.suffix not in PYTHON_SUFFIXES:
        raise SkillError(
            f"get_file_outline supports only Python files (.py, .pyi), not {args.path!r}; "
            "use read_file or rg_search for other files",
            step_id=ctx.step_id,
        )
    rel = relative_name(ctx.workspace, target)
    data, _ = read_text_file(
        target, rel, max_bytes=MAX_OUTLINE_BYTES, step_id=ctx.step_id, workspace=ctx.workspace
    )
    tree = parse_python(data)
    symbols: list[dict[str, Any]] = []
    _outline(tree.root_node, "", "module", symbols)

    counts = {k: sum(1 for s in symbols if s["kind"] == k) for k in ("class", "function", "method")}
    parts = [
        f"{n} {k}" if n == 1 else f"{n} {k}{'es' if k == 'class' else 's'}"
        for k, n in counts.items()
    ]
    broken = tree.root_node.has_error
    note = " (file has syntax errors; outline is best effort)" if broken else ""
    return SkillResult(
        summary=f"outline of {rel[:100]}: {', '.join(parts)}{note}",
        data={"path": rel, "symbols": symbols, "syntax_errors": broken},
    )


SKILL = Skill(
    name="get_file_outline",
    kind=SkillKind.READ,
    args_model=GetFileOutlineArgs,
    fn=get_file_outline,
    description="Outline a Python file (classes, functions, methods with line ranges)",
)
