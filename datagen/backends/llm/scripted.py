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
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

from datagen.backends.llm.base import LLMBackend, LLMRequest, LLMResponse
from datagen.backends.llm.prompts import LENGTH_WORDS
from datagen.backends.llm.subject import question_phrases, subjects
from datagen.text.normalize import to_spoken

# Phrase tables, kept compact by hand (one entry per line would double the file).
# fmt: off
OPENERS = (
    "Sure.", "Good question.", "Oh, that one's fun.", "Right, so", "Well,", "Okay,", "So,", "Ah,",
    "Let me think.", "Great question!", "Hmm, okay.", "You know,", "Alright,", "Happy to help.",
    "Yeah,", "Oh, sure.", "Short version:", "Here's the thing:", "Honestly,", "Good one.",
)
CLOSERS = (
    "Hope that helps.", "Anything else you'd like to know?", "Pretty neat, right?", "Does that make sense?",
    "Want me to go on?", "That's the gist of it.", "Fun fact, isn't it?", "Let me know if you want more.",
    "So there you have it.", "I find that pretty interesting.",
)
CONNECTIVES = (
    "Also,", "On top of that,", "And", "Interestingly,", "What's more,", "By the way,", "Plus,",
    "In fact,", "Funny enough,", "Beyond that,", "Another thing:", "Oh, and",
)
# Remarks that pad an answer to length; {t} is the topic, {k} what the question is about
# (a noun phrase from `subject.subjects`, or "this"). {k} is never a sentence's grammatical
# subject, so "chickpeas" and "the Great Wall" both agree with the verb.
ELABORATIONS = (
    "people often find {t} more interesting than they expect",
    "there is a surprising amount of history behind {k}",
    "a lot of what we know about {k} was worked out over many years",
    "questions about {k} come up in quiz shows more often than you would think",
    "if you ever read up on {t}, you will find plenty of stories like this one",
    "it's one of those facts about {t} that tends to stick",
    "experts on {t} still talk about {k} quite a bit",
    "the details around {k} are worth a closer look",
    "many people mix this up, so you're in good company asking",
    "it connects to a bunch of other things in {t}",
    "the story behind {k} is a nice way into {t} as a whole",
    "once you know this, a lot about {t} makes more sense",
    "there are a few good documentaries that touch on {k}",
    "teachers like to use {k} as an example when they talk about {t}",
    "it's a good reminder of how varied {t} can be",
    "you can find the same pattern in other parts of {t} too",
    "it has shaped how people think about {k} ever since",
    "I always enjoy questions about {t} like this one",
    "when people learn about {k}, they usually want to know more",
    "you hear about {k} a lot once you start looking",
    "I like how {k} ties into the bigger picture of {t}",
    "there's a good reason {k} gets mentioned so often",
)
FALLBACK_CORES = (
    "The answer is {a}.", "It's {a}.", "That would be {a}.", "The short answer is {a}.",
    "It's {a}, as it happens.", "That's {a}.",
)
NO_GOLD_CORES = (
    "That's a big question about {k}, and the honest answer is that it depends on who you ask.",
    "When it comes to {k}, the main thing to know is that it sits right at the heart of {t}.",
    "There's no single number for {k}, but the general idea is well understood.",
)
LEAD_INS = (
    "And", "Okay, next one:", "Another thing,", "Oh, and", "Also,", "Got it.", "Thanks.",
    "Interesting. So", "Right.", "Cool. Now", "Makes sense.", "Hmm, and",
)
FIRST_LEAD_INS = ("", "", "Hey,", "Quick question:", "Hi there.", "So,", "I was wondering,")
VAGUE = frozenset("ever since beyond though still also really quite about would could thing things "
                  "what's more plus funny enough other another".split())
