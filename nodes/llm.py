"""Calling a chat model: structured answers, transient faults retried, a repair loop, usage."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langchain_core.utils.json import parse_json_markdown
from pydantic import BaseModel

from phasegraph.graph.state import Failure, FailureKind, ModelUsage
from phasegraph.prompts import load_prompt
from phasegraph.skills.errors import ModelError, PlanError
from phasegraph.skills.retry import IMMEDIATE, MODELS, is_transient, retrying, status_of

T = TypeVar("T")

#: The longest wait a server's Retry-After may ask for before the next attempt.
MAX_RETRY_AFTER = 60.0


def model_error(exc: BaseException, *, timeout: float) -> ModelError:
    """``exc`` from a model call, as a :class:`ModelError` whose message says what to do."""
    if isinstance(exc, ModelError):
        return exc
    status = status_of(exc)
    if isinstance(exc, TimeoutError) and not str(exc):
        what = f"no answer within {timeout:g}s (RunOptions.model_timeout)"
    else:
        what = f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
    if status in (401, 403):
        what += "; the provider refused the credentials: check the API key and its permissions"
    elif status == 404:
        what += "; check the model name and the base URL"
    return ModelError(
        f"the model call failed: {what}",
        transient=is_transient(exc),
        status=status,
        retry_after=retry_after(exc),
    )


def retry_after(exc: BaseException) -> float:
    """Seconds the server asked to wait (Retry-After in seconds), capped; 0 when it did not."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return 0.0
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(headers.get("retry-after", 0) or 0)))
    except (TypeError, ValueError):  # an HTTP date: fall back to the backoff
        return 0.0


@dataclass
class Meter:
    """Counts one node's model calls and the tokens they used."""

    calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def answered(self, message: BaseMessage | None) -> None:
        self.calls += 1
        usage = getattr(message, "usage_metadata", None) or {}
        self.input_tokens += int(usage.get("input_tokens", 0) or 0)
        self.output_tokens += int(usage.get("output_tokens", 0) or 0)

    def usage(self) -> ModelUsage:
        return ModelUsage(
            calls=self.calls,
            failed_calls=self.failed_calls,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
        )


@dataclass
class Asking:
    """How to ask: the attempts and limits a node's model calls keep to."""

    retries: int = 3
    """Attempts per call when it fails with a transient fault."""
    timeout: float = 300.0
    """Seconds one call may take."""
    attempts: int = 3
    """Answers the model may give before a still-invalid one stops the run."""
    meter: Meter = field(default_factory=Meter)


@dataclass(frozen=True)
class Answer:
    """One reply: the JSON object it held (or why it held none) and its text, for a retry."""

    data: dict[str, Any] | None
    error: str | None
    text: str


