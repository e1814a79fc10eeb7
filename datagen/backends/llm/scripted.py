"""The offline stand-in for an LLM: template text, no model, no network.

This is NOT a language model. It exists so the whole pipeline (text stage,
TTS, timeline, labels, Shar) runs end to end on a laptop and in tests with
nothing downloaded. It answers every request kind with the same JSON a real
LLM is asked for, so its output goes through the shared parser in
`prompts.parse_response` exactly like a real model's would.

Its text is built from the request context: answers restate the gold answer
inside a sentence shaped by the question ("What is the capital of France?"
+ "Paris" -> "The capital of France is Paris."), padded to the asked length
with remarks about the topic and about what the question is about: the
answer or a noun phrase of the question ("the Great Wall", "the long wall"),
found by `subject.subjects`, never a lone word lifted from the question.
The templates are many and drawn with a per-request `random.Random(seed)`,
so output is varied across seeds but identical for the same seed (no global random state is touched).

This module holds one generator per request kind and the backend itself; the
phrase tables are in `scripted_phrases` and the sentence building blocks the
generators share in `scripted_sentences`.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

from datagen.backends.llm.base import LLMBackend, LLMRequest, LLMResponse
from datagen.backends.llm.scripted_phrases import (
    ASK_LEADS,
    CLOSERS,
    CONNECTIVES,
    DISTRACTOR_CALLS,
    DISTRACTOR_LINES,
    ELABORATIONS,
    FALLBACK_CORES,
    FIRST_LEAD_INS,
    FOLLOWUP_CORES,
    LEAD_INS,
    NO_GOLD_CORES,
    OPENERS,
    RELATED_TEMPLATES,
    REMARKS,
    SITUATIONS,
    STOPWORDS,
    VAGUE,
)
from datagen.backends.llm.scripted_sentences import (
    WORD,
    answer_text,
    ask,
    cap,
    content_words,
    core_sentence,
    fill_to_length,
    is_content,
    join_opener,
    spoken_core,
)
from datagen.backends.llm.subject import question_phrases, subjects
from datagen.text.normalize import to_spoken

# The backend, its generators, and (handed on from the modules that define them) every
# phrase table and `core_sentence`, which tests and older callers import from here.
__all__ = [
    "ASK_LEADS",
    "CLOSERS",
    "CONNECTIVES",
    "DISTRACTOR_CALLS",
    "DISTRACTOR_LINES",
    "ELABORATIONS",
    "FALLBACK_CORES",
    "FIRST_LEAD_INS",
    "FOLLOWUP_CORES",
    "GENERATORS",
    "LEAD_INS",
    "NO_GOLD_CORES",
    "OPENERS",
    "RELATED_TEMPLATES",
    "REMARKS",
    "SITUATIONS",
    "STOPWORDS",
    "VAGUE",
    "ScriptedLLM",
    "core_sentence",
]


def _qa(c: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    q, topic = str(c.get("question", "")), str(c.get("topic") or "")
    gold = str(c.get("answer") or "")
    subs = subjects(q, gold)
    core = spoken_core(q, gold, topic, subs, rng)
    return {"answer": answer_text(core, topic, subs, str(c.get("length") or "medium"), rng)}


def _dialogue(c: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    topic = str(c.get("topic") or "")
    rounds = int(c.get("rounds") or len(c.get("questions") or []) or 1)
    qs = list(c.get("questions") or [])
    turns: list[dict[str, str]] = []
    for i in range(rounds):
        if i < len(qs):
            q, gold = str(qs[i].get("question", "")), str(qs[i].get("answer") or "")
        else:
            q, gold = rng.choice(("What else is worth knowing about {t}?", "Is there more to {t}?")), ""
            q = q.format(t=topic or "that")
        lead = rng.choice(FIRST_LEAD_INS if i == 0 else LEAD_INS)
        turns.append({"speaker": "A", "text": ask(q, lead)})
        subs = subjects(q, gold)
        core = spoken_core(q, gold, topic, subs, rng)
        parts = [join_opener(rng.choice(OPENERS), core) if rng.random() < 0.5 else core]
        if rng.random() < 0.5:
            parts = fill_to_length(parts, len(" ".join(parts).split()) + 1, 40, topic or "this", subs, rng)
        turns.append({"speaker": "B", "text": " ".join(parts)})
    return {"turns": turns}


def _related(c: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Ask about a word or two-word phrase from the last stretch of what the
    assistant said: a name if there is one (a capital not at a sentence start),
    else a word of the question, else another noun-looking word; verbs and
    adverbs ("tends", "quickly") make odd questions and are skipped."""
    said = str(c.get("answer_so_far") or "")
    tokens: list[str] = []
    names: set[int] = set()
    for m in list(WORD.finditer(said))[-20:]:
        before = said[: m.start()].rstrip()
        pronoun = m.group(0) == "I" or m.group(0).startswith("I'")  # capitalised, but no name
        if m.group(0)[:1].isupper() and not pronoun and before and before[-1] not in ".!?:":
            names.add(len(tokens))
        tokens.append(m.group(0).removesuffix("'s"))
    verbish = re.compile(r"(ing|ed|ly|s)$")

    def askable(i: int) -> bool:
        t = tokens[i].lower()
        return i in names or (is_content(t) and t not in VAGUE and not verbish.search(t))

    runs: list[list[int]] = []  # runs of adjacent askable words, e.g. "World Fair"
    for i in range(len(tokens)):
        if askable(i):
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
    context = {w.lower() for w in WORD.findall(f"{c.get('question', '')} {c.get('topic', '')}")}

    def score(run: list[int]) -> int:
        return 2 if names.intersection(run) else 1 if any(tokens[i].lower() in context for i in run) else 0

    best = max((score(r) for r in runs), default=0)
    runs = [r for r in runs if score(r) == best]
    if runs:
        run = rng.choice(runs)
        start = rng.randrange(len(run))
        x = " ".join(
            tokens[i] if i in names else tokens[i].lower() for i in run[start : start + rng.choice((1, 2))]
        )
    else:
        x = str(c.get("topic") or "that")
    return {"question": rng.choice(RELATED_TEMPLATES).format(x=x)}


