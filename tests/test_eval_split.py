"""The evaluation sets never share a question, a phrase or a voice with a training recipe.

Checked on what the recipes actually draw, not on their settings: each recipe's
questions are loaded and planned, its dialogues are scripted by the text stage
(which picks the backchannels, interruptions and distractors), and the speech
stage builds its voice pools. The assistant's voice is shared on purpose (it is
the model's own voice, docs/labels.md), so only the user's and third party's count.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from datagen.config import load_recipe
from datagen.sources.questions import load_questions
from datagen.stages.plan import plan_dialogues
from datagen.stages.speech import SpeechStage
from datagen.stages.text import TextStage

ROOT = Path(__file__).resolve().parents[1]
EVAL = sorted((ROOT / "recipes" / "eval").glob("*.yaml"))
# Training recipes that run offline; the hub recipes (salmonn_omni*) read train splits of public sets.
TRAIN = [
    ROOT / "recipes" / n
    for n in ("tiny.yaml", "tiny_qc.yaml", "train_cpu.yaml", "dpo_pool.yaml", "dpo_dev.yaml")
]
OFFLINE_EVAL = [p for p in EVAL if load_recipe(p).questions.source != "hf"]


@cache
def drawn(path: Path) -> dict[str, set[str]]:
    """Question texts, overlay phrases and user/third-party voices one recipe uses."""
    recipe = load_recipe(path)
    questions, _ = load_questions(recipe.questions)
    plans = plan_dialogues(questions, recipe)
    dialogues = TextStage(recipe).process(plans).items
    phrases = {
        o.text
        for d in dialogues
        for t in d.turns
        for o in t.overlays
        if o.kind in ("backchannel", "barge_in", "distractor", "assistant_backchannel")
    }
    pools = SpeechStage(recipe).pools
    voices = {s.id for role in ("user", "third_party") for s in pools[role]}
    return {"questions": {q.text for p in plans for q in p.questions}, "phrases": phrases, "voices": voices}


@pytest.mark.parametrize("eval_path", OFFLINE_EVAL, ids=lambda p: p.stem)
def test_eval_set_shares_nothing_with_training(eval_path):
    ev = drawn(eval_path)
    assert ev["questions"] and ev["voices"]
    for train_path in TRAIN:
        tr = drawn(train_path)
        for what in ("questions", "phrases", "voices"):
            shared = ev[what] & tr[what]
            assert not shared, f"{eval_path.stem} and {train_path.name} share {what}: {sorted(shared)[:3]}"


def test_hub_eval_sets_read_held_out_splits():
    for path in EVAL:
        recipe = load_recipe(path)
        assert recipe.split == "eval" and recipe.tts.eval_speakers, path.name
        if recipe.questions.source == "hf":
            assert recipe.questions.split in ("test", "validation", "eval"), path.name


def test_eval_sets_have_the_paper_sizes():
    from datagen.stages.plan import task_counts

    ci = load_recipe(ROOT / "recipes/eval/context_independent.yaml")
    assert task_counts(ci.mix, ci.dialogues) == {
        "backchannel": 100,
        "barge_in_user": 50,
        "barge_in_third_party": 50,
    }
    cd = load_recipe(ROOT / "recipes/eval/context_dependent.yaml")
    assert task_counts(cd.mix, cd.dialogues) == {
        "barge_in_related": 100,
        "distractor": 50,
        "no_interruption": 50,
    }
    questions, _ = load_questions(cd.questions)
    askers = [p.asker for p in plan_dialogues(questions, cd) if p.task == "barge_in_related"]
    assert askers.count("user") == askers.count("third_party") == 50


def test_pause_dialogues_are_planned_on_questions_long_enough_for_a_pause():
    recipe = load_recipe(ROOT / "recipes/eval/pause.yaml")
    questions, _ = load_questions(recipe.questions)
    assert any(len(q.text.split()) < 4 for q in questions)  # short ones exist, and are passed over
    plans = plan_dialogues(questions, recipe)
    assert len(plans) == 100 and all(len(p.questions[0].text.split()) >= 4 for p in plans)
