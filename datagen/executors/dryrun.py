"""`datagen run --dry-run`: the plan of a run, without models or data.

Counts come from the recipe alone (task counts follow `mix` exactly), so a
GPU recipe can be checked on a laptop before any weights are loaded. Audio
hours are estimates from typical lengths per task, labelled as such.
"""

from __future__ import annotations

from datagen.config import Recipe
from datagen.executors.sizing import Cluster, describe_layout, mix_totals, plan_layout, stage_groups
from datagen.stages.plan import task_counts


def _source(q) -> str:
    where = {"bundled": "bundled set", "local": q.path, "hf": f"{q.dataset}[{q.config or ''}:{q.split}]"}
    return f"{q.source} {where[q.source]}" + (f" (limit {q.limit})" if q.limit else "")


def describe(recipe: Recipe, cluster: Cluster | None = None) -> str:
    from datagen.backends.registry import llm_class, tts_class
    from datagen.stages import build_stages

    counts = task_counts(recipe.mix, recipe.dialogues)
    totals = mix_totals(recipe)
    llm, tts, secs = totals["llm_requests"], totals["tts_utterances"], totals["audio_s"]
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
    if cluster is not None:
        layout = plan_layout(recipe, cluster)
        lines.append(describe_layout(layout))
        rate = layout.dialogues_per_hour
        hours = recipe.dialogues / rate if rate > 0 else float("inf")
        took = f"~{hours:,.1f} h" if hours >= 1 else f"~{hours * 60:.0f} min"
        lines.append(f"expected wall time for {recipe.dialogues:,} dialogues: {took}")
    return "\n".join(lines)
