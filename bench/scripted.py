"""A scripted chat model with a simulated latency per call and estimated token usage.

Both sides of the ReAct comparison use it: the same latency per call, the same
token estimate (characters / 4 of what goes in and what comes out).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import ConfigDict

Responder = Callable[[list[BaseMessage]], AIMessage]


def tokens(text: str) -> int:
    return max(1, len(text) // 4)


def message_text(message: BaseMessage) -> str:
    calls = getattr(message, "tool_calls", None) or []
    return str(message.content) + (json.dumps(calls) if calls else "")


class ScriptedChatModel(BaseChatModel):
    """Answers with ``responder(messages)`` after ``latency`` seconds; counts its calls."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responder: Responder
    latency: float = 0.3
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        self.calls += 1
        answer = self.responder(messages)
        used_in = sum(tokens(message_text(m)) for m in messages)
        used_out = tokens(message_text(answer))
        self.input_tokens += used_in
        self.output_tokens += used_out
        answer.usage_metadata = {
            "input_tokens": used_in,
            "output_tokens": used_out,
            "total_tokens": used_in + used_out,
        }
        return ChatResult(generations=[ChatGeneration(message=answer)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("the bench drives the model asynchronously")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        await asyncio.sleep(self.latency)
        return self._reply(messages)


class ToolCallingScriptedModel(ScriptedChatModel):
    """The same, able to take tools (an agent binds them; the script decides the calls)."""

    def bind_tools(
        self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self
