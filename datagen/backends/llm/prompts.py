"""Prompts, output schemas and the one parser for every text-generation kind.

Every backend (scripted, HTTP, vLLM) is asked for the same JSON and every
answer goes through `parse_response`, so an offline run exercises exactly the
parse-and-reject path a real LLM run takes. The prompts follow what the
SALMONN-omni authors asked Llama-3 for (REFERENCE §1): conversational,
concise, spoken form, no markup. The text ends up in a TTS engine, so the
parser also normalises what it extracts for speech.
"""

from __future__ import annotations

import json
import re
from typing import Any

from datagen.backends.llm.base import LLMRequest

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

# Hard caps (words) above which an output is rejected as "too_long": looser
# than the asked-for range, because models overshoot a little and a slightly
# long answer is still good data, but a rambling one wrecks the timeline.
_SLACK = 1.5
_MAX_SHORT_UTTERANCE = 40  # related questions, distractors
_MAX_DIALOGUE_TURN = 120
_MAX_LONG_TURN = 90  # a long user turn: 2-4 sentences of context and the question

# Below these an output is "too_short": an answer under half its asked-for minimum leaves
# no room for a barge-in or backchannel to land inside it (a small model's favourite reply
# is the bare gold answer), and a long user turn needs 2+ sentences to hold the assistant's cues.
_SHORT_FRACTION = 1 / 3
_MIN_LONG_TURN_SENTENCES = 3  # context sentences and the question: cues go between them

ERRORS: tuple[str, ...] = (
    "empty",
    "not_json",
    "bad_schema",
    "bad_speaker_labels",
    "wrong_turn_count",
    "too_long",
    "too_short",
    "not_spoken",
    "unrelated",
)


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

# The field that carries the text, per single-value kind.
_FIELD: dict[str, str] = {
    "qa_answer": "answer",
    "followup_answer": "answer",
    "related_question": "question",
    "distractor": "text",
    "long_user_turn": "text",
}
# Kinds where a model that ignored the JSON request still gave usable prose.
_PROSE_OK = frozenset({"qa_answer", "followup_answer"})
# Kinds asked for as plain text, no JSON and no schema: their whole value is one spoken
# string, so JSON adds nothing, and held to a JSON grammar a small model answers with the
# bare gold answer ("The Nile" when asked for 70 to 130 words; docs/llm_text.md measures it).
# The parser still takes JSON for them, which is what the scripted stand-in returns.
PLAIN_TEXT_KINDS = _PROSE_OK

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

SYSTEM_PROMPT = (
    "You write words that a voice assistant and the people around it will say out loud; "
    "a text-to-speech engine reads them. Sound like natural conversation: friendly, concise, "
    "plain sentences, never more than three hundred tokens. Write everything in spoken form: "
    "spell out numbers, dates, units and symbols as words (nineteen sixty-nine, twenty percent). "
    "No lists, headings, emojis, stage directions or markup such as *x*, [x] or (x). "
    "When asked for JSON, reply with only that JSON object."
)


def _length(context: dict[str, Any], default: str) -> tuple[int, int]:
    return LENGTH_WORDS.get(str(context.get("length") or default), LENGTH_WORDS[default])


_SAY_ONLY = "Reply with only the words the assistant says out loud, nothing else."


def _sentences(lo: int, hi: int) -> str:
    """A word range as a sentence count too: small models keep to sentences far better than to words."""
    return f"{max(1, round(lo / 14))} to {max(2, round(hi / 14))} full sentences"


def _qa_prompt(c: dict[str, Any]) -> str:
    lo, hi = _length(c, "medium")
    gold = str(c.get("answer") or "").strip()
    lines = [f"Topic: {c.get('topic') or 'general knowledge'}", f"Question: {c['question']}"]
    if gold:
        lines.append(f"Correct answer: {gold}. Build your reply around it and do not contradict it.")
    lines.append(
        f"Answer the question conversationally in {lo} to {hi} words, that is {_sentences(lo, hi)}: "
        "first the answer in a sentence of its own, then why it is so or an interesting detail, "
        "in your own words. Never reply with the bare answer alone."
    )
    if lo >= LENGTH_WORDS["long"][0]:
        lines.append("Keep talking with a little background until the reply fills the length.")
    lines.append(_SAY_ONLY)
    return "\n".join(lines)


def _dialogue_prompt(c: dict[str, Any]) -> str:
    rounds = int(c["rounds"])
    qs = list(c.get("questions") or [])
    lines = [
        f"Write a spoken conversation about {c.get('topic') or 'everyday knowledge'} between A, a user, "
        f"and B, a voice assistant. Exactly {rounds} rounds: A speaks, then B replies, so {2 * rounds} turns "
        "alternating A, B, A, B and starting with A. Every turn is real words, never a placeholder.",
        "A asks these questions in this order; after the first, A may rephrase a question so it refers "
        "back to what was already said:",
    ]
    for i, q in enumerate(qs[:rounds], 1):
        gold = str(q.get("answer") or "").strip()
        lines.append(f"{i}. {q['question']}" + (f" (correct answer: {gold})" if gold else ""))
    if len(qs) < rounds:
        lines.append("For the remaining rounds A asks natural follow-up questions on the same topic.")
    lines.append("Keep turns short: A says one sentence, B answers in one to three sentences.")
    lines.append(
        'Return JSON with one key, "turns": a list of objects, each with "speaker" ("A" or "B") '
        'and "text" (what that person says).'
    )
    return "\n".join(lines)


