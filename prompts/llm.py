"""Calling a chat model: structured answers, transient faults retried, a repair loop, usage."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langchain_core.utils.json import parse_json_markdown
from pydantic import BaseModel

from phasegraph.graph.model.state import Failure, FailureKind, ModelUsage, StructuredOutput
from phasegraph.prompts import load_prompt
from phasegraph.skills.core.errors import ModelError, PlanError
from phasegraph.skills.core.retry import IMMEDIATE, MODELS, is_transient, retrying, status_of

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


#: The ways of asking for a structured answer, best first: a JSON schema response format,
#: a forced tool call, JSON mode (the schema given in words), plain text (JSON in words,
#: taken from the reply, fenced or not).
LADDER: tuple[StructuredOutput, ...] = ("json_schema", "tool_calling", "json_mode", "text")
#: langchain-core's ``with_structured_output(method=...)`` for each structured rung.
_METHODS: dict[StructuredOutput, str] = {
    "json_schema": "json_schema",
    "tool_calling": "function_calling",
    "json_mode": "json_mode",
}
#: Words a 400 names when the endpoint does not take a rung's way of asking.
_REFUSED_WORDS: dict[StructuredOutput, tuple[str, ...]] = {
    "json_schema": ("response_format", "json_schema", "output_format", "structured output"),
    "tool_calling": ("tool", "function"),
    "json_mode": ("response_format", "json_object", "json mode"),
}
#: Statuses of a request the endpoint refused as written (422: servers that validate the
#: body with a schema of their own).
_REFUSED_STATUSES = frozenset({400, 422})


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
    rung: StructuredOutput = LADDER[0]
    """The way answers are asked for; one rung down when the endpoint refuses it."""
    endpoint: str = ""
    """:func:`endpoint_of` the model asked (set by :func:`ask`)."""

    def usage(self) -> ModelUsage:
        """The meter's counts, with the rung the endpoint took (once it was asked)."""
        usage = self.meter.usage()
        if self.endpoint:
            usage["structured_output"] = self.rung
            usage["endpoint"] = self.endpoint
        return usage

    def start_like(self, earlier: Mapping[str, ModelUsage], model: BaseChatModel) -> None:
        """Start on the rung an earlier node of the run settled on with the same endpoint,
        so a refusal costs one call a run, not one a node."""
        endpoint = endpoint_of(model)
        for usage in earlier.values():
            rung = usage.get("structured_output")
            if rung is not None and usage.get("endpoint") == endpoint:
                self.rung = max(self.rung, rung, key=LADDER.index)


