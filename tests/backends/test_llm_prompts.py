"""The prompts every backend is sent and the one parser every answer goes through."""

from __future__ import annotations

import json

import pytest

from datagen.backends.llm.prompts import (
    DEFAULT_MAX_TOKENS,
    ERRORS,
    KINDS,
    LENGTH_WORDS,
    PLAIN_TEXT_KINDS,
    SCHEMAS,
    SYSTEM_PROMPT,
    build_messages,
    make_request,
    parse_response,
)

CONTEXTS = {
    "qa_answer": {
        "question": "What is the capital of Peru?",
        "answer": "Lima",
        "topic": "geography",
        "length": "long",
    },
    "dialogue": {
        "topic": "space",
        "questions": [
            {"question": "How far is the Moon?", "answer": "384,400 km"},
            {"question": "And Mars?"},
        ],
        "rounds": 3,
    },
    "related_question": {
        "question": "Who built it?",
        "answer_so_far": "Gustave Eiffel's firm",
        "topic": "towers",
    },
    "followup_answer": {
        "question": "Who was Eiffel?",
        "previous_question": "Who built the tower?",
        "previous_answer": "Gustave Eiffel's firm built it",
        "topic": "towers",
        "length": "short",
    },
    "distractor": {"topic": "volcanoes"},
    "long_user_turn": {"question": "What is the capital of Peru?", "answer": "Lima", "topic": "geography"},
}


def _dialogue(*turns: tuple[str, str]) -> str:
    return json.dumps({"turns": [{"speaker": s, "text": t} for s, t in turns]})


# ---------------------------------------------------------------- prompts


@pytest.mark.parametrize("kind", KINDS)
def test_messages_are_system_then_user_and_carry_the_context(kind):
    msgs = build_messages(kind, CONTEXTS[kind])
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == SYSTEM_PROMPT
    user = msgs[1]["content"]
    if kind in PLAIN_TEXT_KINDS:  # one spoken string: asked as plain text, no schema sent
        assert "JSON" not in user and make_request("x", kind, CONTEXTS[kind], 0).json_schema is None
    else:
        assert "JSON" in user and all(f'"{field}"' in user for field in SCHEMAS[kind]["properties"])
    for value in CONTEXTS[kind].values():
        if isinstance(value, str) and kind != "distractor" and value not in ("long", "short"):
            assert value in user


def test_system_prompt_asks_for_spoken_concise_unmarked_text():
    low = SYSTEM_PROMPT.lower()
    for must in ("conversation", "concise", "three hundred tokens", "numbers", "dates", "*x*", "[x]", "(x)"):
        assert must in low


def test_qa_prompt_states_the_length_and_the_gold_answer():
    for length, (lo, hi) in LENGTH_WORDS.items():
        user = build_messages("qa_answer", {**CONTEXTS["qa_answer"], "length": length})[1]["content"]
        assert f"{lo} to {hi} words" in user and "Lima" in user
    no_gold = build_messages("qa_answer", {**CONTEXTS["qa_answer"], "answer": ""})[1]["content"]
    assert "Correct answer" not in no_gold


def test_dialogue_prompt_lists_questions_in_order_and_turn_count():
    user = build_messages("dialogue", CONTEXTS["dialogue"])[1]["content"]
    assert "Exactly 3 rounds" in user and "6 turns" in user
    assert user.index("How far is the Moon?") < user.index("And Mars?")
    assert "remaining rounds" in user  # 2 questions for 3 rounds


def test_make_request_and_unknown_kind():
    req = make_request("id-1", "dialogue", CONTEXTS["dialogue"], seed=9)
    assert (req.id, req.kind, req.seed) == ("id-1", "dialogue", 9)
    turns = req.json_schema["properties"]["turns"]  # the count is pinned: 3 rounds, 6 turns
    assert (turns["minItems"], turns["maxItems"]) == (6, 6) and turns["items"] == SCHEMAS["dialogue"][
        "properties"
    ]["turns"]["items"]
    assert req.max_tokens == DEFAULT_MAX_TOKENS["dialogue"]
    assert req.messages == build_messages("dialogue", CONTEXTS["dialogue"])
    assert make_request("x", "distractor", {}, seed=0, max_tokens=5).max_tokens == 5
    with pytest.raises(ValueError, match="unknown request kind"):
        build_messages("poem", {})
    with pytest.raises(ValueError, match="unknown request kind"):
        parse_response("poem", "{}", {})


def _walk(schema):
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from _walk(sub)
    if "items" in schema:
        yield from _walk(schema["items"])