# The phrase a related question asks about, recovered from any of its templates.
_RELATED_X = tuple(
    re.compile("^" + re.escape(t).replace(re.escape("{x}"), "(?P<x>.+?)") + "$", re.IGNORECASE)
    for t in RELATED_TEMPLATES
)


def _asked_about(question: str) -> str:
    """What a follow-up question asks about: the {x} of a related-question template
    ("Wait, what do you mean by the World's Fair?"), else the question's first noun
    phrase, else ""."""
    q = question.strip()
    for pattern in _RELATED_X:
        if m := pattern.match(q):
            return m.group("x").strip()
    phrases = question_phrases(q)
    return phrases[0] if phrases else ""


def _followup(c: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    q, topic = str(c.get("question", "")), str(c.get("topic") or "")
    x = _asked_about(q)
    prev = subjects(str(c.get("previous_question") or ""))
    subs = [x, *prev] if x else prev
    x = x or "that"
    core = rng.choice(FOLLOWUP_CORES).format(x=x, X=cap(x), t=topic or "the subject")
    return {"answer": answer_text(core, topic, subs, str(c.get("length") or "short"), rng, opener=False)}


def _distractor(c: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    # A fixed list would leak into evaluation, so it is split like the phrase banks:
    # every third line is held out for eval recipes (context "split").
    held_out = str(c.get("split") or "train") == "eval"
    pool = [s for i, s in enumerate(DISTRACTOR_LINES) if (i % 3 == 2) == held_out]
    topic_words = {w.lower() for w in content_words(str(c.get("topic") or ""))}
    lines = [s for s in pool if not topic_words & {w.lower() for w in WORD.findall(s)}]
    call, line = rng.choice(DISTRACTOR_CALLS), rng.choice(lines or pool)
    return {"text": f"{call} {line}" if call else cap(line)}


def _long_turn(c: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A user's long turn read from the question: a situation sentence, one or two
    remarks, then the question, so it splits into stretches at sentence ends."""
    q, topic = str(c.get("question", "")), str(c.get("topic") or "")
    phrases = question_phrases(q)  # the question's noun phrases, never the answer
    fill = {"t": topic or "trivia", "k": rng.choice(phrases) if phrases else ""}
    pool = [r for r in REMARKS if phrases or "{k}" not in r]
    remarks = rng.sample(pool, rng.randint(1, 2))
    parts = [rng.choice(SITUATIONS).format(**fill), *(r.format(**fill) for r in remarks)]
    parts.append(ask(q, rng.choice(ASK_LEADS)))
    return {"text": to_spoken(" ".join(parts))}


GENERATORS: dict[str, Callable[[dict[str, Any], random.Random], dict[str, Any]]] = {
    "qa_answer": _qa,
    "dialogue": _dialogue,
    "related_question": _related,
    "followup_answer": _followup,
    "distractor": _distractor,
    "long_user_turn": _long_turn,
}


def _count_words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, dict):
        return sum(_count_words(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_words(v) for v in value)
    return 0


class ScriptedLLM(LLMBackend):
    """Offline template "LLM" (not a model): deterministic per request seed, shares the JSON parse path."""

    name = "scripted"

    def generate(self, requests: list[LLMRequest]) -> list[LLMResponse]:
        return [self._one(r) for r in requests]

    def _one(self, req: LLMRequest) -> LLMResponse:
        gen = GENERATORS.get(req.kind)
        if gen is None:
            return LLMResponse(id=req.id, text="", ok=False, error=f"unknown_kind: {req.kind}")
        try:
            payload = gen(req.context, random.Random(req.seed))
        except (KeyError, TypeError, ValueError) as e:  # a malformed context fails this request only
            return LLMResponse(id=req.id, text="", ok=False, error=f"bad_context: {type(e).__name__}: {e}")
        prompt_words = sum(len(m.get("content", "").split()) for m in req.messages)
        return LLMResponse(
            id=req.id,
            text=json.dumps(payload, ensure_ascii=False),
            prompt_tokens=prompt_words,
            completion_tokens=_count_words(payload),
        )
