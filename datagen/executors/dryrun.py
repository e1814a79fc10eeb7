"""`datagen run --dry-run`: the plan of a run, without models or data.

Counts come from the recipe alone (task counts follow `mix` exactly), so a
GPU recipe can be checked on a laptop before any weights are loaded. Audio
hours are estimates from typical lengths per task, labelled as such.
"""

from __future__ import annotations

from datagen.config import Recipe
from datagen.stages.plan import task_counts

# (LLM requests, TTS utterances, seconds of audio) per dialogue, typical values
# measured on offline corpora; multi_turn is per round.
PER_TASK = {
    "qa": (1, 2, 20.0),
    "multi_turn": (1, 2, 17.0),
    "pause": (1, 3, 22.0),
    "backchannel": (1, 4, 42.0),
    "barge_in_user": (1.5, 4, 35.0),
    "barge_in_third_party": (1.5, 4, 35.0),
    "barge_in_related": (3, 4, 38.0),
    "distractor": (1.5, 3, 42.0),
    "no_interruption": (1, 2, 42.0),
}


def _source(q) -> str:
    where = {"bundled": "bundled set", "local": q.path, "hf": f"{q.dataset}[{q.config or ''}:{q.split}]"}
    return f"{q.source} {where[q.source]}" + (f" (limit {q.limit})" if q.limit else "")


def describe(recipe: Recipe) -> str:
    from datagen.backends.registry import llm_class, tts_class
    from datagen.executors.ray_exec import stage_groups
    from datagen.stages import build_stages

    counts = task_counts(recipe.mix, recipe.dialogues)
    rounds = sum(recipe.multi_turn_rounds) / 2
    llm = tts = secs = 0.0
    for task, n in counts.items():
        r, t, s = PER_TASK[task]
        scale = rounds if task == "multi_turn" else 1
        llm, tts, secs = llm + n * r, tts + n * t * scale, secs + n * s * scale
    sources = recipe.questions.sources or [recipe.questions]
    lines = [
        f"recipe {recipe.name}: {recipe.dialogues} dialogues, seed {recipe.seed}, split {recipe.split}",
        "questions: " + ", ".join(_source(q) for q in sources),
        "tasks:",
    ]
    lines += [f"  {t:<22} {n:>8}" for t, n in counts.items()]
    lines.append("stages:")
    stages = build_stages(recipe)
    for st in stages:
        res = st.resources
        backend = {
            "text": f"llm={recipe.llm.backend}",
            "speech": "tts=" + ",".join(f"{r}:{v.backend}" for r, v in recipe.tts.voices.items()),
            "qc": f"trim={recipe.qc.trim} asr={recipe.qc.asr}",
            "compose": f"labels={recipe.labels.tokenizer} block={recipe.timeline.block_s}s",
        }[st.name]
        lines.append(f"  {st.name:<8} {backend:<60} cpus={res.num_cpus:g} gpus={res.num_gpus:g}")
    lines.append(
        "actor pools (stages fused by resources): "
        + " | ".join(
            "+".join(s.name for s in stages[lo:hi]) + f" (cpus={c:g}, gpus={g:g})"
            for lo, hi, c, g in stage_groups(recipe)
        )
    )
    extras = {tts_class(v.backend).extra for v in recipe.tts.voices.values()} | {
        llm_class(recipe.llm.backend).extra
    }
    extras |= {"qc"} if recipe.qc.asr != "none" or recipe.qc.trim == "silero" else set()
    extras |= {"hf"} if any(q.source == "hf" for q in sources) else set()
    extras = sorted(extras - {""})
    lines += [
        f"requests: ~{llm:,.0f} LLM, ~{tts:,.0f} TTS utterances",
        f"audio: ~{secs / 3600:,.2f} hours expected (estimate)",
        f"shards: {-(-recipe.dialogues // recipe.executor.shard_size)} of {recipe.executor.shard_size}"
        f" dialogues; executor {recipe.executor.kind}",
        f"optional extras needed: {', '.join(extras) or 'none'}",
    ]
    return "\n".join(lines)
