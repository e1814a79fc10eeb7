"""The text-quality section of `datagen report` and `datagen inspect`.

Whoever wrote a corpus's text (the scripted stand-in, a 135M model on a
laptop, Llama-3-8B on a GPU), the same table says how well it followed the
prompts, from the counters the text stage sums into stats.json
(datagen/stages/text_quality.py): how often a reply held JSON, how many
were asked again and why, what was rejected in the end, how long answers
were against the length asked for, how often the raw text broke spoken
form (digits, markup, lists, emoji, stage directions; normalisation fixes
or refuses these before TTS), and whether related questions are about what
the assistant had just said.
"""

from __future__ import annotations

from datagen.stages.text_quality import SPOKEN_CHECKS


def _pct(num: float, den: float) -> str:
    return f"{100 * num / den:.1f}%" if den else "–"


def text_quality_rows(stats: dict) -> list[tuple[str, str]]:
    """(metric, value) rows; empty when the corpus has no LLM text counters."""
    c = stats.get("counters") or {}
    attempts = c.get("llm_attempts", 0)
    if not attempts:
        return []
    answers = c.get("llm_answers", 0)
    fails = sorted((k[len("llm_fail_") :], v) for k, v in c.items() if k.startswith("llm_fail_") and v)
    final = sorted(
        (k, v) for k, v in (stats.get("rejects_by_reason") or {}).items() if k.startswith("llm_") and v
    )
    raw_texts = c.get("llm_raw_texts", 0)
    words, asked = c.get("llm_answer_words", 0), c.get("llm_answer_words_asked", 0)
    dialects = ", ".join(
        f"{k[len('llm_dialect_') :]} {v}" for k, v in sorted(c.items()) if k.startswith("llm_dialect_")
    )
    rows = [
        ("structured output (JSON requests)", dialects or "–"),
        ("requests (first tries)", str(c.get("llm_requests", 0))),
        ("replies (with retries)", str(attempts)),
        ("valid JSON object (JSON kinds)", _pct(c.get("llm_json_ok", 0), c.get("llm_json_requests", 0))),
        ("retries", f"{c.get('llm_retries', 0)} ({_pct(c.get('llm_retries', 0), c.get('llm_requests', 0))})"),
        ("failed replies by reason", ", ".join(f"{k} {v}" for k, v in fails) or "none"),
        ("rejected dialogues by reason", ", ".join(f"{k} {v}" for k, v in final) or "none"),
        (
            "words per answer (asked, mean)",
            f"{words / answers:.1f} ({asked / answers:.1f})" if answers else "–",
        ),
        (
            "answers short / in range / long",
            " / ".join(_pct(c.get(f"llm_answers_{k}", 0), answers) for k in ("short", "in_range", "long")),
        ),
    ]
    per100 = ", ".join(
        f"{name} {100 * c.get(f'llm_raw_{name}', 0) / raw_texts:.1f}" for name in SPOKEN_CHECKS
    )
    rows.append(("spoken-form slips per 100 texts (raw)", per100 if raw_texts else "–"))
    related = c.get("llm_related", 0)
    rows.append(
        (
            "related-question overlap with the answer (mean; share > 0)",
            f"{c.get('llm_related_overlap', 0) / related:.2f}; {_pct(c.get('llm_related_any', 0), related)}"
            if related
            else "–",
        )
    )
    tokens = c.get("llm_completion_tokens", 0)
    if tokens:
        rows.append(("completion tokens per reply", f"{tokens / attempts:.0f}"))
    return rows


def format_text_quality(stats: dict) -> list[str]:
    """Text lines for `datagen inspect` (none when there is no LLM text)."""
    rows = text_quality_rows(stats)
    if not rows:
        return []
    width = max(len(k) for k, _ in rows)
    return ["text quality"] + [f"  {k:<{width}}  {v}" for k, v in rows] + [""]
