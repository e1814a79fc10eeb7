"""The offline scripted "LLM": deterministic, varied, and parseable by the shared parser."""

from __future__ import annotations

import json
import pickle
import random

import pytest

from datagen.backends.llm.prompts import KINDS, LENGTH_WORDS, make_request, parse_response
from datagen.backends.llm.scripted import ScriptedLLM, core_sentence
from datagen.backends.registry import make_llm
from datagen.text.normalize import normalize_for_tts

QUESTIONS = [
    ("What is the capital of France?", "Paris", "geography"),
    ("who wrote the song hey jude", "Paul McCartney", "music"),
    ("when was the eiffel tower built", "1889", "architecture"),
    ("where was albert einstein born", "Ulm", "science"),
    ("how many players are there on a soccer team", "eleven", "sports"),
    ("which planet is the largest", "Jupiter", "astronomy"),
    ("who played the joker in the dark knight released in 2008", "Heath Ledger", "film"),
    ("why is the sky blue", "", "physics"),
]
ANSWER_SO_FAR = "The Eiffel Tower was finished for the World's Fair by Gustave Eiffel's engineering company"


def _ctx(kind: str, i: int = 0, length: str = "medium") -> dict:
    q, a, topic = QUESTIONS[i % len(QUESTIONS)]
    return {
        "qa_answer": {"question": q, "answer": a, "topic": topic, "length": length},
        "dialogue": {"topic": topic, "questions": [{"question": x, "answer": y} for x, y, _ in QUESTIONS[:3]],
                     "rounds": 3},
        "related_question": {"question": q, "answer_so_far": ANSWER_SO_FAR, "topic": topic},
        "followup_answer": {"question": "Wait, who was Gustave Eiffel?", "previous_question": q,
                            "previous_answer": ANSWER_SO_FAR, "topic": topic, "length": length},
        "distractor": {"topic": topic},
        "long_user_turn": {"question": q, "answer": a, "topic": topic},
    }[kind]  # fmt: skip


def _gen(kind: str, ctx: dict, seed: int):
    req = make_request(f"{kind}-{seed}", kind, ctx, seed=seed)
    resp = ScriptedLLM().generate([req])[0]
    return resp, parse_response(kind, resp.text, ctx)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_parses_through_the_shared_parser(kind):
    for seed in range(40):
        resp, (value, error) = _gen(kind, _ctx(kind, seed), seed)
        assert resp.ok and error == "", (resp.text, error)
        assert value
        json.loads(resp.text)  # the same JSON a real LLM is asked for, not pre-parsed values


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_per_seed(kind):
    a = [_gen(kind, _ctx(kind, 1), s)[0].text for s in range(10)]
    b = [_gen(kind, _ctx(kind, 1), s)[0].text for s in range(10)]
    assert a == b
    assert len(set(a)) >= 5  # and the seed matters


def test_global_random_state_is_untouched():
    random.seed(123)
    state = random.getstate()
    ScriptedLLM().generate([make_request("x", k, _ctx(k), seed=5) for k in KINDS])
    assert random.getstate() == state


def test_answers_are_varied():
    ctx = _ctx("qa_answer", 0)
    answers = [_gen("qa_answer", ctx, s)[1][0] for s in range(50)]
    assert len(set(answers)) == 50
    assert len({" ".join(a.split()[:2]) for a in answers}) >= 12  # distinct openings
    assert all("Paris" in a for a in answers)  # built around the gold answer


def test_related_questions_and_distractors_are_varied():
    related = {_gen("related_question", _ctx("related_question"), s)[1][0] for s in range(50)}
    assert len(related) >= 25
    distractors = {_gen("distractor", _ctx("distractor"), s)[1][0] for s in range(50)}
    assert len(distractors) >= 25


@pytest.mark.parametrize("length", list(LENGTH_WORDS))
def test_answer_lengths_follow_context_length(length):
    lo, hi = LENGTH_WORDS[length]
    counts = []
    for seed in range(20):
        for i in range(len(QUESTIONS)):
            value, error = _gen("qa_answer", _ctx("qa_answer", i, length), seed)[1]
            assert error == ""
            counts.append(len(value.split()))
    assert lo <= min(counts) and max(counts) <= hi, (min(counts), max(counts))


def test_followup_answers_are_short_by_default():
    ctx = _ctx("followup_answer")
    del ctx["length"]
    lo, hi = LENGTH_WORDS["short"]
    for seed in range(20):
        value, error = _gen("followup_answer", ctx, seed)[1]
        assert error == "" and lo <= len(value.split()) <= hi


