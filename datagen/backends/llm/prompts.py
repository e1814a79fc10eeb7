"""One request per text-generation kind, and the one place callers import prompting from.

Every backend (scripted, HTTP, vLLM) is asked for the same JSON and every
answer goes through `parse_response`, so an offline run exercises exactly the
parse-and-reject path a real LLM run takes. The parts live in their own
modules, and this one hands their names on so stages and tests keep one
import path:

* `kinds`: the kinds, their lengths, schemas and token budgets;
* `messages`: the system prompt and each kind's user prompt;
* `parse`: the parser and its reject reasons.
"""

from __future__ import annotations

from typing import Any

from datagen.backends.llm.base import LLMRequest
from datagen.backends.llm.kinds import (
    DEFAULT_MAX_TOKENS,
    KINDS,
    LENGTH_WORDS,
    PLAIN_TEXT_KINDS,
    SCHEMAS,
    request_schema,
)
from datagen.backends.llm.messages import SYSTEM_PROMPT, build_messages
from datagen.backends.llm.parse import ERRORS, extract_json, parse_response

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ERRORS",
    "KINDS",
    "LENGTH_WORDS",
    "PLAIN_TEXT_KINDS",
    "SCHEMAS",
    "SYSTEM_PROMPT",
    "build_messages",
    "extract_json",
    "make_request",
    "parse_response",
    "request_schema",
]


def make_request(
    id: str, kind: str, context: dict[str, Any], seed: int, max_tokens: int | None = None
) -> LLMRequest:
    """One request carrying both the chat messages and the raw context, so any backend can serve it."""
    return LLMRequest(
        id=id,
        kind=kind,
        messages=build_messages(kind, context),
        context=dict(context),
        json_schema=None if kind in PLAIN_TEXT_KINDS else request_schema(kind, context),
        seed=seed,
        max_tokens=max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS[kind],
    )