def endpoint_of(model: BaseChatModel) -> str:
    """A digest of which endpoint ``model`` asks: its class, model name and base URL (hashed:
    a URL may hold a credential, and this is kept in the run's state)."""
    parts = [type(model).__module__, type(model).__qualname__]
    for attr in ("model_name", "model", "openai_api_base", "base_url"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value not in parts:
            parts.append(value)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


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

    Asked the ``how.rung`` way (see :data:`LADDER`); a client without that way, or an
    endpoint that refuses it (a 400 naming response_format or tools), moves ``how.rung``
    one rung down, for every later call with this ``how``. On the JSON mode and text
    rungs the schema is given in words (``prompts/json_reply.md``) and the reply parsed.
    """
    how.endpoint = endpoint_of(model)
    in_words: list[BaseMessage] | None = None
    while True:
        runnable = _asking(model, schema, how.rung)
        if runnable is None:
            how.rung = LADDER[LADDER.index(how.rung) + 1]
            continue
        sent = list(messages)
        if how.rung in ("json_mode", "text"):
            if in_words is None:  # the prompt file is read off the event loop
                in_words = await asyncio.to_thread(_with_json_instructions, messages, schema)
            sent = in_words
        try:
            reply = await _call(runnable, sent, how)
        except ModelError as exc:
            if not refused(exc, how.rung):
                raise
            how.rung = LADDER[LADDER.index(how.rung) + 1]
            continue
        structured = how.rung != "text"
        how.meter.answered(reply.get("raw") if structured and isinstance(reply, dict) else reply)
        return _answer(reply, structured=structured)


def _asking(
    model: BaseChatModel, schema: dict[str, Any], rung: StructuredOutput
) -> Runnable[Any, Any] | None:
    """``model`` asking for ``schema`` the ``rung`` way, or None when its client has no such
    way (no call is made, so this costs nothing)."""
    if rung == "text":
        return model
    default = type(model).with_structured_output is BaseChatModel.with_structured_output
    if default and rung != "tool_calling":
        return None  # langchain-core's own asks with a forced tool call, whatever the method
    try:
        return model.with_structured_output(schema, include_raw=True, method=_METHODS[rung])
    except (NotImplementedError, ValueError, TypeError):  # no tools, or no such method
        return None


def refused(exc: ModelError, rung: StructuredOutput) -> bool:
    """Whether ``exc`` is the endpoint refusing ``rung``'s way of asking: a 400 (or 422)
    that names it. Any other error (and a refusal of plain text) is the run's to report."""
    if rung == "text" or exc.status not in _REFUSED_STATUSES:
        return False
    said = f"{exc} {exc.__cause__ or ''}".lower()
    return any(word in said for word in _REFUSED_WORDS[rung])


async def _call(runnable: Runnable[Any, Any], messages: list[BaseMessage], how: Asking) -> Any:
    """One call of ``runnable``, transient faults retried (skills/core/retry.py ``MODELS``)."""
    reply: Any = None
    async for attempt in retrying(how.retries, MODELS):
        with attempt:
            try:
                async with asyncio.timeout(how.timeout):
                    reply = await runnable.ainvoke(messages)
            except Exception as exc:  # any provider's error, classified for the retry
                how.meter.failed_calls += 1
                raise model_error(exc, timeout=how.timeout) from exc
    return reply


def _answer(reply: Any, *, structured: bool) -> Answer:
    if not structured:
        return _parsed(reply)
    got: dict[str, Any] = reply if isinstance(reply, dict) else {}
    parsed, error, raw = got.get("parsed"), got.get("parsing_error"), got.get("raw")
    if isinstance(parsed, dict):
        return Answer(parsed, None, json.dumps(parsed))
    answer = _parsed(raw)
    if answer.data is not None:  # a server that ignored the tool or format, JSON in words
        return answer
    if error:
        return Answer(None, str(error), answer.text)
    return Answer(
        None, answer.error if answer.text.strip() else "the reply held no JSON object", answer.text
    )


def _parsed(message: BaseMessage | None) -> Answer:
    text = _text(message)
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

    ``validate`` (run in a worker thread: it may read files and run git) raises
    :class:`PlanError` with every problem; the model then
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
                # Validation reads the workspace and runs git: off the event loop.
                return await asyncio.to_thread(validate, answer.data)
            except PlanError as exc:
                left = attempts - attempt.retry_state.attempt_number
                if left > 0:
                    repair = await asyncio.to_thread(
                        load_prompt,
                        "repair",
                        problems="\n".join(f"- {p}" for p in exc.problems),
                        attempts_left=str(left),
                    )
                    conversation += [AIMessage(content=answer.text), HumanMessage(content=repair)]
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


@dataclass(frozen=True)
class Wanted:
    """What a call asks the model for: an answer following ``model_cls``'s schema, and how
    the failure that stops the run reads when it gets none."""

    model_cls: type[BaseModel]
    #: The failure's kind when the answer stays invalid, or the model says it cannot.
    kind: FailureKind
    #: Names the answer in the "still invalid" error ("plan was").
    what: str
    #: Introduces the model's reason when it says it cannot do the job.
    unable: str
    #: Appended to both errors ("; nothing was written").
    outcome: str = ""


async def answer_or_failure(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    validate: Callable[[dict[str, Any]], T | str],
    how: Asking,
    wanted: Wanted,
) -> tuple[T | None, Failure | None]:
    """:func:`ask_until_valid`, ending in the answer or the :class:`Failure` that stops the run.

    ``validate`` returns a string when the model said it cannot do the job (``wanted.unable``
    introduces it).
    """
    try:
        result = await ask_until_valid(model, messages, schema_of(wanted.model_cls), validate, how)
    except ModelError as exc:
        return None, Failure(step=None, kind="model", error=str(exc))
    except PlanError as exc:
        error = still_invalid(wanted.what, how.attempts, exc.problems, wanted.outcome)
        return None, Failure(step=None, kind=wanted.kind, error=error)
    if isinstance(result, str):
        error = f"{wanted.unable}: {result}{wanted.outcome}"
        return None, Failure(step=None, kind=wanted.kind, error=error)
    return result, None


def still_invalid(what: str, attempts: int, problems: list[str], outcome: str = "") -> str:
    """The error for a model answer that stayed invalid through every repair attempt."""
    listed = "\n".join(f"  - {p}" for p in problems)
    return (
        f"the model's {what} still invalid after {attempts} attempt(s) "
        f"(RunOptions.plan_attempts){outcome}; the last problems:\n{listed}"
    )
