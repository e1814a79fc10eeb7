"""What a question is about, as noun phrases the scripted backend can talk about.

The scripted stand-in pads answers with remarks ("experts on {topic} still
talk about {subject} quite a bit"). Filling {subject} with a random content
word of the question gave "...talk about northern quite a bit" for "What long
wall was built across northern China?": a lone adjective reads like a bug, not
like speech. So the subject is always a whole noun phrase, found by a few
rules over closed word lists (no tagger, no model; questions are short and
their shapes few):

1. the gold answer, when it names a thing ("the Great Wall", "Paris",
   "chickpeas"): not a number ("seven to nine", "1889"), not yes/no, not a
   lone adjective from the small lexicon below ("red");
2. the subject after a copula: "what/who/where/when is|was X [called|built]"
   -> "the capital of France", "a baby swan";
3. the noun phrase a wh-determiner introduces, read as definite: "What long
   wall was built..." -> "the long wall", "Which ocean lies..." -> "the ocean";
   taken only where its end is clear (an auxiliary follows, or one noun-looking
   word followed by a verb-looking one), since a wrong cut gives a lone
   adjective, which is exactly what this module exists to avoid;
4. the object of "who/which N <verb> X" when X starts with a determiner or a
   capital letter: "Who wrote The Hobbit?" -> "The Hobbit".

Every phrase is cut at the first preposition other than "of" (one "of" phrase
is kept: "the capital of France", "the color of visible light"), at a relative
word, and at a trailing participle; phrases with digits or number words are
dropped. A question the rules do not fit yields only the answer, or nothing,
and the caller talks about the topic instead.
"""

from __future__ import annotations

import re

DETERMINERS = frozenset("the a an this that these those our my your his her its their".split())
AUX = frozenset(
    "is are was were be been being am do does did has have had can could will would should may might must "
    "isn't aren't wasn't weren't doesn't didn't don't".split()
)
PREPOSITIONS = frozenset(
    "in on at by for with from to into onto across between under over through during after before about "
    "against among around near behind beside beyond inside outside since until without within along "
    "than as per via like up down off out".split()
)
CLAUSE = frozenset("that which who whom whose where when while because if so and or but".split())
WH = frozenset("what which who whom whose when where why how".split())
PRONOUNS = frozenset("i you he she it we they me him her us them one".split())
NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion dozen half".split()
)
# Lone answers that are adjectives, not things; colours are by far the commonest in quiz sets.
ADJECTIVES = frozenset(
    "red orange yellow green blue purple violet pink brown black white grey gray silver gold golden "
    "hot cold warm cool big small large tiny long short tall high low deep wide narrow heavy light "
    "fast slow old new young round flat sweet sour salty bitter hard soft wet dry true false yes no "
    "famous important dangerous northern southern eastern western ancient modern".split()
)
# Past forms and 3rd-person verbs common in questions that the suffix rules miss.
VERBS = frozenset(
    "wrote write writes painted paint built build made make makes invented invent discovered discover "
    "found find sang sing played play won win led lead ran run gave give took take came come became "
    "become went go held hold drew draw shot flew fly spoke speak sold sell fought fight lost lose "
    "keep keeps lies lie means mean called call named known born used use".split()
)
_ADJ_SUFFIX = re.compile(r"(ous|ful|ive|less|able|ible|est|ly|ern|ical|ial|lateral)$")
# Adverbs that end a noun phrase ("the Japanese dish of vinegared rice | often served").
ADVERBS = frozenset(
    "often usually mainly mostly commonly sometimes generally typically traditionally also still truly "
    "roughly once ever never always together".split()
)
# Heads that name a slot, not a thing: "the year" or "the kind of fish" make odd subjects.
SLOT_WORDS = frozenset("year kind type sort number date way name nickname title term".split())
# Trailing participles of "when was X built", "what is X called"; not "-ght" ("flight").
_PARTICIPLE = re.compile(r"(ed|en|wn|lt|ung|ade|orn|one|ept)$")
# "the name of X" says nothing: the thing is X.
_META_HEADS = re.compile(r"^(the )?(name|term|word|title|nickname) (of|for) ", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.-]*")


