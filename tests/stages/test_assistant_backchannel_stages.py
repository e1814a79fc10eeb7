"""The assistant_backchannel task through plan, text and speech (no audio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from datagen.config import Recipe, load_recipe
from datagen.records import CUE_KIND, TASKS, DialoguePlan, Question
from datagen.sources.phrases import load_phrases
from datagen.sources.questions import load_questions
from datagen.stages.plan import plan_dialogues, task_counts
from datagen.stages.speech import utterance_texts
from datagen.stages.text import TextStage

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_mix_plans_it():
    recipe = Recipe(name="default", dialogues=40)
    assert CUE_KIND in TASKS and recipe.mix[CUE_KIND] > 0
    assert task_counts(recipe.mix, 40)[CUE_KIND] == 4
    questions, _ = load_questions(recipe.questions)
    plans = plan_dialogues(questions, recipe)
    assert sum(p.task == CUE_KIND for p in plans) == 4


@pytest.mark.parametrize("name", ["tiny.yaml", "salmonn_omni.yaml"])
def test_default_recipes_include_it(name):
    recipe = load_recipe(ROOT / "recipes" / name)
    assert set(recipe.mix) == set(TASKS) and task_counts(recipe.mix, 1000)[CUE_KIND] > 0


def _scripts(split: str = "train", n: int = 12):
    recipe = Recipe(name="t", split=split, mix={CUE_KIND: 1})
    questions, _ = load_questions(recipe.questions)
    plans = [DialoguePlan(f"d{i}", CUE_KIND, (q,), seed=100 + i) for i, q in enumerate(questions[:n])]
    out = TextStage(recipe).process(plans)
    assert not out.rejects, out.rejects[:2]
    return out.items, questions[:n]


def test_text_stage_writes_a_long_turn_with_cues_then_the_answer():
    dialogues, _ = _scripts()
    n_cues = set()
    for d in dialogues:
        user, answer = d.turns
        assert (user.role, answer.role) == ("user", "assistant") and not answer.overlays
        cues = user.overlays
        n_cues.add(len(cues))
        assert 1 <= len(cues) <= 2 and all(c.kind == CUE_KIND and c.role == "assistant" for c in cues)
        assert all(c.expect == "continue" for c in cues) and len({c.text for c in cues}) == len(cues)
        words = user.text.split()
        for c in cues:  # each cue after a sentence end, with speech on both sides
            assert words[c.at_word - 1].endswith((".", "!", "?")) and 3 <= c.at_word <= len(words) - 3
        stretches = user.stretches()
        assert len(stretches) == len(cues) + 1 and " ".join(stretches) == user.text
        assert stretches[-1].endswith("?")
        train = {p.text for p in load_phrases("assistant_backchannels", "train")}
        assert {c.text for c in cues} <= train
    assert n_cues == {1, 2}


def test_eval_split_draws_eval_cues():
    dialogues, _ = _scripts("eval")
    eval_ = {p.text for p in load_phrases("assistant_backchannels", "eval")}
    assert {c.text for d in dialogues for c in d.turns[0].overlays} <= eval_


def test_speech_voices_stretches_and_cues_in_the_assistants_voice():
    dialogues, _ = _scripts(n=4)
    for d in dialogues:
        items = {k: (text, role, kind) for k, text, role, kind in utterance_texts(d)}
        user = d.turns[0]
        stretch_keys = ["t0"] + [f"t0p{k}" for k in range(1, len(user.overlays) + 1)]
        assert [items[k][0] for k in stretch_keys] == list(user.stretches())
        for j, c in enumerate(user.overlays):
            assert items[f"t0o{j}"] == (c.text, "assistant", CUE_KIND)
        assert items["t1"][1] == "assistant"


def test_a_long_turn_with_one_sentence_is_rejected_with_a_reason():
    from datagen.backends.llm.base import LLMBackend, LLMResponse

    class OneSentence(LLMBackend):
        name = "one"

        def generate(self, requests):
            text = {"long_user_turn": '{"text": "What is the capital of France?"}'}
            return [
                LLMResponse(r.id, text.get(r.kind, '{"answer": "Paris is the capital."}')) for r in requests
            ]

    stage = TextStage(Recipe(name="t", mix={CUE_KIND: 1}))
    stage._llm = OneSentence()
    plan = DialoguePlan("d0", CUE_KIND, (Question("q", "What is the capital of France?", "Paris"),), 1)
    out = stage.process([plan])
    # Too few sentences for a dip is a failed reply (parse._problem): asked again, then
    # rejected with its reason, never a corpus with a turn that has nowhere to cue.
    assert not out.items and out.rejects[0].reason == "llm_too_short"
    assert out.rejects[0].detail == "long_user_turn"