@pytest.mark.parametrize("rounds", [1, 2, 3, 5])
def test_dialogue_turns_chain_the_questions(rounds):
    qs = [{"question": q, "answer": a} for q, a, _ in QUESTIONS[:3]]
    ctx = {"topic": "trivia", "questions": qs, "rounds": rounds}
    for seed in range(10):
        turns, error = _gen("dialogue", ctx, seed)[1]
        assert error == ""
        assert [r for r, _ in turns] == ["user", "assistant"] * rounds
        for (_, text), q in zip(turns[::2], qs, strict=False):
            assert q["question"].lower().rstrip("?") in text.lower()
        for (_, text), q in zip(turns[1::2], qs, strict=False):
            assert normalize_for_tts(q["answer"]) in text  # spoken form: "1889" -> "eighteen eighty-nine"


def test_dialogue_uses_conversational_lead_ins():
    ctx = _ctx("dialogue")
    later = {_gen("dialogue", ctx, s)[1][0][2][1].split()[0] for s in range(30)}
    assert len(later) >= 5  # "And", "Okay,", "Oh,", "Thanks." ...


def test_related_question_is_about_what_was_just_said():
    said = {w.lower().removesuffix("'s") for w in ANSWER_SO_FAR.split()}
    for seed in range(30):
        q = _gen("related_question", _ctx("related_question"), seed)[1][0]
        assert q.endswith("?") and any(
            w.strip("?,.").lower() in said for w in q.split() if len(w.strip("?,.")) >= 4
        )


def test_distractor_stays_off_topic():
    ctx = {"topic": "dinner recipes"}
    for seed in range(60):
        text = _gen("distractor", ctx, seed)[1][0].lower()
        assert "dinner" not in text


@pytest.mark.parametrize(
    "question,answer,expected",
    [
        ("What is the capital of France?", "Paris", "The capital of France is Paris."),
        ("who wrote hey jude", "Paul McCartney", "Paul McCartney wrote hey jude."),
        ("when was the eiffel tower built", "1889", "The eiffel tower was built in 1889."),
        ("where was albert einstein born", "Ulm", "Albert einstein was born in Ulm."),
        (
            "how many players are there on a soccer team",
            "eleven",
            "There are eleven players on a soccer team.",
        ),
        ("which planet is the largest", "Jupiter", "The planet you're after is Jupiter."),
    ],
)
def test_core_sentence_patterns(question, answer, expected):
    assert core_sentence(question, answer, random.Random(0)) == expected


def test_core_sentence_fallback_still_contains_the_answer():
    outs = {core_sentence("name a famous painter", "Monet", random.Random(s)) for s in range(20)}
    assert len(outs) >= 3 and all("Monet" in o for o in outs)


def test_token_counts_and_failures_are_per_request():
    good = make_request("ok", "qa_answer", _ctx("qa_answer"), seed=1)
    bad_ctx = make_request("bad", "dialogue", _ctx("dialogue"), seed=1)
    bad_ctx = type(bad_ctx)(**{**bad_ctx.__dict__, "context": {"rounds": "three"}})
    unknown = type(good)(**{**good.__dict__, "id": "unk", "kind": "poem"})
    out = ScriptedLLM().generate([good, bad_ctx, unknown])
    assert [r.id for r in out] == ["ok", "bad", "unk"]
    assert out[0].ok and out[0].completion_tokens == len(json.loads(out[0].text)["answer"].split())
    assert out[0].prompt_tokens > 20
    assert not out[1].ok and out[1].error.startswith("bad_context")
    assert not out[2].ok and out[2].error.startswith("unknown_kind")


def test_registry_and_pickle():
    llm = make_llm("scripted")
    assert isinstance(llm, ScriptedLLM)
    clone = pickle.loads(pickle.dumps(llm))
    req = make_request("x", "qa_answer", _ctx("qa_answer"), seed=3)
    assert clone.generate([req]) == llm.generate([req])


def test_related_question_asks_about_a_name_not_a_verb():
    import random

    from datagen.backends.llm.scripted import _related

    ctx = {
        "question": "Which Greek hero could only be wounded in his heel?",
        "topic": "mythology",
        "answer_so_far": "Oh, sure. That would be Achilles. The story tends to come up quickly. Beyond that",
    }
    asked = {_related(ctx, random.Random(seed))["question"] for seed in range(30)}
    assert all("Achilles" in q for q in asked)
    assert not any(w in q for q in asked for w in ("tends", "quickly", "Beyond"))


# --- filler talks about the question's subject, not a word lifted from it (issue #13) ---

GREAT_WALL = {
    "question": "What long wall was built across northern China to keep out invaders?",
    "answer": "the Great Wall",
    "topic": "history",
}
_FILLER_SLOTS = ("about {k}", "behind {k}", "around {k}", "touch on {k}", "use {k}", "think about {k}")


def _filler(answer: str, core_words: int) -> str:
    """The padding after the core sentence (opener + core are the first sentences)."""
    return " ".join(answer.split()[core_words:])