def _is_number(word: str) -> bool:
    w = word.lower()
    return any(c.isdigit() for c in w) or any(p in NUMBER_WORDS for p in w.split("-"))


def _is_verbish(word: str, noun_before: bool) -> bool:
    """A word that ends a subject noun phrase: an auxiliary, a listed verb, a past
    form, or (right after a noun) a 3rd-person -s form ("ocean lies")."""
    w = word.lower()
    if w in AUX or w in VERBS:
        return True
    if w.endswith("ed") and len(w) > 4:
        return True
    return noun_before and w.endswith("s") and not w.endswith(("ss", "us", "is", "as", "os", "ics"))


def _is_adjective(word: str) -> bool:
    w = word.lower()
    return w in ADJECTIVES or bool(_ADJ_SUFFIX.search(w))


def _trim(words: list[str]) -> list[str]:
    """Cut a phrase at a relative word, a preposition (keeping one "of" phrase), an
    adverb, a listed verb or a number, then drop a trailing participle ("a baby swan
    called") and any determiner or "of" left dangling at the end."""
    out: list[str] = []
    seen_of = False
    for w in words:
        lw = w.lower()
        if lw in CLAUSE or lw in WH or lw in PREPOSITIONS or lw in ADVERBS or (out and lw in VERBS):
            break
        if _is_number(w):
            break
        if lw == "of":
            if seen_of or not out:
                break
            seen_of = True
        out.append(w)
    last = out[-1] if out else ""
    if len(out) >= 2 and last.islower() and (last in VERBS or _PARTICIPLE.search(last)):
        out.pop()
    while out and out[-1].lower() in DETERMINERS | {"of"}:
        out.pop()
    return out


def _acceptable(words: list[str]) -> bool:
    """A noun phrase worth naming: not empty, not a number, and not a lone
    adjective or determiner + adjective ("the largest")."""
    if not words or len(words) > 7 or any(_is_number(w) for w in words):
        return False
    if words[-1].lower() in DETERMINERS | {"of"}:
        return False
    content = [w for w in _strip_meta(words) if w.lower() not in DETERMINERS]
    if not content or content[-1].lower() in PRONOUNS or content[-1].lower() in AUX:
        return False
    lows = [w.lower() for w in _strip_meta(words)]
    head = lows[lows.index("of") - 1] if "of" in lows[1:] else lows[-1]
    if head in SLOT_WORDS:
        return False
    if len(content) == 1 and content[0].islower() and content[0].endswith(("ing", "ed")):
        return False  # "knocking", "credited"
    last = content[-1].lower()
    if len(content) == 1 and _is_adjective(last):
        return False  # "the largest", "famous"
    return not (last.endswith(("est", "ly")) or last in VERBS)


def _strip_meta(words: list[str]) -> list[str]:
    """ "the name of the rail tunnel" -> "the rail tunnel": the thing, not its label."""
    text = " ".join(words)
    return _META_HEADS.sub("", text).split() or words


def _phrase(words: list[str]) -> str:
    return " ".join(_strip_meta(words)).strip(" ,;:")


def answer_phrase(answer: str) -> str:
    """The gold answer when it names a thing, else ""."""
    a = answer.strip().rstrip(".!?").strip()
    words = a.split()
    if not words or len(words) > 6 or any(_is_number(w) for w in words):
        return ""
    last = words[-1].lower()
    if last in ADJECTIVES or (len(words) == 1 and (a.lower() in AUX or (a.islower() and _is_adjective(a)))):
        return ""
    return a


_TITLE_GLUE = frozenset("and of with a an the in on de van".split())


