"""The interface every text-generation backend implements.

A request carries both the chat `messages` a real LLM needs and the
structured `context` the offline scripted backend works from, so one text
stage drives either without knowing which it has.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from datagen.backends.base import Backend, BackendOptions

__all__ = ["BackendOptions", "LLMBackend", "LLMRequest", "LLMResponse", "LLMUnavailable"]


class LLMUnavailable(RuntimeError):
    """Every request of a batch failed: the LLM itself is down or misconfigured.

    One failed request is that dialogue's reject; a whole batch failing is not
    a property of the dialogues (a stopped server, a wrong model name, an
    engine that cannot start), and writing every dialogue of the run as a
    reject would leave an empty corpus that a rerun would not redo. So the
    text stage stops the run with this instead, before the shard is committed."""


@dataclass(frozen=True)
class LLMRequest:
    id: str  # unique within a call; responses come back with the same id
    kind: str  # qa_answer | dialogue | related_question | followup_answer | distractor
    messages: tuple[dict[str, str], ...]
    context: dict[str, Any] = field(default_factory=dict)
    json_schema: dict[str, Any] | None = None  # ask for structured output when set
    seed: int = 0
    max_tokens: int = 400


@dataclass(frozen=True)
class LLMResponse:
    id: str
    text: str
    ok: bool = True
    error: str = ""  # why it failed, when ok is False; `text` then keeps the raw output
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLMBackend(Backend, ABC):
    """Generates text for a batch of requests (models load on first `generate`)."""

    @abstractmethod
    def generate(self, requests: list[LLMRequest]) -> list[LLMResponse]:
        """Return one response per request, in the same order.

        A request that fails yields a response with ok=False and a reason;
        it must not raise for one bad request.
        """
