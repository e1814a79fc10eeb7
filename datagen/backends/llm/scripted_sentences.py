"""How the scripted stand-in words a sentence: the answer's core, padding, lead-ins.

The generators of `scripted` (one per request kind) share these: the gold
answer restated in a sentence shaped by the question (`core_sentence`), an
opener joined without a wrong capital, remarks added until an answer reaches
its asked length, and a question prefixed with a lead-in. Every choice is
drawn from the caller's `random.Random`, so the same seed gives the same text.
"""

from __future__ import annotations

import random
import re

from datagen.backends.llm.kinds import LENGTH_WORDS
from datagen.backends.llm.scripted_phrases import (
    CLOSERS,
    CONNECTIVES,
    ELABORATIONS,
    FALLBACK_CORES,
    LOWER_OK,
    NO_GOLD_CORES,
    OPENERS,
    STOPWORDS,
)
from datagen.text.normalize import to_spoken

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_PARTICIPLE = re.compile(r"(ed|en|wn|lt|ght|ung|ade|orn|one|ept)$")


def cap(s: str) -> str:
    """Capitalise the first letter only: `str.capitalize` would lowercase the names after it."""
    return s[:1].upper() + s[1:] if s else s


def is_content(word: str) -> bool:
    """A word worth asking or talking about: long enough, and not a stopword."""
    return len(word) >= 4 and word.lower() not in STOPWORDS


def content_words(text: str) -> list[str]:
    """The content words of `text`, possessive 's dropped ("Eiffel's" -> "Eiffel")."""
    return [w for w in (t.removesuffix("'s") for t in WORD.findall(text)) if is_content(w)]


def join_opener(opener: str, sentence: str) -> str:
    """ "Well," + "The capital..." -> "Well, the capital..."; proper nouns keep their capital."""
    first = sentence.split(" ", 1)[0]
    if opener and not opener.endswith((".", "!", "?")) and first.lower() in LOWER_OK:
        sentence = sentence[:1].lower() + sentence[1:]
    return f"{opener} {sentence}"


def _split_participle(rest: str) -> tuple[str, str]:
    """("the eiffel tower built") -> ("the eiffel tower", "built"): enough for when/where questions."""
    words = rest.split()
    if len(words) >= 2 and _PARTICIPLE.search(words[-1].lower()):
        return " ".join(words[:-1]), words[-1]
    return rest, ""


def core_sentence(question: str, answer: str, rng: random.Random) -> str:
    """Restate the gold answer as a sentence shaped by the question's wh-word."""
    q = question.strip().rstrip("?.! ").strip()
    ql = q.lower()
    a = answer.strip().rstrip(".")
    if m := re.match(r"(what|who) (is|are|was|were) (.+)$", ql):
        return f"{cap(q[m.start(3) :])} {m.group(2)} {a}."
    if m := re.match(r"who (\w+) (.+)$", ql):
        return f"{a} {m.group(1)} {q[m.start(2) :]}."
    if m := re.match(r"which (\w+) (is|are|was|were|did|does|do|has|have) (.+)$", ql):
        return f"The {m.group(1)} you're after is {a}."
    if m := re.match(r"how (many|much) (.+?) (are|were|is|was) there(.*)$", ql):
        return f"There {m.group(3)} {a} {m.group(2)}{q[m.start(4) :]}."
    if m := re.match(r"how (many|much) (\w+)", ql):
        return f"The number of {m.group(2)} is {a}." if m.group(1) == "many" else f"It comes to {a}."
    if m := re.match(r"(when|where) (is|are|was|were) (.+)$", ql):
        subj, part = _split_participle(q[m.start(3) :])
        prep = "in" if m.group(1) == "where" or a[:1].isdigit() else "on"
        verb = f"{m.group(2)} {part}".strip()
        return f"{cap(subj)} {verb} {prep} {a}."
    if m := re.match(r"(when|where) (did|does|do) (.+)$", ql):
        kind = "That happened" if m.group(1) == "when" else "That was"
        prep = "in" if m.group(1) == "where" or a[:1].isdigit() else "on"
        return f"{kind} {prep} {a}."
    return rng.choice(FALLBACK_CORES).format(a=a)


def spoken_core(question: str, gold: str, topic: str, subs: list[str], rng: random.Random) -> str:
    """The answer's first sentence, in spoken form as the prompt asks a real LLM to write it
    (and so that word counts aimed at a length survive normalisation)."""
    if gold:
        return to_spoken(core_sentence(question, gold, rng))
    return rng.choice(NO_GOLD_CORES).format(k=_about(subs, rng), t=topic or "it")


def _about(subs: list[str], rng: random.Random) -> str:
    """One thing to talk about: a phrase of `subjects` (never a lone word lifted from
    the question), or "this" when the question offers none (a bare number question)."""
    return rng.choice(subs) if subs else "this"


def fill_to_length(
    sentences: list[str], target: int, hi: int, topic: str, subs: list[str], rng: random.Random
) -> list[str]:
    """Append remarks about the topic and the question's subjects until the text
    reaches `target` words without passing `hi`; each remark draws its subject anew,
    so a long answer says "the Great Wall" in one place and "the long wall" in another."""
    pool = list(ELABORATIONS)
    rng.shuffle(pool)
    words = sum(len(s.split()) for s in sentences)
    for template in pool:
        if words >= target:
            break
        body = template.format(t=topic, k=_about(subs, rng))
        conn = rng.choice(CONNECTIVES) if rng.random() < 0.6 else ""
        sentence = cap(f"{conn} {body}".strip()) + "."
        if words + len(sentence.split()) > hi:
            continue
        sentences.append(sentence)
        words += len(sentence.split())
    return sentences


def answer_text(
    core: str, topic: str, subs: list[str], length: str, rng: random.Random, opener: bool = True
) -> str:
    """An answer around `core` at the asked length: maybe an opener, remarks, maybe a closer,
    never over the length's maximum, so a parser's too_long check cannot reject it."""
    lo, hi = LENGTH_WORDS.get(length, LENGTH_WORDS["medium"])
    parts = [join_opener(rng.choice(OPENERS), core) if opener and rng.random() < 0.85 else core]
    closer = rng.choice(CLOSERS) if rng.random() < 0.4 else ""
    room = hi - len(closer.split())
    target = rng.randint(lo, max(lo, (lo + room) // 2))
    parts = fill_to_length(parts, target, room, topic or "this subject", subs, rng)
    if closer:
        parts.append(closer)
    return " ".join(parts)


def ask(question: str, lead: str) -> str:
    """Prefix a lead-in; "And what is..." continues the sentence, "Got it. What is..." starts one."""
    q = question.strip()
    if not q.endswith("?"):
        q = q.rstrip(".") + "?"
    if not lead or lead.endswith((".", "?", "!")):
        return f"{lead} {cap(q)}".strip()
    return f"{lead} {q if q.startswith('I ') else q[:1].lower() + q[1:]}"
