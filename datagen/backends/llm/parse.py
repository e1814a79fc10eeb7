"""The one parser every model's reply goes through, and the reasons it rejects one.

Every backend (scripted, HTTP, vLLM) is asked for the same JSON and every
answer goes through `parse_response`, so an offline run exercises exactly the
parse-and-reject path a real LLM run takes. The text ends up in a TTS engine,
so the parser also normalises what it extracts for speech, and rejects what
is still not speakable, too long or too short under a stable name (`ERRORS`)
that the rejects log counts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from datagen.backends.llm.kinds import KINDS, PROSE_OK, asked_words

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


# The field that carries the text, per single-value kind.
_FIELD: dict[str, str] = {
    "qa_answer": "answer",
    "followup_answer": "answer",
    "related_question": "question",
    "distractor": "text",
    "long_user_turn": "text",
}

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
        lo = asked_words(context, "medium" if kind == "qa_answer" else "short")[0]
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
        hi = asked_words(context, "medium" if kind == "qa_answer" else "short")[1]
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
    if kind not in KINDS:
        raise ValueError(f"unknown request kind {kind!r}; choose one of {KINDS}")
    raw = (text or "").strip()
    if not raw:
        return None, "empty"
    obj = extract_json(raw)
    if obj is None:
        if kind in PROSE_OK and _looks_like_prose(raw):
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
