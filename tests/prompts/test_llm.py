"""Calling a chat model: JSON answers from any model, transient faults retried, usage counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from support.llm import BASE_URL, REFUSALS, Recorder, reply

from phasegraph.prompts.llm import Asking, ask, endpoint_of, model_error, refused, schema_of
from phasegraph.prompts.llm_planner import PlanDraft
from phasegraph.skills.core.errors import ModelError
from phasegraph.skills.core.retry import is_transient

ASK = [SystemMessage(content="plan it"), HumanMessage(content="greet with hi")]
SCHEMA = schema_of(PlanDraft)


class StatusError(Exception):
    """What provider SDKs raise for an HTTP error: an exception with a status code."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


class Replies(Iterator[AIMessage]):
    """A fake model's replies: an exception in the list is raised at that turn."""

    def __init__(self, *items: AIMessage | BaseException) -> None:
        self.items = list(items)

    def __next__(self) -> AIMessage:
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


def model(*items: AIMessage | BaseException) -> tuple[GenericFakeChatModel, Recorder]:
    recorder = Recorder()
    return GenericFakeChatModel(messages=Replies(*items), callbacks=[recorder]), recorder


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (StatusError(429), True),
        (StatusError(503), True),
        (StatusError(529), True),
        (StatusError(401), False),
        (StatusError(403), False),
        (StatusError(400), False),
        (ValueError("bad schema"), False),
    ],
)
def test_which_model_errors_are_worth_another_try(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient


async def test_a_model_without_structured_output_answers_json_in_words() -> None:
    fenced = reply('```json\n{"goal": "g", "steps": []}\n```', 50, 5)
    fake, seen = model(fenced)
    how = Asking()

    answer = await ask(fake, ASK, SCHEMA, how)

    assert answer.data == {"goal": "g", "steps": []}
    assert "Reply with one JSON object" in str(seen.calls[0][0].content)
    assert '"title": "plan"' in str(seen.calls[0][0].content)
    assert (how.meter.calls, how.meter.input_tokens, how.meter.output_tokens) == (1, 50, 5)


async def test_a_timeout_is_retried_and_counted() -> None:
    fake, seen = model(TimeoutError(), reply({"goal": "g", "steps": []}))
    how = Asking(retries=3)

    answer = await ask(fake, ASK, SCHEMA, how)

    assert answer.data is not None
    assert (how.meter.calls, how.meter.failed_calls) == (1, 1)
    assert len(seen.calls) == 2


async def test_refused_credentials_are_not_retried() -> None:
    fake, seen = model(StatusError(401), reply({"goal": "g", "steps": []}))
    how = Asking(retries=3)

    with pytest.raises(ModelError, match="refused the credentials") as failed:
        await ask(fake, ASK, SCHEMA, how)

    assert failed.value.transient is False
    assert len(seen.calls) == 1
    assert how.meter.failed_calls == 1


async def test_retries_stop_at_the_limit() -> None:
    fake, seen = model(*[StatusError(503) for _ in range(5)])

    with pytest.raises(ModelError, match="HTTP 503"):
        await ask(fake, ASK, SCHEMA, Asking(retries=2))

    assert len(seen.calls) == 2


async def test_an_answer_that_is_not_an_object_is_reported_not_raised() -> None:
    fake, _ = model(reply("[1, 2, 3]"))

    answer = await ask(fake, ASK, SCHEMA, Asking())

    assert answer.data is None
    assert answer.error == "the reply is JSON but not an object"
    assert answer.text == "[1, 2, 3]"


def test_the_answer_schema_is_generated_from_the_models() -> None:
    step: dict[str, Any] = SCHEMA["$defs"]["Step"]
    assert SCHEMA["title"] == "plan"
    assert set(SCHEMA["required"]) == {"goal", "steps"}
    assert set(step["properties"]) == {"id", "skill", "args", "after"}


def test_a_server_asking_to_wait_is_heard_within_a_limit() -> None:
    class RateLimited(StatusError):
        def __init__(self, wait: str) -> None:
            super().__init__(429)
            self.response = httpx.Response(429, headers={"retry-after": wait})

    assert model_error(RateLimited("7"), timeout=1).retry_after == 7.0
    assert model_error(RateLimited("86400"), timeout=1).retry_after == 60.0
    assert model_error(RateLimited("Wed, 21 Oct 2015 07:28:00 GMT"), timeout=1).retry_after == 0
    assert model_error(StatusError(503), timeout=1).retry_after == 0


@pytest.mark.parametrize(
    ("status", "message", "rung", "steps_down"),
    [
        (400, REFUSALS["json_schema"], "json_schema", True),
        (400, REFUSALS["tool_calling"], "tool_calling", True),
        (400, REFUSALS["json_mode"], "json_mode", True),
        (422, "Extra inputs are not permitted: body.response_format", "json_schema", True),
        (400, "maximum context length is 8192 tokens", "json_schema", False),
        (400, REFUSALS["tool_calling"], "json_schema", False),
        (500, REFUSALS["json_schema"], "json_schema", False),
        (400, REFUSALS["json_mode"], "text", False),
    ],
)
def test_only_a_bad_request_naming_the_way_of_asking_steps_down(
    status: int, message: str, rung: Any, steps_down: bool
) -> None:
    error = ModelError(f"the model call failed: {message}", transient=False, status=status)

    assert refused(error, rung) is steps_down


def openai(base_url: str, model: str = "test-model") -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=base_url, api_key="test")


def test_a_later_node_starts_on_the_rung_the_same_endpoint_took() -> None:
    planner = Asking()
    planner.endpoint, planner.rung = endpoint_of(openai(BASE_URL)), "json_mode"
    earlier = {"planner": planner.usage()}

    same, other_url, other_model = Asking(), Asking(), Asking()
    same.start_like(earlier, openai(BASE_URL))
    other_url.start_like(earlier, openai("http://other.test/v1"))
    other_model.start_like(earlier, openai(BASE_URL, "another-model"))

    assert (same.rung, other_url.rung, other_model.rung) == (
        "json_mode",
        "json_schema",
        "json_schema",
    )
    assert earlier["planner"]["structured_output"] == "json_mode"


async def test_a_model_without_tool_calling_is_asked_in_words_and_says_so() -> None:
    fake, _ = model(reply({"goal": "g", "steps": []}))
    how = Asking()

    await ask(fake, ASK, SCHEMA, how)

    assert how.rung == "text"
    assert how.usage().get("structured_output") == "text"
