"""LangChain tools as skills (with a declared kind), and skills as LangChain tools."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, TypeVar

from langchain_core.messages import ToolMessage
from langchain_core.messages.tool import tool_call
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, ValidationError, create_model
from pydantic.fields import FieldInfo

from phasegraph.skills.base import PathArg, Skill, SkillArgs, SkillContext, SkillKind, SkillResult
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.text import clip, describe_errors
from phasegraph.skills.guards.workspace import resolve_in_workspace, workspace_relative
from phasegraph.skills.registry import SkillRegistry

T = TypeVar("T")

#: Turns a verify tool's output into findings (stable keys, no line numbers).
FindingsFn = Callable[[Any], list[str]]

#: Kinds a wrapped tool may declare: a commit belongs to a run (see ``git_checkpoint``).
TOOL_KINDS = (SkillKind.READ, SkillKind.WRITE, SkillKind.VERIFY)
#: Kinds :func:`skills_as_tools` exports unless told otherwise: none of them changes files.
SAFE_KINDS = (SkillKind.READ, SkillKind.VERIFY)

_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list[Any],
    "object": dict[str, Any],
}


def skill_from_tool(
    tool: BaseTool,
    *,
    kind: SkillKind | str,
    name: str | None = None,
    path_args: Sequence[str] = (),
    findings: FindingsFn | None = None,
    description: str | None = None,
    programs: tuple[str, ...] = (),
) -> Skill[BaseModel]:
    """A skill that calls ``tool``, in the phase ``kind`` declares.

    ``path_args`` names the tool's arguments that are workspace paths: plans give
    them relative to the workspace, validation refuses any that escape it, and the
    tool receives them as absolute paths inside the workspace. A ``write`` tool must
    name the files it writes this way (each of its path arguments counts as a file it
    writes), so the run can check them on disk, commit exactly them and undo them.
    ``findings`` turns a ``verify`` tool's output into findings for the quality gate;
    without it, a verify tool passes unless it raises.

    Example::

        registry.add(skill_from_tool(my_tool, kind="read", path_args=["path"]))
    """
    kind = SkillKind(kind)
    if kind not in TOOL_KINDS:
        raise ValueError(
            f"tool {tool.name!r}: kind {kind.value!r} cannot be declared for a tool; "
            "a commit belongs to a run (use git_checkpoint)"
        )
    if kind is SkillKind.WRITE and not path_args:
        raise ValueError(
            f"tool {tool.name!r}: a write tool must name the files it writes in path_args, "
            "so the run can check them on disk, commit exactly them and undo them"
        )
    skill_name = name or tool.name
    args_model = tool_args_model(tool, path_args, model_name=_model_name(skill_name))
    paths = tuple(path_args)

    async def call(args: BaseModel, ctx: SkillContext) -> SkillResult:
        payload = args.model_dump(exclude_unset=True)
        full = args.model_dump()
        touched: list[str] = []
        for field in paths:
            value = full.get(field)
            if isinstance(value, str):
                target = resolve_in_workspace(ctx.workspace, value, step_id=ctx.step_id)
                payload[field] = str(target)
                touched.append(workspace_relative(ctx.workspace, target))
            elif isinstance(value, list):
                targets = [
                    resolve_in_workspace(ctx.workspace, v, step_id=ctx.step_id) for v in value
                ]
                payload[field] = [str(t) for t in targets]
                touched += [workspace_relative(ctx.workspace, t) for t in targets]
        content, artifact = await _invoke(tool, payload, ctx)
        text = output_text(content)
        first = next((line for line in text.splitlines() if line.strip()), "(no output)")
        data: dict[str, Any] = {"output": _jsonable(content)}
        if artifact is not None:
            data["artifact"] = _jsonable(artifact)
        return SkillResult(
            summary=clip(f"{tool.name}: {first}"),
            data=data,
            files_written=touched if kind is SkillKind.WRITE else [],
            findings=list(findings(content)) if findings is not None else [],
        )

    return Skill(
        name=skill_name,
        kind=kind,
        args_model=args_model,
        fn=call,
        description=description or _first_line(tool.description),
        programs=programs,
    )


def register_tools(
    registry: SkillRegistry,
    tools: Iterable[BaseTool],
    kinds: Mapping[str, SkillKind | str],
    *,
    path_args: Mapping[str, Sequence[str]] | None = None,
) -> list[Skill[BaseModel]]:
    """Register every tool named in ``kinds`` (tool name → kind) on ``registry``.

    A tool without a declared kind is not registered: its phase would be a guess.
    A name in ``kinds`` that no tool has is an error.
    """
    by_name = {t.name: t for t in tools}
    missing = sorted(set(kinds) - set(by_name))
    if missing:
        raise ValueError(f"no tool named {', '.join(map(repr, missing))} (have: {sorted(by_name)})")
    paths = path_args or {}
    added = []
    for tool_name, kind in kinds.items():
        skill = skill_from_tool(by_name[tool_name], kind=kind, path_args=paths.get(tool_name, ()))
        added.append(registry.add(skill))
    return added


def tool_args_model(
    tool: BaseTool, path_args: Sequence[str] = (), *, model_name: str = "ToolArgs"
) -> type[BaseModel]:
    """The tool's arguments (as a model would call it) as a :class:`SkillArgs` model.

    Fields named in ``path_args`` are marked with :class:`PathArg`. Tools that
    describe their arguments as JSON schema (MCP tools) get a model built from it.
    """
    schema = tool.tool_call_schema
    fields: dict[str, Any] = {}
    if isinstance(schema, dict):
        required = set(schema.get("required", []))
        for field, prop in dict(schema.get("properties", {})).items():
            annotation: Any = _JSON_TYPES.get(str(prop.get("type")), Any)
            info = FieldInfo(
                default=... if field in required else prop.get("default"),
                description=prop.get("description"),
            )
            if field not in required and annotation is not Any:
                annotation = annotation | None
            fields[field] = (annotation, info)
    elif issubclass(schema, BaseModel):
        for field, info in schema.model_fields.items():
            fields[field] = (info.annotation, info)
    else:
        raise TypeError(f"tool {tool.name!r}: pydantic v1 argument schemas are not supported")
    unknown = sorted(set(path_args) - set(fields))
    if unknown:
        raise ValueError(
            f"tool {tool.name!r}: path_args {unknown} are not among its arguments {sorted(fields)}"
        )
    for field in path_args:
        annotation, info = fields[field]
        fields[field] = (Annotated[annotation, PathArg()], info)
    model: type[BaseModel] = create_model(model_name, __base__=SkillArgs, **fields)
    model.__doc__ = f"Arguments of the {tool.name} tool."
    return model


def skill_as_tool(
    skill: Skill[Any], workspace: str | Path, *, max_chars: int = 20_000, timeout: float = 300.0
) -> StructuredTool:
    """``skill`` as a LangChain tool working in ``workspace``, for any agent to call.

    The tool validates its arguments like a plan step (paths must stay inside the
    workspace). Its content is the result as JSON (cut at ``max_chars``), its
    artifact the full :class:`SkillResult`; a failure comes back as an error
    message the agent can read.
    """
    root = Path(workspace).expanduser().resolve()

    async def run(**kwargs: Any) -> tuple[str, SkillResult]:
        try:
            args = skill.parse_args(kwargs)
        except ValidationError as exc:
            raise ToolException(describe_errors(exc, f"bad args for {skill.name}")[0]) from exc
        try:
            _check_paths(skill, args, root)
            result = await skill.run(
                args, SkillContext(workspace=root, step_id=skill.name, timeout=timeout)
            )
        except SkillError as exc:
            raise ToolException(str(exc)) from exc
        if not result.ok:
            raise ToolException(result.summary)
        body = json.dumps(
            {"summary": result.summary, "data": result.data, "findings": result.findings},
            default=str,
            ensure_ascii=False,
        )
        if len(body) > max_chars:
            body = body[:max_chars] + f"… [cut at {max_chars} characters]"
        return body, result

    def run_sync(**kwargs: Any) -> tuple[str, SkillResult]:
        return run_sync_coroutine(lambda: run(**kwargs))

    return StructuredTool.from_function(
        func=run_sync,
        coroutine=run,
        name=skill.name,
        description=f"{skill.description} (phasegraph {skill.kind.value} skill, in {root})",
        args_schema=skill.args_model,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=describe_validation_error,
    )


def skills_as_tools(
    registry: SkillRegistry,
    workspace: str | Path,
    *,
    kinds: Iterable[SkillKind | str] = SAFE_KINDS,
    names: Iterable[str] | None = None,
    max_chars: int = 20_000,
) -> list[StructuredTool]:
    """The registry's skills of ``kinds`` (default: read and verify) as LangChain tools.

    Write skills are exported only when asked for (``kinds=["read", "write"]``): an
    agent calling them directly gets no gate and no commit. Commit skills are never
    exported: a commit belongs to a run; give the agent :func:`phasegraph.as_tool`.
    """
    wanted = {SkillKind(k) for k in kinds}
    if SkillKind.COMMIT in wanted:
        raise ValueError(
            "commit skills are not exported as tools: a commit belongs to a run "
            "(give the agent phasegraph.as_tool instead)"
        )
    chosen = set(names) if names is not None else None
    return [
        skill_as_tool(skill, workspace, max_chars=max_chars)
        for skill in registry
        if skill.kind in wanted and (chosen is None or skill.name in chosen)
    ]


def output_text(output: Any) -> str:
    """A tool's output as text: strings as they are, content blocks joined, the rest as JSON."""
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(b, dict) for b in output):
        texts = [str(b.get("text", "")) for b in output if b.get("type") == "text"]
        if texts:
            return "\n".join(texts)
    return json.dumps(_jsonable(output))