def schema_of(model_cls: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema a structured answer must follow, generated from ``model_cls``.

    Given as a plain schema (not the class) so providers use their non-strict
    structured output: args are free-form objects, checked by each skill's own
    model afterwards, with the errors sent back for a repair.
    """
    schema = model_cls.model_json_schema()
    schema.setdefault("description", (model_cls.__doc__ or "").strip().split("\n")[0])
    return schema


async def ask(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    schema: dict[str, Any],
    how: Asking,
) -> Answer:
    """One structured answer from ``model``, transient faults retried with backoff.

    Models with structured output (tool calling or a JSON schema response
    format) get the schema that way; models without it are asked for JSON in
    words (``prompts/json_reply.md``) and their reply is parsed.
    """
    runnable: Runnable[Any, Any]
    try:
        runnable = model.with_structured_output(schema, include_raw=True)
        structured = True
    except NotImplementedError:
        runnable, structured = model, False
        messages = _with_json_instructions(messages, schema)
    reply: Any = None
    async for attempt in retrying(how.retries, MODELS):
        with attempt:
            try:
                async with asyncio.timeout(how.timeout):
                    reply = await runnable.ainvoke(list(messages))
            except Exception as exc:  # any provider's error, classified for the retry
                how.meter.failed_calls += 1
                raise model_error(exc, timeout=how.timeout) from exc
    if structured:
        raw = reply.get("raw") if isinstance(reply, dict) else None
        how.meter.answered(raw)
        parsed, error = reply.get("parsed"), reply.get("parsing_error")
        text = json.dumps(parsed) if isinstance(parsed, dict) else _text(raw)
        if isinstance(parsed, dict):
            return Answer(parsed, None, text)
        why = str(error) if error else "the reply held no JSON object"
        return Answer(None, why, text)
    how.meter.answered(reply)
    text = _text(reply)
    try:
        data = parse_json_markdown(text, parser=json.loads)
    except (json.JSONDecodeError, ValueError) as exc:
        return Answer(None, f"the reply is not valid JSON: {exc}", text)
    if not isinstance(data, dict):
        return Answer(None, "the reply is JSON but not an object", text)
    return Answer(data, None, text)


async def ask_until_valid(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    schema: dict[str, Any],
    validate: Callable[[dict[str, Any]], T],
    how: Asking,
) -> T:
    """Ask until ``validate`` accepts the answer, at most ``how.attempts`` times.

    ``validate`` raises :class:`PlanError` with every problem; the model then
    sees its answer and those exact problems (``prompts/repair.md``) and tries
    again. After the last attempt the last :class:`PlanError` is raised.
    """
    conversation = list(messages)
    attempts = max(1, how.attempts)
    async for attempt in retrying(attempts, IMMEDIATE, lambda e: isinstance(e, PlanError)):
        with attempt:
            answer = await ask(model, conversation, schema, how)
            try:
                if answer.data is None:
                    raise PlanError([f"the reply is not a JSON object as asked: {answer.error}"])
                return validate(answer.data)
            except PlanError as exc:
                left = attempts - attempt.retry_state.attempt_number
                if left > 0:
                    conversation += [
                        AIMessage(content=answer.text),
                        HumanMessage(
                            content=load_prompt(
                                "repair",
                                problems="\n".join(f"- {p}" for p in exc.problems),
                                attempts_left=str(left),
                            )
                        ),
                    ]
                raise
    raise AssertionError("unreachable: tenacity reraises the last PlanError")


def _with_json_instructions(
    messages: Sequence[BaseMessage], schema: dict[str, Any]
) -> list[BaseMessage]:
    extra = load_prompt("json_reply", schema=json.dumps(schema, indent=1))
    out = list(messages)
    if out and isinstance(out[0], SystemMessage):
        out[0] = SystemMessage(content=f"{_text(out[0])}\n\n{extra}")
    else:
        out.insert(0, SystemMessage(content=extra))
    return out


def _text(message: BaseMessage | None) -> str:
    if message is None:
        return ""
    text = str(message.text)
    if text:
        return text
    calls = getattr(message, "tool_calls", None) or []
    return json.dumps(calls[0].get("args", {})) if calls else ""


async def answer_or_failure(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    schema: dict[str, Any],
    validate: Callable[[dict[str, Any]], T | str],
    how: Asking,
    *,
    kind: FailureKind,
    what: str,
    unable: str,
    outcome: str = "",
) -> tuple[T | None, Failure | None]:
    """:func:`ask_until_valid`, ending in the answer or the :class:`Failure` that stops the run.

    ``validate`` returns a string when the model said it cannot do the job (``unable``
    introduces it); ``what`` names the answer in the "still invalid" error; ``outcome``
    is appended to both ("; nothing was written").
    """
    try:
        result = await ask_until_valid(model, messages, schema, validate, how)
    except ModelError as exc:
        return None, Failure(step=None, kind="model", error=str(exc))
    except PlanError as exc:
        error = still_invalid(what, how.attempts, exc.problems, outcome)
        return None, Failure(step=None, kind=kind, error=error)
    if isinstance(result, str):
        return None, Failure(step=None, kind=kind, error=f"{unable}: {result}{outcome}")
    return result, None


def still_invalid(what: str, attempts: int, problems: list[str], outcome: str = "") -> str:
    """The error for a model answer that stayed invalid through every repair attempt."""
    listed = "\n".join(f"  - {p}" for p in problems)
    return (
        f"the model's {what} still invalid after {attempts} attempt(s) "
        f"(RunOptions.plan_attempts){outcome}; the last problems:\n{listed}"
    )