@pytest.mark.parametrize("kind", KINDS)
def test_schemas_are_strict_mode_compatible(kind):
    for node in _walk(SCHEMAS[kind]):
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert sorted(node["required"]) == sorted(node["properties"])


# ---------------------------------------------------------------- parsing


def test_plain_json():
    assert parse_response("qa_answer", '{"answer": "Lima is the capital."}', {}) == (
        "Lima is the capital.",
        "",
    )


def test_fenced_json():
    text = '```json\n{"question": "Wait, why Lima?"}\n```'
    assert parse_response("related_question", text, {}) == ("Wait, why Lima?", "")
    assert parse_response("distractor", '```\n{"text": "Where are my keys?"}\n```', {}) == (
        "Where are my keys?",
        "",
    )


def test_prose_wrapped_json_takes_the_first_object():
    text = 'Sure! Here you go: {"text": "Is it raining?"} and also {"text": "second"} Hope that helps.'
    assert parse_response("distractor", text, {}) == ("Is it raining?", "")
    # A stray brace in the prose before the object must not hide it.
    assert parse_response("distractor", 'Note {oops. {"text": "Hi there."}', {}) == ("Hi there.", "")


def test_not_json():
    assert parse_response("distractor", "Honey, where are my keys?", {}) == (None, "not_json")
    assert parse_response("dialogue", "A: hi\nB: hello", {"rounds": 1}) == (None, "not_json")
    truncated = '{"answer": "The capital of Peru is'
    assert parse_response("qa_answer", truncated, {}) == (None, "not_json")
    garbage = "\ufffd\u0702\ufffd\ufffdansw\ufffd# 2[\ufffd\u0018"  # what a random-weight model emits
    assert parse_response("qa_answer", garbage, {}) == (None, "not_json")


def test_plain_prose_is_accepted_for_answers_only():
    value, error = parse_response(
        "qa_answer", "Answer: Lima is the capital, with about 10 million people.", {}
    )
    assert error == "" and value == "Lima is the capital, with about ten million people."
    value, error = parse_response("followup_answer", "He was a French engineer.", {})
    assert (value, error) == ("He was a French engineer.", "")
    assert parse_response("related_question", "Wait, why Lima?", {})[1] == "not_json"


@pytest.mark.parametrize("text", ["", "   \n", None, '{"answer": ""}', '{"answer": "[laughs]"}'])
def test_empty(text):
    assert parse_response("qa_answer", text, {}) == (None, "empty")


@pytest.mark.parametrize(
    "kind,text",
    [
        ("qa_answer", '{"reply": "Lima."}'),
        ("qa_answer", '{"answer": 5}'),
        ("related_question", '{"answer": "Why?"}'),
        ("dialogue", '{"turns": "A: hi B: hello"}'),
        ("dialogue", '{"turns": []}'),
        ("dialogue", '{"turns": [{"speaker": "A"}]}'),
        ("dialogue", '{"conversation": [{"speaker": "A", "text": "hi"}]}'),
    ],
)
def test_bad_schema(kind, text):
    assert parse_response(kind, text, {"rounds": 1}) == (None, "bad_schema")


def test_dialogue_happy_path_maps_speakers_to_roles():
    text = _dialogue(
        ("A", "How far is the Moon?"), ("B", "About 384,400 km."), ("a", "And Mars?"), ("B:", "Far.")
    )
    value, error = parse_response("dialogue", text, {"rounds": 2})
    assert error == ""
    assert value == [
        ("user", "How far is the Moon?"),
        ("assistant", "About three hundred eighty-four thousand four hundred kilometers."),
        ("user", "And Mars?"),
        ("assistant", "Far."),
    ]


def test_dialogue_bad_speaker_labels():
    wrong = _dialogue(("A", "Hi?"), ("C", "Hello."))
    assert parse_response("dialogue", wrong, {"rounds": 1}) == (None, "bad_speaker_labels")
    named = _dialogue(("User", "Hi?"), ("Assistant", "Hello."))
    assert parse_response("dialogue", named, {"rounds": 1}) == (None, "bad_speaker_labels")
    starts_with_b = _dialogue(("B", "Hello."), ("A", "Hi?"))
    assert parse_response("dialogue", starts_with_b, {"rounds": 1}) == (None, "bad_speaker_labels")