RELATED_TEMPLATES = (
    "Wait, what do you mean by {x}?", "Sorry, how does {x} work?", "Hang on, why {x}?",
    "Hold on, what's {x} exactly?", "Wait, can you say more about {x}?", "Sorry, {x}? What's that?",
    "Hang on, how do we know about {x}?", "Wait, where does {x} come from?", "Sorry, who decided on {x}?",
    "Hold on, is {x} still true today?", "Wait, what does {x} have to do with it?",
    "Sorry to cut in, but why does {x} matter?", "Hang on, when did {x} start?",
    "Wait, is {x} the same everywhere?",
)
FOLLOWUP_CORES = (
    "Good catch. When I said {x}, I meant it plays a central part in {t}.",
    "Sure. {X} is basically one of the key pieces of {t}.",
    "Right, so {x} is worth explaining a bit.",
    "Ah, {x}. It's simpler than it sounds.",
    "Fair question. {X} is what most of this comes down to.",
)
DISTRACTOR_CALLS = ("", "", "Hey Sam,", "Mom,", "Guys,", "Honey,", "Excuse me,", "Dad,", "Hey,", "Listen,")
DISTRACTOR_LINES = (
    "did anyone see where I left my keys?", "what time is dinner tonight?", "can you pass me the remote?",
    "is it supposed to rain tomorrow?", "the dog needs to go out.", "have you fed the cat yet?",
    "we're out of milk again.", "did you call the plumber back?", "I'm going to the store, need anything?",
    "the kids have practice at five.", "can you turn the heating up a bit?", "where did you put my charger?",
    "don't forget your dentist appointment.", "is the washing machine done?", "who ate the last cookie?",
    "your phone is ringing in the kitchen.", "should we order pizza tonight?", "the package just arrived.",
    "I think I left the oven on.", "can you help me move this chair?",
)
# A user's long turn (long_user_turn): a situation, a remark or two, then the question.
# {t} is the topic, {k} a key word of the question.
SITUATIONS = (
    "So my friends and I were talking about {t} last night.",
    "I was reading something about {t} on the train this morning.",
    "My daughter had a homework question about {t} yesterday.",
    "We had a quiz night at work, and one round was all about {t}.",
    "I was watching a documentary about {t} the other evening.",
    "My neighbour and I got into a little debate about {t}.",
    "I've been trying to learn more about {t} lately.",
    "Okay, so this came up at dinner with my parents.",
    "My brother sent me a message about {t} this morning.",
    "I was doing a crossword puzzle over breakfast.",
)
REMARKS = (
    "Somebody mentioned {k}, and I realised I wasn't sure about it.",
    "Nobody could agree, and it went on for ages.",
    "I thought I knew the answer, but now I'm not so sure.",
    "We looked it up, but the websites said different things.",
    "It kept bugging me the whole way home.",
    "I said I'd ask you, because you usually know this stuff.",
    "My memory says one thing, but I don't trust it.",
    "It's one of those things you feel you should just know.",
    "I guessed, but I'd like to be sure before I say anything.",
    "And now I really want to settle it.",
)
ASK_LEADS = ("So,", "Anyway,", "So my question is,", "So tell me,", "Basically,", "")
# fmt: on
STOPWORDS = frozenset(
    "a an the and or but so of to in on at by for with from into about as is are was were be been being "
    "it its it's this that these those there here what which who whom whose when where why how do does "
    "did done have has had i you he she we they me him her us them my your his our their not no yes "
    "very just also more most some any all can could would should will shall may might must than then "
    "well okay sure right really quite one two like know think good question answer thing things "
    "wait sorry hang hold mean exactly said tell called name named first last many much else worth "
    "knowing built made born known".split()
)
# Words that can start a sentence but read fine lowercased after "Well," or "So,".
_LOWER_OK = frozenset("the that that's it it's there there's when a an".split())

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_PARTICIPLE = re.compile(r"(ed|en|wn|lt|ght|ung|ade|orn|one|ept)$")


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _is_content(word: str) -> bool:
    return len(word) >= 4 and word.lower() not in STOPWORDS


def _content_words(text: str) -> list[str]:
    return [w for w in (t.removesuffix("'s") for t in _WORD.findall(text)) if _is_content(w)]


def _join(opener: str, sentence: str) -> str:
    """ "Well," + "The capital..." -> "Well, the capital..."; proper nouns keep their capital."""
    first = sentence.split(" ", 1)[0]
    if opener and not opener.endswith((".", "!", "?")) and first.lower() in _LOWER_OK:
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
        return f"{_cap(q[m.start(3) :])} {m.group(2)} {a}."
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
        return f"{_cap(subj)} {verb} {prep} {a}."
    if m := re.match(r"(when|where) (did|does|do) (.+)$", ql):
        kind = "That happened" if m.group(1) == "when" else "That was"
        prep = "in" if m.group(1) == "where" or a[:1].isdigit() else "on"
        return f"{kind} {prep} {a}."
    return rng.choice(FALLBACK_CORES).format(a=a)


def _core(question: str, gold: str, topic: str, subs: list[str], rng: random.Random) -> str:
    """The answer's first sentence, in spoken form as the prompt asks a real LLM to write it
    (and so that word counts aimed at a length survive normalisation)."""
    if gold:
        return to_spoken(core_sentence(question, gold, rng))
    return rng.choice(NO_GOLD_CORES).format(k=_about(subs, rng), t=topic or "it")


def _about(subs: list[str], rng: random.Random) -> str:
    """One thing to talk about: a phrase of `subjects` (never a lone word lifted from
    the question), or "this" when the question offers none (a bare number question)."""
    return rng.choice(subs) if subs else "this"


