"""Recipes: every shipped recipe validates; errors name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from datagen.config import RecipeError, apply_override, load_recipe, recipe_from_dict

ROOT = Path(__file__).resolve().parents[1]
TRAINER = ROOT / "recipes" / "train"  # trainer configs (datagen/train/common/config.py), not corpus recipes
RECIPES = sorted(p for p in (ROOT / "recipes").rglob("*.yaml") if TRAINER not in p.parents)
TRAIN_CONFIGS = sorted(TRAINER.rglob("*.yaml"))


def test_recipes_are_found():
    names = {p.name for p in RECIPES}
    assert {"tiny.yaml", "salmonn_omni.yaml", "salmonn_omni_http.yaml"} <= names
    assert any(p.parent.name == "eval" for p in RECIPES)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(ROOT / "recipes")))
def test_every_recipe_validates(path):
    r = load_recipe(path)
    assert r.name and r.dialogues >= 1


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: p.name)
def test_every_trainer_config_validates(path):
    from datagen.train.common.config import load_train_config

    cfg = load_train_config(path)
    assert cfg.name and cfg.data.train and cfg.out
    with pytest.raises(RecipeError, match="optim.lrr"):
        load_train_config(path, ["optim.lrr=1"])


def test_the_dpo_config_runs_its_own_step_count_not_the_sft_step_cap():
    """The paper's shape (30 steps of many pairs, whatever the pool), with TRL's APO-zero."""
    from datagen.train.common.config import load_train_config

    sft = load_train_config(ROOT / "recipes/train/tiny_cpu.yaml")
    dpo = load_train_config(ROOT / "recipes/train/tiny_cpu_dpo.yaml")
    assert sft.optim.max_steps == 600 and dpo.optim.max_steps == 30
    assert dpo.dpo.pairs_per_step == 12 and dpo.dpo.rpo_alpha is None and dpo.dpo.loss == "apo_zero"


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"name": "x", "timeline": {"gapp": 1}}, "timeline.gapp"),
        ({"name": "x", "timeline": {"gap": {"median": 1}}}, "timeline.gap.median"),
        ({"name": "x", "llm": {"backend": "gpt9"}}, "llm.backend: unknown llm backend 'gpt9'"),
        (
            {
                "name": "x",
                "tts": {
                    "voices": {
                        "assistant": {"backend": "nope"},
                        "user": {"backend": "espeak"},
                        "third_party": {"backend": "espeak"},
                    }
                },
            },
            "tts.voices.assistant.backend",
        ),
        ({"name": "x", "llm": {"backend": "openai_http", "options": {"modle": "m"}}}, "llm.options"),
        ({"name": "x", "mix": {"qa": 1, "karaoke": 2}}, "unknown task(s) ['karaoke']"),
        ({"name": "x", "questions": {"source": "local"}}, "needs questions.path"),
        ({"dialogues": 3}, "name"),
    ],
)
def test_errors_name_the_key(data, fragment):
    with pytest.raises(RecipeError) as e:
        recipe_from_dict(data)
    assert fragment in str(e.value)


def test_extends_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\nseed: 3\ntimeline: {reaction_s: 0.2}\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\ntimeline: {fade_s: 0.05}\n")
    r = load_recipe(tmp_path / "child.yaml", ["timeline.gap.median_s=0.7", "seed=9"])
    assert (r.name, r.seed) == ("child", 9)
    assert (r.timeline.reaction_s, r.timeline.fade_s, r.timeline.gap.median_s) == (0.2, 0.05, 0.7)


def test_switching_backend_drops_parent_options(tmp_path):
    (tmp_path / "a.yaml").write_text("name: a\nllm: {backend: openai_http, options: {model: m}}\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\nllm: {backend: scripted}\n")
    assert load_recipe(tmp_path / "b.yaml").llm.options == {}


def test_extends_loop_and_missing(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(RecipeError, match="loop"):
        load_recipe(tmp_path / "a.yaml")
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(tmp_path / "bad.yaml")


def test_override_syntax():
    assert apply_override({"a": {"b": 1}}, "a.c=[1, 2]") == {"a": {"b": 1, "c": [1, 2]}}
    with pytest.raises(RecipeError, match="key.path=value"):
        apply_override({}, "novalue")


def test_child_mix_replaces_the_parent_mix():
    r = load_recipe(ROOT / "recipes" / "eval" / "context_dependent.yaml")
    assert r.mix == {"barge_in_related": 2, "distractor": 1, "no_interruption": 1}
    assert r.split == "eval" and r.tts.eval_speakers