def describe_validation_error(exc: Exception) -> str:
    """A tool's input error as one line an agent can act on (every field named)."""
    if isinstance(exc, ValidationError):
        return "invalid input: " + "; ".join(describe_errors(exc))
    return f"invalid input: {exc}"


def run_sync_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``make()`` to its end from synchronous code, even inside a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    # Called synchronously from async code (a sync agent step): a loop of its own, elsewhere.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


async def _invoke(tool: BaseTool, payload: dict[str, Any], ctx: SkillContext) -> tuple[Any, Any]:
    """Call ``tool`` as a model would (a tool call), so every failure shows, handled or not."""
    call = tool_call(name=tool.name, args=payload, id=f"phasegraph-{uuid.uuid4().hex}")
    try:
        message = await asyncio.wait_for(tool.ainvoke(call), timeout=ctx.timeout)
    except SkillError:
        raise
    except TimeoutError as exc:
        raise SkillError(
            f"tool {tool.name} did not finish within {ctx.timeout:g}s; raise the step timeout "
            "(--step-timeout SECONDS, RunOptions.step_timeout) if it needs longer",
            step_id=ctx.step_id,
        ) from exc
    except ToolException as exc:
        raise SkillError(f"tool {tool.name} failed: {exc}", step_id=ctx.step_id) from exc
    except ConnectionError as exc:
        raise SkillError(
            f"tool {tool.name} lost its connection: {exc}", step_id=ctx.step_id, transient=True
        ) from exc
    except Exception as exc:
        raise SkillError(
            f"{type(exc).__name__} in tool {tool.name}: {exc}", step_id=ctx.step_id
        ) from exc
    if not isinstance(message, ToolMessage):
        return message, None
    if message.status == "error":
        raise SkillError(
            f"tool {tool.name} failed: {clip(output_text(message.content))}", step_id=ctx.step_id
        )
    return message.content, message.artifact


def _check_paths(skill: Skill[Any], args: BaseModel, root: Path) -> None:
    for field in skill.path_fields():
        value = getattr(args, field)
        for rel in value if isinstance(value, list) else [value]:
            if isinstance(rel, str):
                resolve_in_workspace(root, rel, step_id=skill.name)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _model_name(skill_name: str) -> str:
    return "".join(p.capitalize() for p in skill_name.replace("-", "_").split("_")) + "Args"
