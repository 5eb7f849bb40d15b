"""Helpers for LLM tests: fake chat models that record what they were asked, and
OpenAI-compatible chat completion responses for respx."""

from __future__ import annotations

import json
from typing import Any

import httpx
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage

BASE_URL = "http://llm.test/v1"

#: The sample task the LLM tests share: a greeting module, a plan that reads it and
#: commits, and the consolidator's writes for it.
LIB = "def greet(name: str) -> str:\n    return 'hello ' + name\n"
PLAN = {
    "goal": "Greet with hi",
    "steps": [
        {"id": "read-lib", "skill": "read_file", "args": {"path": "lib.py"}},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Greet with hi"}},
    ],
}
WRITES = {
    "steps": [
        {
            "id": "edit",
            "skill": "edit_block",
            "args": {"path": "lib.py", "search": "'hello '", "replace": "'hi '"},
        }
    ]
}


class Recorder(BaseCallbackHandler):
    """Keeps the messages of every chat model call."""

    def __init__(self) -> None:
        self.calls: list[list[BaseMessage]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.calls.append(messages[0])

    def text(self, call: int) -> str:
        return "\n".join(str(m.content) for m in self.calls[call])


def reply(
    data: dict[str, Any] | str, input_tokens: int = 100, output_tokens: int = 10
) -> AIMessage:
    content = data if isinstance(data, str) else json.dumps(data)
    return AIMessage(
        content=content,
        usage_metadata={
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        },
    )


def fake_model(*replies: AIMessage | dict[str, Any]) -> tuple[GenericFakeChatModel, Recorder]:
    """A fake chat model (no tool calling: it answers JSON in words) giving ``replies`` in turn."""
    recorder = Recorder()
    messages = [r if isinstance(r, AIMessage) else reply(r) for r in replies]
    return GenericFakeChatModel(messages=iter(messages), callbacks=[recorder]), recorder


def completion(
    data: dict[str, Any] | str, prompt_tokens: int = 100, completion_tokens: int = 10
) -> httpx.Response:
    """An OpenAI chat completion whose message content is ``data`` (as JSON)."""
    content = data if isinstance(data, str) else json.dumps(data)
    message = {"role": "assistant", "content": content}
    return chat_completion(message, "stop", prompt_tokens, completion_tokens)


def chat_completion(
    message: dict[str, Any], finish_reason: str, prompt_tokens: int, completion_tokens: int
) -> httpx.Response:
    """An OpenAI chat completion answering with ``message``, with its token usage."""
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "test-model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


def api_error(status: int, message: str = "error") -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": message, "type": "test_error", "code": str(status)}}
    )


def sent_messages(request: httpx.Request) -> list[dict[str, Any]]:
    """The chat messages an intercepted request carried."""
    return list(json.loads(request.content)["messages"])


def tool_completion(
    name: str, data: dict[str, Any], prompt_tokens: int = 100, completion_tokens: int = 10
) -> httpx.Response:
    """An OpenAI chat completion that answers with one call of tool ``name``, ``data`` its
    arguments."""
    call = {
        "id": "call_test",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(data)},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return chat_completion(message, "tool_calls", prompt_tokens, completion_tokens)


#: What a server says, in a 400, when it does not take a way of asking for structured output
#: (worded as local OpenAI-compatible servers word it).
REFUSALS = {
    "json_schema": "Invalid parameter: response_format of type 'json_schema' is not supported",
    "tool_calling": "tools are not supported by this server (start it with --jinja)",
    "json_mode": "'response_format' of type 'json_object' is not supported with this model",
}


def way_asked(body: dict[str, Any]) -> str:
    """How a chat completion request asked for structured output: the rung's name."""
    kind = (body.get("response_format") or {}).get("type")
    if kind == "json_schema":
        return "json_schema"
    if kind == "json_object":
        return "json_mode"
    return "tool_calling" if body.get("tools") else "text"


class PickyServer:
    """An OpenAI-compatible endpoint (a respx side effect) that takes only the ways of asking
    for structured output in ``accepts``, answering the rest with a 400 that names the
    parameter; ``answers`` are given in turn, each the way it was asked for (a tool call, a
    JSON body, or prose around a fenced ```json block)."""

    def __init__(self, accepts: set[str], *answers: dict[str, Any]) -> None:
        self.accepts = accepts
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        way = way_asked(body)
        self.asked.append(way)
        if way not in self.accepts:
            return api_error(400, REFUSALS[way])
        data = self.answers.pop(0)
        if way == "tool_calling":
            return tool_completion(body["tools"][0]["function"]["name"], data)
        if way == "text":
            return completion(f"Here is the answer:\n\n```json\n{json.dumps(data)}\n```\n")
        return completion(data)
