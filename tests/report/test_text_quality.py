"""The text-quality section: counters of a real text-stage run, rendered for inspect and report."""

from __future__ import annotations

from pathlib import Path

from datagen.config import load_recipe
from datagen.report.text_quality import format_text_quality, text_quality_rows
from datagen.sources.questions import load_questions
from datagen.stages.plan import plan_dialogues
from datagen.stages.text import TextStage
from datagen.stages.text_quality import spoken_slips

ROOT = Path(__file__).resolve().parents[2]


def _scripted_counters(n: int = 40) -> dict:
    recipe = load_recipe(ROOT / "recipes/tiny.yaml", [f"dialogues={n}"])
    questions, _ = load_questions(recipe.questions)
    out = TextStage(recipe).process(plan_dialogues(questions, recipe))
    assert len(out.items) + len(out.rejects) == n
    return dict(out.counters)


def test_scripted_text_is_measured_like_any_llm_text():
    c = _scripted_counters()
    rows = dict(text_quality_rows({"counters": c, "rejects_by_reason": {}}))
    assert rows["valid JSON object (JSON kinds)"] == "100.0%"
    assert rows["retries"].startswith("0 ")
    # The stand-in writes answers to the asked length: all in range, none short.
    short, in_range, _ = rows["answers short / in range / long"].split(" / ")
    assert short == "0.0%" and float(in_range.rstrip("%")) > 90
    assert "digits 0.0" in rows["spoken-form slips per 100 texts (raw)"]
    overlap, share = rows["related-question overlap with the answer (mean; share > 0)"].split("; ")
    assert float(overlap) > 0 and share == "100.0%"
    lines = format_text_quality({"counters": c})
    assert lines[0] == "text quality" and any("words per answer" in line for line in lines)


def test_no_llm_counters_no_section():
    assert text_quality_rows({"counters": {"kept": 3}}) == []
    assert format_text_quality({}) == []


def test_spoken_slips_name_each_rule():
    assert spoken_slips("It was 1969.") == ["digits"]
    assert spoken_slips("**Paris** is lovely") == ["markup"]
    assert spoken_slips("Here:\n- one\n- two") == ["list"]
    assert spoken_slips("Sure \U0001f600") == ["emoji"]
    assert spoken_slips("(laughs) Well, yes.") == ["stage_direction"]
    assert spoken_slips("Paris is the capital of France.") == []