def _fill(
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
        sentence = _cap(f"{conn} {body}".strip()) + "."
        if words + len(sentence.split()) > hi:
            continue
        sentences.append(sentence)
        words += len(sentence.split())
    return sentences


def _answer_text(
    core: str, topic: str, subs: list[str], length: str, rng: random.Random, opener: bool = True
) -> str:
    lo, hi = LENGTH_WORDS.get(length, LENGTH_WORDS["medium"])
    parts = [_join(rng.choice(OPENERS), core) if opener and rng.random() < 0.85 else core]
    closer = rng.choice(CLOSERS) if rng.random() < 0.4 else ""
    room = hi - len(closer.split())
    target = rng.randint(lo, max(lo, (lo + room) // 2))
    parts = _fill(parts, target, room, topic or "this subject", subs, rng)
    if closer:
        parts.append(closer)
    return " ".join(parts)


def _qa(c: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    q, topic = str(c.get("question", "")), str(c.get("topic") or "")
    gold = str(c.get("answer") or "")
    subs = subjects(q, gold)
    core = _core(q, gold, topic, subs, rng)
    return {"answer": _answer_text(core, topic, subs, str(c.get("length") or "medium"), rng)}


def _ask(question: str, lead: str) -> str:
    """Prefix a lead-in; "And what is..." continues the sentence, "Got it. What is..." starts one."""
    q = question.strip()
    if not q.endswith("?"):
        q = q.rstrip(".") + "?"
    if not lead or lead.endswith((".", "?", "!")):
        return f"{lead} {_cap(q)}".strip()
    return f"{lead} {q if q.startswith('I ') else q[:1].lower() + q[1:]}"


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
        turns.append({"speaker": "A", "text": _ask(q, lead)})
        subs = subjects(q, gold)
        core = _core(q, gold, topic, subs, rng)
        parts = [_join(rng.choice(OPENERS), core) if rng.random() < 0.5 else core]
        if rng.random() < 0.5:
            parts = _fill(parts, len(" ".join(parts).split()) + 1, 40, topic or "this", subs, rng)
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
    for m in list(_WORD.finditer(said))[-20:]:
        before = said[: m.start()].rstrip()
        pronoun = m.group(0) == "I" or m.group(0).startswith("I'")  # capitalised, but no name
        if m.group(0)[:1].isupper() and not pronoun and before and before[-1] not in ".!?:":
            names.add(len(tokens))
        tokens.append(m.group(0).removesuffix("'s"))
    verbish = re.compile(r"(ing|ed|ly|s)$")

    def askable(i: int) -> bool:
        t = tokens[i].lower()
        return i in names or (_is_content(t) and t not in VAGUE and not verbish.search(t))

    runs: list[list[int]] = []  # runs of adjacent askable words, e.g. "World Fair"
    for i in range(len(tokens)):
        if askable(i):
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
    context = {w.lower() for w in _WORD.findall(f"{c.get('question', '')} {c.get('topic', '')}")}

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
    core = rng.choice(FOLLOWUP_CORES).format(x=x, X=_cap(x), t=topic or "the subject")
    return {"answer": _answer_text(core, topic, subs, str(c.get("length") or "short"), rng, opener=False)}


def _distractor(c: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    # A fixed list would leak into evaluation, so it is split like the phrase banks:
    # every third line is held out for eval recipes (context "split").
    held_out = str(c.get("split") or "train") == "eval"
    pool = [s for i, s in enumerate(DISTRACTOR_LINES) if (i % 3 == 2) == held_out]
    topic_words = {w.lower() for w in _content_words(str(c.get("topic") or ""))}
    lines = [s for s in pool if not topic_words & {w.lower() for w in _WORD.findall(s)}]
    call, line = rng.choice(DISTRACTOR_CALLS), rng.choice(lines or pool)
    return {"text": f"{call} {line}" if call else _cap(line)}


def _long_turn(c: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A user's long turn read from the question: a situation sentence, one or two
    remarks, then the question, so it splits into stretches at sentence ends."""
    q, topic = str(c.get("question", "")), str(c.get("topic") or "")
    phrases = question_phrases(q)  # the question's noun phrases, never the answer
    fill = {"t": topic or "trivia", "k": rng.choice(phrases) if phrases else ""}
    pool = [r for r in REMARKS if phrases or "{k}" not in r]
    remarks = rng.sample(pool, rng.randint(1, 2))
    parts = [rng.choice(SITUATIONS).format(**fill), *(r.format(**fill) for r in remarks)]
    parts.append(_ask(q, rng.choice(ASK_LEADS)))
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