def test_great_wall_filler_names_the_wall_never_northern():
    from datagen.backends.llm.scripted import _qa

    seen = set()
    for seed in range(40):
        text = _qa({**GREAT_WALL, "length": "long"}, random.Random(seed))["answer"]
        assert "northern" not in text.lower() and "invaders" not in text.lower()
        assert "about China" not in text and "around northern" not in text
        seen.update(p for p in ("the Great Wall", "the long wall") if p in text)
    assert seen == {"the Great Wall", "the long wall"}  # both the answer and the question's noun phrase


def test_subjects_of_bundled_questions_are_noun_phrases():
    from datagen.backends.llm.subject import question_phrases, subjects

    cases = {
        "What long wall was built across northern China to keep out invaders?": ["the long wall"],
        "What is the capital of France?": ["the capital of France"],
        "Who wrote The Hobbit?": ["The Hobbit"],
        "Who wrote Romeo and Juliet?": ["Romeo and Juliet"],
        "Which ocean lies between Europe and North America?": ["the ocean"],
        "What is the name of the rail tunnel under the sea between England and France?": ["the rail tunnel"],
        "What is a group of lions called?": ["a group of lions"],
        "In which city is the Golden Gate Bridge?": ["the Golden Gate Bridge", "the city"],
        "What appears when sunlight shines through raindrops?": [],  # no clear phrase: none, not "appears"
        "How many planets are in our solar system?": [],
        "why is the sky blue": ["the sky"],  # the predicate adjective is cut
    }
    for q, expected in cases.items():
        assert question_phrases(q) == expected, q
    assert subjects("What is seven times eight?", "fifty-six") == []  # numbers are not subjects
    assert subjects("Which color of visible light has the longest wavelength?", "red") == [
        "the color of visible light"
    ]


def test_filler_never_uses_a_lone_word_of_the_question():
    """Over the bundled questions: every filler subject slot holds the answer, a
    phrase of `subjects`, or "this"; never a single lowercase question word."""
    import re

    from datagen.backends.llm.scripted import ELABORATIONS, _qa
    from datagen.backends.llm.subject import subjects

    path = __import__("pathlib").Path(__import__("datagen").__file__).parent / "data" / "questions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()][::7]
    slots = [re.compile(re.escape(t).replace(re.escape("{k}"), "(?P<k>.+?)").replace(re.escape("{t}"), ".+?"))
             for t in ELABORATIONS if "{k}" in t]  # fmt: skip
    checked = 0
    for row in rows:
        allowed = {s.lower() for s in subjects(row["question"], row["answer"])} | {"this"}
        for seed in range(3):
            text = _qa({**row, "length": "long"}, random.Random(seed))["answer"]
            for sentence in re.split(r"(?<=[.!?]) ", text):
                body = re.sub(r"^(\w+[,:]|\w+ \w+[,:]|And|Plus,|Oh, and) ", "", sentence).rstrip(".")
                for pat in slots:
                    if m := pat.fullmatch(body[:1].lower() + body[1:]):
                        assert m.group("k").lower() in allowed, (row["question"], sentence)
                        checked += 1
    assert checked > 50


def test_filler_without_answer_or_topic_is_still_sensible():
    from datagen.backends.llm.scripted import _qa

    ctx = {"question": "How many moons does Mars have?", "answer": "", "topic": "", "length": "medium"}
    texts = {_qa(ctx, random.Random(s))["answer"] for s in range(10)}
    lo, hi = LENGTH_WORDS["medium"]
    for text in texts:
        assert lo <= len(text.split()) <= hi
        assert "moons" not in text.lower().replace("how many moons", "")  # no lifted word
        assert "{" not in text and "  " not in text
    assert len(texts) == 10
    ctx = {"question": "Who painted the Mona Lisa?", "answer": "", "topic": "", "length": "long"}
    text = _qa(ctx, random.Random(2))["answer"]
    assert "the Mona Lisa" in text  # the question's own phrase stands in for the missing answer


def test_subject_filler_is_deterministic_per_seed():
    from datagen.backends.llm.scripted import _qa

    ctx = {**GREAT_WALL, "length": "medium"}
    assert [_qa(ctx, random.Random(s)) for s in range(5)] == [_qa(ctx, random.Random(s)) for s in range(5)]


def test_long_user_turn_is_context_then_the_question():
    """Reads like speech: whole sentences (each a place for a cue), the question last, no answer."""
    for seed in range(30):
        q, a, topic = QUESTIONS[seed % len(QUESTIONS)]
        _, (text, error) = _gen("long_user_turn", _ctx("long_user_turn", seed), seed)
        assert error == ""
        sentences = [s for s in text.replace("?", "?|").replace(".", ".|").split("|") if s.strip()]
        assert 3 <= len(sentences) <= 5, text
        assert text.endswith("?")
        tail = normalize_for_tts(q).rstrip("?").lower().split()[-3:]
        assert " ".join(tail) in text.lower(), (q, text)  # the question itself ends the turn
        assert not a or a.lower() not in text.lower()  # the user asks; the answer is not given away
        assert normalize_for_tts(text) == text  # already in spoken form