def test_dialogue_wrong_turn_count():
    two_rounds = _dialogue(("A", "Hi?"), ("B", "Hello."), ("A", "Moon?"), ("B", "Far."))
    assert parse_response("dialogue", two_rounds, {"rounds": 3}) == (None, "wrong_turn_count")
    assert parse_response("dialogue", two_rounds, {"rounds": 1}) == (None, "wrong_turn_count")
    dangling = _dialogue(("A", "Hi?"), ("B", "Hello."), ("A", "Bye?"))
    assert parse_response("dialogue", dangling, {}) == (None, "wrong_turn_count")


def test_dialogue_merges_a_turn_split_over_two_entries():
    text = _dialogue(("A", "Hi."), ("A", "How far is the Moon?"), ("B", "Far."))
    assert parse_response("dialogue", text, {"rounds": 1}) == (
        [("user", "Hi. How far is the Moon?"), ("assistant", "Far.")],
        "",
    )


def test_markup_is_removed_and_numbers_spoken():
    text = '{"answer": "The *Eiffel Tower* was **finished** in 1889 [1] (for the fair)."}'
    value, error = parse_response("qa_answer", text, {"length": "short"})
    assert error == ""
    assert not any(ch in value for ch in "*[]()")
    assert "eighteen eighty-nine" in value and "1889" not in value
    turns, error = parse_response(
        "dialogue", _dialogue(("A", "*sighs* Why?"), ("B", "[laughs] Because.")), {}
    )
    assert error == "" and all(not any(ch in t for ch in "*[]") for _, t in turns)


def test_too_long():
    lo, hi = LENGTH_WORDS["short"]
    long_answer = json.dumps({"answer": " ".join(["word"] * (2 * hi))})
    assert parse_response("qa_answer", long_answer, {"length": "short"}) == (None, "too_long")
    assert parse_response("qa_answer", long_answer, {"length": "long"})[1] == ""
    rambling = json.dumps({"question": "Wait, " + "why " * 60})
    assert parse_response("related_question", rambling, {}) == (None, "too_long")
    long_turn = _dialogue(("A", "Why?"), ("B", "so " * 200))
    assert parse_response("dialogue", long_turn, {"rounds": 1}) == (None, "too_long")


def test_every_error_name_is_documented():
    assert set(ERRORS) == {
        "empty",
        "not_json",
        "bad_schema",
        "bad_speaker_labels",
        "wrong_turn_count",
        "too_long",
        "too_short",
        "not_spoken",
        "unrelated",
    }


def test_rules_a_small_model_breaks_are_refused_with_their_reason():
    """What SmolLM2 did in practice (docs/llm_text.md): the bare gold answer for a long
    reply, a placeholder copied from the prompt, a related question that repeats the
    first one, a one-sentence 'long' turn, symbols no TTS engine says."""
    bare = json.dumps({"answer": "Cyrillic"})
    assert parse_response("qa_answer", bare, {"length": "long"}) == (None, "too_short")
    assert parse_response("qa_answer", bare, {}) == ("Cyrillic", "")  # no length asked: no floor
    placeholder = _dialogue(("A", "..."), ("B", "..."))
    assert parse_response("dialogue", placeholder, {"rounds": 1}) == (None, "empty")
    ctx = {"question": "Which alphabet is used to write Russian?", "answer_so_far": "Cyrillic, which came"}
    repeat = json.dumps({"question": "What alphabet is used to write Russian?"})
    assert parse_response("related_question", repeat, ctx) == (None, "unrelated")
    about = json.dumps({"question": "Wait, where did Cyrillic come from?"})
    assert parse_response("related_question", about, ctx)[1] == ""
    one = json.dumps({"text": "I wonder what the capital of Peru is?"})
    assert parse_response("long_user_turn", one, {}) == (None, "too_short")
    symbols = json.dumps({"answer": "Water is H2O & salt is NaCl, in short."})
    assert parse_response("qa_answer", symbols, {}) == (None, "not_spoken")


def test_long_user_turn_prompt_asks_for_context_then_the_question():
    ctx = CONTEXTS["long_user_turn"]
    prompt = build_messages("long_user_turn", ctx)[1]["content"]
    assert ctx["question"] in prompt and "then the question itself, last" in prompt
    assert "Do not give away the answer (Lima)" in prompt
    ok = json.dumps({"text": "I was in Peru last year. It was lovely. What is its capital?"})
    assert parse_response("long_user_turn", ok, ctx) == (
        "I was in Peru last year. It was lovely. What is its capital?",
        "",
    )
    rambling = json.dumps({"text": "So. " * 100})
    assert parse_response("long_user_turn", rambling, ctx) == (None, "too_long")
    assert parse_response("long_user_turn", "just some prose here", ctx) == (None, "not_json")