def _related_prompt(c: dict[str, Any]) -> str:
    return (
        f"A user and a voice assistant are talking about {c.get('topic') or 'general knowledge'}.\n"
        f'The user asked: "{c["question"]}"\n'
        f'The assistant had said this much when the user cut in: "{c.get("answer_so_far", "")}"\n'
        "Write the one short spoken question, under fifteen words, that the user interrupts with. "
        "It must be strongly related to what the assistant just said: take a word, name or claim from "
        "the assistant's words above and ask about it, using that word. Do not repeat the user's "
        "first question.\n"
        'Return JSON with one key, "question", whose value is that question.'
    )


def _followup_prompt(c: dict[str, Any]) -> str:
    lo, hi = _length(c, "short")
    return (
        f"A user and a voice assistant are talking about {c.get('topic') or 'general knowledge'}.\n"
        f'Earlier the user asked: "{c.get("previous_question", "")}"\n'
        f'The assistant began answering: "{c.get("previous_answer", "")}"\n'
        f'The user cut in and asked: "{c["question"]}"\n'
        f"As the assistant, answer the new question conversationally in {lo} to {hi} words, "
        f"that is {_sentences(lo, hi)}.\n" + _SAY_ONLY
    )


def _distractor_prompt(c: dict[str, Any]) -> str:
    topic = c.get("topic") or "a quiz question"
    return (
        f"A voice assistant is talking to a user about {topic}. Someone else in the room says one short "
        "remark or question, under fifteen words, to another person, not to the assistant. It has nothing "
        f"to do with {topic}: anything from everyday life, such as food, chores, pets, weather, "
        "plans, work, the TV or something lost.\n"
        'Return JSON with one key, "text", whose value is the remark.'
    )


def _long_turn_prompt(c: dict[str, Any]) -> str:
    gold = str(c.get("answer") or "").strip()
    lines = [
        f"Topic: {c.get('topic') or 'general knowledge'}",
        f"Question: {c['question']}",
        "Write what a user says out loud to a voice assistant in one long turn: first two to four "
        "short spoken sentences of context, such as what happened to them or why they are wondering, "
        "then the question itself, last, in their own words. Each sentence under twenty words, each "
        "ending with a full stop or a question mark. Only the user speaks; do not answer the question.",
    ]
    if gold:
        lines.append(f"Do not give away the answer ({gold}).")
    lines.append('Return JSON with one key, "text", whose value is everything the user says.')
    return "\n".join(lines)


_PROMPTS = {
    "qa_answer": _qa_prompt,
    "dialogue": _dialogue_prompt,
    "related_question": _related_prompt,
    "followup_answer": _followup_prompt,
    "distractor": _distractor_prompt,
    "long_user_turn": _long_turn_prompt,
}


def build_messages(kind: str, context: dict[str, Any]) -> tuple[dict[str, str], ...]:
    """The chat messages (system + user) that ask a real LLM for `kind`."""
    if kind not in _PROMPTS:
        raise ValueError(f"unknown request kind {kind!r}; choose one of {KINDS}")
    return (
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": _PROMPTS[kind](context)},
    )


