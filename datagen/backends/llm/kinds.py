"""The text-generation kinds and what a request for each one asks for.

Prompts, parser and every backend (the scripted stand-in included) agree on
these tables: the kinds, the answer lengths in words, the JSON schema a
server may hold a model to, which kinds are asked for as plain text, and the
token budget. They live apart from the prompt wording and from the parser so
that both read one copy and neither imports the other.
"""

from __future__ import annotations

from typing import Any

KINDS: tuple[str, ...] = (
    "qa_answer",
    "dialogue",
    "related_question",
    "followup_answer",
    "distractor",
    "long_user_turn",
)

# Target answer lengths in words. Long answers exist so there is time for a
# barge-in or backchannel to land in the middle of them.
LENGTH_WORDS: dict[str, tuple[int, int]] = {"short": (15, 35), "medium": (35, 70), "long": (70, 130)}


def asked_words(context: dict[str, Any], default: str) -> tuple[int, int]:
    """The word range the context's `length` asks for (`default` when it names none or an unknown one)."""
    return LENGTH_WORDS.get(str(context.get("length") or default), LENGTH_WORDS[default])


def _obj(field: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {field: {"type": "string"}},
        "required": [field],
        "additionalProperties": False,
    }


# Strict-mode compatible (every property required, no extra keys) so servers
# that enforce `"strict": true` accept them as they are.
SCHEMAS: dict[str, dict[str, Any]] = {
    "qa_answer": _obj("answer"),
    "followup_answer": _obj("answer"),
    "related_question": _obj("question"),
    "distractor": _obj("text"),
    "long_user_turn": _obj("text"),
    "dialogue": {
        "type": "object",
        "properties": {
            "turns": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "speaker": {"type": "string", "enum": ["A", "B"]},
                        "text": {"type": "string"},
                    },
                    "required": ["speaker", "text"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["turns"],
        "additionalProperties": False,
    },
}

# Kinds where a model that ignored the JSON request still gave usable prose.
PROSE_OK = frozenset({"qa_answer", "followup_answer"})
# Kinds asked for as plain text, no JSON and no schema: their whole value is one spoken
# string, so JSON adds nothing, and held to a JSON grammar a small model answers with the
# bare gold answer ("The Nile" when asked for 70 to 130 words; docs/llm_text.md measures it).
# The parser still takes JSON for them, which is what the scripted stand-in returns.
PLAIN_TEXT_KINDS = PROSE_OK

# Generous defaults: a long answer is ~130 words ≈ 180 tokens plus JSON
# quoting; a five-round dialogue needs more room.
DEFAULT_MAX_TOKENS: dict[str, int] = {
    "qa_answer": 400,
    "followup_answer": 300,
    "related_question": 80,
    "distractor": 80,
    "dialogue": 900,
    "long_user_turn": 250,
}


def request_schema(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    """The kind's schema, with a dialogue's turn count pinned when its rounds are known:
    a server that holds schemas then cannot return the wrong number of turns."""
    schema = SCHEMAS[kind]
    if kind == "dialogue" and context.get("rounds"):
        n = 2 * int(context["rounds"])
        turns = {**schema["properties"]["turns"], "minItems": n, "maxItems": n}
        schema = {**schema, "properties": {"turns": turns}}
    return schema