def _title(words: list[str]) -> list[str]:
    """The title-case run a capitalised object starts: "Romeo and Juliet",
    "Girl with a Pearl Earring", "Microsoft | together with Paul Allen"."""
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w[:1].isupper():
            out.append(w)
            i += 1
            continue
        j = i
        while j < len(words) and words[j].lower() in _TITLE_GLUE:
            j += 1
        if j == i or j >= len(words) or not words[j][:1].isupper():
            break
        out.extend(words[i:j])
        i = j
    return out


def question_phrases(question: str) -> list[str]:
    """Noun phrases the question is about, most specific first (see the module doc)."""
    tokens = _TOKEN.findall(question.replace(",", " "))
    lows = [t.lower() for t in tokens]
    wh = next((i for i, t in enumerate(lows) if t in WH), None)
    if wh is None:
        return []
    found: list[list[str]] = []
    rest = tokens[wh + 1 :]
    low = lows[wh + 1 :]
    det_np: list[str] = []
    run: list[str] = []
    if lows[wh] in ("what", "which", "whose") and low and low[0] not in AUX and low[0] not in ("do", "does"):
        # Rule 3: "what long wall was built" -> "long wall"; stop at the verb.
        verb_next = False
        for w in rest:
            lw = w.lower()
            if lw == "of" and run and "of" not in run:
                run.append(w)  # "which color of visible light has..."
                continue
            if lw in PREPOSITIONS or lw in CLAUSE or lw in PRONOUNS or lw in ADVERBS or lw in DETERMINERS:
                break
            if _is_verbish(w, noun_before=bool(run) and not _is_adjective(run[-1])):
                verb_next = bool(run)
                break
            run.append(w)
        after = low[len(run)] if len(run) < len(low) else ""
        if (
            run
            and run[-1].lower() != "of"
            and len(run) <= 5
            and (after in AUX or (len(run) == 1 and verb_next))
        ):
            det_np = ["the", *run]
            if _acceptable(det_np):
                found.append(det_np)
        rest, low = rest[len(run) :], low[len(run) :]
    if low and low[0] in ("is", "are", "was", "were"):
        # Rule 2: the subject after a copula.
        subj = _trim(rest[1:])
        while len(subj) > 2 and subj[-1].islower() and _is_adjective(subj[-1]):
            subj = subj[:-1]  # "why is the sky blue" -> "the sky"
        if subj and (subj[0].lower() in DETERMINERS or subj[0][:1].isupper() or not run):
            if _acceptable(subj):
                found.insert(0, subj)
    elif len(low) > 2 and low[0] in ("do", "does", "did") and low[2] == "call" and not run:
        subj = _trim(rest[3:])  # "what do you call a scientist who studies fossils"
        if _acceptable(subj):
            found.insert(0, subj)
    elif len(low) > 2 and low[0] in ("do", "does") and low[-1] in ("mean", "stand", "for") and not run:
        subj = _trim(rest[1:-2] if low[-1] == "for" else rest[1:-1])  # "what does CPU stand for"
        if _acceptable(subj):
            found.insert(0, subj)
    elif low and low[0] not in AUX and (lows[wh] in ("who", "whom") or det_np):
        # Rule 4: "who wrote the song hey jude", "which composer wrote The Four Seasons".
        obj = rest[1:] if _is_verbish(rest[0], True) or lows[wh] == "who" else []
        if obj and (obj[0].lower() in DETERMINERS or obj[0][:1].isupper()):
            obj = _title(obj) if obj[0][:1].isupper() else _trim(obj)
            if _acceptable(obj):
                found.insert(0, obj)
    out: list[str] = []
    for words in found:
        p = _phrase(words)
        if p and p.lower() not in (o.lower() for o in out):
            out.append(p)
    return out


def subjects(question: str, answer: str = "") -> list[str]:
    """Everything the question is about, as phrases: the answer first when it
    names a thing, then the question's own noun phrases. May be empty."""
    out = [p for p in (answer_phrase(answer),) if p]
    for p in question_phrases(question):
        if p.lower() not in (o.lower() for o in out):
            out.append(p)
    return out