def request_schema(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    """The kind's schema, with a dialogue's turn count pinned when its rounds are known:
    a server that holds schemas then cannot return the wrong number of turns."""
    schema = SCHEMAS[kind]
    if kind == "dialogue" and context.get("rounds"):
        n = 2 * int(context["rounds"])
        turns = {**schema["properties"]["turns"], "minItems": n, "maxItems": n}
        schema = {**schema, "properties": {"turns": turns}}
    return schema


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


# ---------------------------------------------------------------- parsing

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def extract_json(text: str) -> Any:
    """The first JSON object in `text`, tolerating fences and prose around it.

    Models often wrap JSON in ```json fences or say "Sure! Here it is:" first;
    that is noise, not a failure. Returns None when no object decodes.
    """
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    dec = json.JSONDecoder()
    for cand in candidates:
        for m in re.finditer(r"\{", cand):
            try:
                obj, _ = dec.raw_decode(cand, m.start())
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


def _looks_like_prose(text: str) -> bool:
    """Plain sentences, not broken JSON or byte soup (a random-weight model's output)."""
    if "{" in text or "}" in text:
        return False
    visible = [ch for ch in text if not ch.isspace()]
    letters = sum(ch.isalpha() for ch in visible)
    return bool(visible) and letters / len(visible) >= 0.7 and len(text.split()) >= 2


_LABEL = re.compile(r"^\s*(?:answer|question|text|assistant|b)\s*:\s*", re.I)


# What may be left once `_clean` has normalised a text: letters, spaces and the punctuation a
# TTS engine reads as prosody. Anything else (a digit it could not spell, &, @, /, =) is not spoken form.
_UNSPOKEN = re.compile(r"[^\w\s.,?!'\"\-;:\u2019\u2018\u201c\u201d\u2014\u2013\u2026]|[\d_]")


def _problem(kind: str, value: str, context: dict[str, Any]) -> str:
    """Why a cleaned value cannot be used ("" when it can)."""
    if not any(ch.isalpha() for ch in value):
        return "empty"  # "...", "-": a placeholder copied from the prompt's example
    if _UNSPOKEN.search(value):
        return "not_spoken"
    n = len(value.split())
    if n > _max_words(kind, context):
        return "too_long"
    if kind in ("qa_answer", "followup_answer") and context.get("length"):  # only a length asked for
        lo = _length(context, "medium" if kind == "qa_answer" else "short")[0]
        if n < lo * _SHORT_FRACTION:  # e.g. under 12 words when 35 to 70 were asked for
            return "too_short"
    if kind == "long_user_turn" and len(re.findall(r"[.!?](?:\s|$)", value)) < _MIN_LONG_TURN_SENTENCES:
        return "too_short"
    if kind == "related_question" and context.get("answer_so_far"):
        from datagen.text.overlap import overlap

        if overlap(value, str(context["answer_so_far"])) == 0:
            return "unrelated"
    return ""


def _clean(text: str) -> str:
    from datagen.text.normalize import normalize_for_tts  # sibling module; imported late to avoid a cycle

    text = text.strip().strip('"').strip()
    return normalize_for_tts(_LABEL.sub("", text)).strip()


def _max_words(kind: str, context: dict[str, Any]) -> int:
    if kind in ("qa_answer", "followup_answer"):
        hi = _length(context, "medium" if kind == "qa_answer" else "short")[1]
        return int(hi * _SLACK)
    if kind == "long_user_turn":
        return _MAX_LONG_TURN
    return _MAX_SHORT_UTTERANCE


_SPEAKER_ROLE = {"A": "user", "B": "assistant"}


def _parse_dialogue(obj: dict[str, Any], context: dict[str, Any]) -> tuple[Any, str]:
    turns = obj.get("turns")
    if not isinstance(turns, list) or not turns:
        return None, "bad_schema"
    merged: list[list[str]] = []
    for t in turns:
        if (
            not isinstance(t, dict)
            or not isinstance(t.get("speaker"), str)
            or not isinstance(t.get("text"), str)
        ):
            return None, "bad_schema"
        spk = t["speaker"].strip().rstrip(":").strip().upper()
        if spk not in _SPEAKER_ROLE:
            return None, "bad_speaker_labels"
        text = _clean(t["text"])
        if not any(ch.isalpha() for ch in text):
            return None, "empty"
        if _UNSPOKEN.search(text):
            return None, "not_spoken"
        # One speaker split over two entries is still one turn once spoken.
        if merged and merged[-1][0] == spk:
            merged[-1][1] += " " + text
        else:
            merged.append([spk, text])
    if merged[0][0] != "A":
        return None, "bad_speaker_labels"
    rounds = context.get("rounds")
    if rounds is not None and len(merged) != 2 * int(rounds):
        return None, "wrong_turn_count"
    if len(merged) % 2:
        return None, "wrong_turn_count"
    if any(len(text.split()) > _MAX_DIALOGUE_TURN for _, text in merged):
        return None, "too_long"
    return [(_SPEAKER_ROLE[spk], text) for spk, text in merged], ""


def parse_response(kind: str, text: str | None, context: dict[str, Any]) -> tuple[Any, str]:
    """Turn a backend's raw text into the value the text stage needs.

    Returns (value, "") on success, where value is a spoken-form string, or
    for `dialogue` a list of (role, text) with role "user"/"assistant";
    otherwise (None, reason) with reason one of ERRORS, so every failure is
    counted under a stable name in the rejects log.
    """
    if kind not in _PROMPTS:
        raise ValueError(f"unknown request kind {kind!r}; choose one of {KINDS}")
    raw = (text or "").strip()
    if not raw:
        return None, "empty"
    obj = extract_json(raw)
    if obj is None:
        if kind in _PROSE_OK and _looks_like_prose(raw):
            value = _clean(raw)
        else:
            return None, "not_json"
    elif kind == "dialogue":
        return _parse_dialogue(obj, context)
    else:
        field = obj.get(_FIELD[kind])
        if not isinstance(field, str):
            return None, "bad_schema"
        value = _clean(field)
    if not value:
        return None, "empty"
    problem = _problem(kind, value, context)
    return (None, problem) if problem else (value, "")
