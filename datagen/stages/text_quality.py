"""How well the LLM followed its prompts: retry notes and the text-quality counters.

A real model, even with its JSON held by the server, writes things the
parser must refuse (too long, too short, symbols a TTS engine cannot say,
the wrong number of turns). The text stage re-asks such a request a few
times (`llm.attempts`) with a new seed and a one-line note saying what was
wrong, then rejects the dialogue with the reason. These counters, summed
into stats.json, are what `datagen report` turns into its text-quality
section, so any corpus's text can be judged the same way whichever backend
wrote it:

- `llm_attempts`: every response; `llm_json_requests`, `llm_json_ok`: those asked for
  JSON (answers are asked as plain text), and those holding a JSON object;
- `llm_retries`, `llm_fail_<reason>`: each failed attempt, by reason;
- `llm_answers`, `llm_answer_words`, `llm_answers_{in_range,short,long}`:
  spoken answers against the length they were asked for;
- `llm_raw_<violation>`: spoken-form slips in what the model wrote (before
  normalisation fixed or refused them), per answer-like text;
- `llm_related`, `llm_related_overlap`, `llm_related_any`: how much of a
  related question's content words come from the answer it interrupts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from typing import Any

from datagen.backends.llm.base import LLMRequest
from datagen.backends.llm.prompts import LENGTH_WORDS, extract_json
from datagen.text.overlap import overlap

# What went wrong, as the note a retried request carries (short: the prompt stays small).
_WHY = {
    "not_json": "it was not the JSON object asked for",
    "bad_schema": "its JSON did not have exactly the fields asked for",
    "too_long": "it was far longer than the number of words asked for",
    "too_short": "it was far shorter than the number of words asked for",
    "not_spoken": "it had digits, symbols or markup; write every word as it is spoken",
    "wrong_turn_count": "it did not have exactly the number of turns asked for",
    "bad_speaker_labels": "the turns must alternate A, B, A, B, starting with A",
    "empty": "it was empty",
    "cut_off": "it was cut off before it ended; be much shorter",
    "unrelated": "the question did not mention anything the assistant had just said",
}

SPOKEN_CHECKS: dict[str, re.Pattern[str]] = {
    "digits": re.compile(r"\d"),
    "markup": re.compile(r"[*#_`\[\]{}<>|~]"),
    "list": re.compile(r"(?m)^\s*(?:[-*\u2022]|\d{1,2}[.)])\s+"),
    "emoji": re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]"),
    "stage_direction": re.compile(r"\((?:[a-z]+\s?){1,3}\)|\*(?:[a-z]+\s?){1,3}\*|\[(?:[a-z]+\s?){1,3}\]"),
}


def reason_of(error: str) -> str:
    """A failed response's error as a stable reason name ('cut_off' for max_tokens)."""
    return "cut_off" if "max_tokens" in error else "failed"


def retry_request(req: LLMRequest, attempt: int, reason: str) -> LLMRequest:
    """The request again, with a new seed and a note on what the last reply got wrong."""
    if attempt == 0:
        return req
    why = _WHY.get(reason, "it could not be used")
    messages = list(req.messages)
    last = dict(messages[-1])
    last["content"] = f"{last['content']}\nYour previous reply was rejected: {why}."
    messages[-1] = last
    return replace(req, messages=tuple(messages), seed=req.seed + 7919 * attempt)


def spoken_slips(text: str) -> list[str]:
    """The spoken-form rules a raw model output breaks (before normalisation)."""
    return [name for name, pat in SPOKEN_CHECKS.items() if pat.search(text)]


def raw_field(kind: str, raw: str) -> list[str]:
    """The texts a raw response carries (the JSON field(s), or the prose itself)."""
    obj = extract_json(raw or "")
    if obj is None:
        return [raw] if raw else []
    if kind == "dialogue":
        turns = obj.get("turns") if isinstance(obj.get("turns"), list) else []
        return [t["text"] for t in turns if isinstance(t, dict) and isinstance(t.get("text"), str)]
    return [v for v in obj.values() if isinstance(v, str)]


def count_value(counters: Counter, req: LLMRequest, raw: str, value: Any) -> None:
    """Text-quality counters for one accepted value."""
    for text in raw_field(req.kind, raw):
        counters["llm_raw_texts"] += 1
        for slip in spoken_slips(text):
            counters[f"llm_raw_{slip}"] += 1
    if req.kind in ("qa_answer", "followup_answer"):
        default = "medium" if req.kind == "qa_answer" else "short"
        lo, hi = LENGTH_WORDS.get(str(req.context.get("length") or default), LENGTH_WORDS[default])
        n = len(str(value).split())
        counters["llm_answers"] += 1
        counters["llm_answer_words"] += n
        counters["llm_answer_words_asked"] += (lo + hi) / 2
        counters["llm_answers_" + ("short" if n < lo else "long" if n > hi else "in_range")] += 1
    elif req.kind == "related_question":
        share = overlap(str(value), str(req.context.get("answer_so_far", "")))
        counters["llm_related"] += 1
        counters["llm_related_overlap"] += share
        counters["llm_related_any"] += share > 0
