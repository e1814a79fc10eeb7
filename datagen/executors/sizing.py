"""How many actors each pool gets on a cluster, and what each should deliver.

The Ray executor fuses stages with equal resources into actor pools
(`ray_exec.stage_groups`). On a GPU cluster there are typically three: the
LLM (one engine per actor, `tensor_parallel_size` GPUs), the TTS (CosyVoice2,
fractional GPUs, several actors packed on one GPU) and the CPU stages (QC,
compose). Left to itself, every GPU pool may grow onto every GPU, and which
pool gets them is first come, first served. This module sizes them instead:

* the cost of a dialogue in each pool, in actor-seconds, comes from the
  recipe's task mix (requests, utterances and audio per task, as the dry run
  estimates them) and the per-unit figures in `executor.sizing` (LLM output
  tokens/s per replica, TTS and CPU real-time factors), which a user measures
  on their own cards with `bench/gpu_smoke.sh`;
* GPUs are handed out one placement unit at a time (a whole GPU for a
  fractional pool, `tensor_parallel_size` GPUs for an engine), always to the
  pool that is slowest so far: max-min throughput, the bottleneck as fast as
  the cluster allows;
* what is left of the CPUs after one per GPU actor goes to the CPU pools,
  split by their cost.

The numbers are estimates and are printed as such; the allocation itself is
what `iter_ray` uses as each pool's size, so the dry run shows the layout the
run will have. Hand-written because no library sizes Ray Data actor pools
from per-stage costs (Ray Data autoscales each pool on its own backlog).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from datagen.config import Recipe, RecipeError
from datagen.stages import build_stages


def text_on_driver(recipe: Recipe) -> bool:
    """Ray Data LLM runs the text stage from the driver, before the pools (llm_phase.py)."""
    return recipe.llm.backend == "vllm" and recipe.llm.options.get("mode") == "ray_data_llm"


def stage_groups(recipe: Recipe) -> list[tuple[int, int, float, float]]:
    """(lo, hi, num_cpus, num_gpus) for runs of stages with equal resources: the actor
    pools of the Ray executor (without the text stage when it runs on the driver)."""
    groups: list[tuple[int, int, float, float]] = []
    for i, st in enumerate(build_stages(recipe)):
        if i == 0 and text_on_driver(recipe):
            continue
        res = st.resources
        if groups and (groups[-1][2], groups[-1][3]) == (res.num_cpus, res.num_gpus):
            lo, _, c, g = groups[-1]
            groups[-1] = (lo, i + 1, c, g)
        else:
            groups.append((i, i + 1, res.num_cpus, res.num_gpus))
    return groups


@dataclass(frozen=True)
class Cluster:
    nodes: int
    gpus_per_node: int
    cpus_per_node: int

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def cpus(self) -> int:
        return self.nodes * self.cpus_per_node

    def __str__(self) -> str:
        return f"{self.nodes} node(s) x {self.gpus_per_node} GPU, {self.cpus_per_node} CPU"


CPUS_PER_GPU_DEFAULT = 12  # a typical 8-GPU node has 96+ CPU cores


def parse_cluster(text: str) -> Cluster:
    """`4x8gpu` (4 nodes of 8 GPUs, 12 CPUs per GPU), `4x8gpu:96cpu`, `1x0gpu:16cpu`."""
    m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*gpus?\s*(?::\s*(\d+)\s*cpus?)?\s*", text.lower())
    if not m or int(m.group(1)) < 1:
        raise RecipeError(
            f"--cluster {text!r}: expected NODESxGPUSgpu[:CPUScpu], e.g. 4x8gpu or 2x8gpu:128cpu"
        )
    nodes, gpus = int(m.group(1)), int(m.group(2))
    cpus = int(m.group(3)) if m.group(3) else max(CPUS_PER_GPU_DEFAULT * gpus, 2)
    if cpus < 1:
        raise RecipeError(f"--cluster {text!r}: a node needs at least one CPU")
    return Cluster(nodes, gpus, cpus)


@dataclass
class Pool:
    """One actor pool: the stages it runs, what each actor holds, how many actors."""

    stages: str
    gpus_per_actor: float
    cpus_per_actor: float
    seconds_per_dialogue: float  # one actor's busy time per dialogue (estimate)
    actors: int = 0
    gpus: float = 0.0  # GPUs given to the pool (whole GPUs for fractional actors)
    note: str = ""
    group: int | None = None  # index in ray_exec.stage_groups; None: Ray Data LLM's own engines

    @property
    def per_gpu(self) -> int:
        """Actors Ray packs onto one GPU (fractional actors), or 1."""
        return max(1, math.floor(1 / self.gpus_per_actor + 1e-9)) if 0 < self.gpus_per_actor < 1 else 1

    @property
    def unit_gpus(self) -> float:
        """GPUs added at a time: one whole GPU of packed actors, or one multi-GPU actor."""
        return 1.0 if self.gpus_per_actor < 1 else self.gpus_per_actor

    @property
    def unit_actors(self) -> int:
        return self.per_gpu if self.gpus_per_actor < 1 else 1

    @property
    def dialogues_per_hour(self) -> float:
        if self.seconds_per_dialogue <= 0:
            return math.inf
        return self.actors * 3600.0 / self.seconds_per_dialogue


@dataclass
class Layout:
    cluster: Cluster
    pools: list[Pool]  # the pools that run together, streaming shards into each other
    llm_external: str = ""  # the LLM runs outside the cluster (openai_http), or ""
    text_phase: Pool | None = None  # Ray Data LLM: the text of every shard first, alone

    @property
    def bottleneck(self) -> Pool:
        return min(self.pools, key=lambda p: p.dialogues_per_hour)

    @property
    def dialogues_per_hour(self) -> float:
        """The streaming pools' rate, after the text phase when there is one."""
        rate = self.bottleneck.dialogues_per_hour
        if self.text_phase is None:
            return rate
        return 1.0 / (1.0 / self.text_phase.dialogues_per_hour + 1.0 / rate)


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
    # long user turn + answer; 2-3 stretches, 1-2 cues, the answer (estimated, not yet measured)
    "assistant_backchannel": (2, 5, 26.0),
}


def mix_totals(recipe: Recipe) -> dict[str, float]:
    """Expected LLM requests, TTS utterances and seconds of audio of the whole run
    (its speech is about as long as its audio: overlaps offset the silences)."""
    from datagen.stages.plan import task_counts

    rounds = sum(recipe.multi_turn_rounds) / 2
    llm = tts = secs = 0.0
    for task, k in task_counts(recipe.mix, recipe.dialogues).items():
        r, t, s = PER_TASK[task]
        scale = rounds if task == "multi_turn" else 1
        llm, tts, secs = llm + k * r, tts + k * t * scale, secs + k * s * scale
    return {"llm_requests": llm, "tts_utterances": tts, "audio_s": secs}


def dialogue_costs(recipe: Recipe) -> dict[str, float]:
    """The same, per dialogue."""
    return {k: v / recipe.dialogues for k, v in mix_totals(recipe).items()}


def _stage_seconds(recipe: Recipe, stage, costs: dict[str, float]) -> tuple[float, str]:
    """One actor's busy seconds per dialogue in `stage`, and a note."""
    s, name = recipe.executor.sizing, stage.name
    if name == "text":
        backend = recipe.llm.backend
        if backend == "vllm":
            tokens = costs["llm_requests"] * s.llm_tokens_per_request
            return tokens / s.llm_tokens_per_s, f"{tokens:.0f} output tokens/dialogue"
        if backend == "openai_http":
            return 0.0, "LLM served outside the cluster"
        return costs["llm_requests"] * 0.001, "scripted text"
    if name == "speech":
        rtf = s.tts_rtf if stage.resources.num_gpus > 0 else s.cpu_tts_rtf
        return costs["audio_s"] * rtf, f"{costs['audio_s']:.0f} s of speech/dialogue"
    if name == "qc" and recipe.qc.asr != "none":
        return costs["audio_s"] * (s.cpu_rtf + s.asr_rtf), "ASR round trip"
    return costs["audio_s"] * s.cpu_rtf, ""


def plan_layout(recipe: Recipe, cluster: Cluster) -> Layout:
    """Actors per pool for `cluster` (module docstring)."""
    costs = dialogue_costs(recipe)
    stages = build_stages(recipe)
    pools: list[Pool] = []
    for i, (lo, hi, cpus, gpus) in enumerate(stage_groups(recipe)):
        parts = [_stage_seconds(recipe, st, costs) for st in stages[lo:hi]]
        names = "+".join(st.name for st in stages[lo:hi])
        notes = "; ".join(n for _, n in parts if n)
        pools.append(Pool(names, gpus, cpus, sum(t for t, _ in parts), note=notes, group=i))
    _give_gpus(pools, cluster.gpus)
    _give_cpus(pools, cluster.cpus)
    external = "openai_http" if recipe.llm.backend == "openai_http" else ""
    return Layout(cluster, pools, external, _text_phase(recipe, costs, cluster))


def _text_phase(recipe: Recipe, costs: dict[str, float], cluster: Cluster) -> Pool | None:
    """Ray Data LLM's engine replicas: `concurrency` of `tensor_parallel_size` GPUs each,
    with the cluster to themselves while the text phase runs (llm_phase.py)."""
    if not text_on_driver(recipe):
        return None
    o, s = recipe.llm.options, recipe.executor.sizing
    tokens = costs["llm_requests"] * s.llm_tokens_per_request
    tp = int(o.get("tensor_parallel_size", 1))
    fits = max(cluster.gpus // tp, 0)
    replicas = min(int(o.get("concurrency", 1)), fits)
    note = f"{tokens:.0f} tokens/dialogue; runs first, alone"
    if replicas < fits:
        note += f"; llm.options.concurrency={fits} would use every GPU"
    pool = Pool("llm (Ray Data LLM)", float(tp), 1.0, tokens / s.llm_tokens_per_s, note=note)
    pool.actors, pool.gpus = replicas, float(replicas * tp)
    return pool


def _give_gpus(pools: list[Pool], budget: float) -> None:
    gpu_pools = [p for p in pools if p.gpus_per_actor > 0]
    for p in gpu_pools:  # every pool gets its first unit, if the cluster has it
        if budget + 1e-9 >= p.unit_gpus:
            p.actors, p.gpus, budget = p.unit_actors, p.unit_gpus, budget - p.unit_gpus
    while gpu_pools:
        fits = [p for p in gpu_pools if p.unit_gpus <= budget + 1e-9 and p.actors > 0]
        if not fits:
            break
        slowest = min(fits, key=lambda p: (p.dialogues_per_hour, p.stages))
        slowest.actors += slowest.unit_actors
        slowest.gpus += slowest.unit_gpus
        budget -= slowest.unit_gpus


def _give_cpus(pools: list[Pool], cpus: int) -> None:
    """One CPU per GPU actor; the rest to the CPU pools by cost (at least one actor each)."""
    cpu_pools = [p for p in pools if p.gpus_per_actor == 0]
    left = cpus - sum(p.actors * p.cpus_per_actor for p in pools if p.gpus_per_actor > 0)
    left = max(int(left), len(cpu_pools))
    total = sum(p.seconds_per_dialogue for p in cpu_pools)
    for p in cpu_pools:
        share = p.seconds_per_dialogue / total if total > 0 else 1 / len(cpu_pools)
        p.actors = max(1, int(left * share / p.cpus_per_actor))


def pool_sizes(recipe: Recipe, resources: dict, workers: int | None = None) -> list[int]:
    """Actors per stage group for a running cluster (`ray.cluster_resources()`).

    Without GPUs every pool is a CPU pool and gets `workers` actors (default: all
    CPUs), as before. With GPUs the layout above decides; `workers`, when given,
    still caps the CPU pools."""
    groups = stage_groups(recipe)
    cpus = max(1, int(resources.get("CPU", 1)))
    gpus = int(resources.get("GPU", 0))
    if gpus == 0:
        return [workers or cpus for _ in groups]
    layout = plan_layout(recipe, Cluster(1, gpus, cpus))
    sizes = {p.group: p.actors for p in layout.pools if p.group is not None}
    out = []
    for i, (_, _, _, g) in enumerate(groups):
        n = max(1, sizes[i])
        out.append(min(n, workers) if (g == 0 and workers) else n)
    return out


def describe_layout(layout: Layout) -> str:
    """The dry run's cluster section: pools, actors, expected throughput, bottleneck."""
    lines = [f"cluster {layout.cluster}: {layout.cluster.gpus} GPUs, {layout.cluster.cpus} CPUs"]
    if layout.text_phase is not None:
        lines.append("phase 1, the text of every shard (Ray Data LLM, one job per LLM round):")
        lines.append(_pool_line(layout.text_phase))
        lines.append("phase 2, the other stages, streaming shards between pools:")
    lines += [_pool_line(p) for p in layout.pools]
    if any(p.gpus_per_actor > 0 and p.actors == 0 for p in layout.pools):
        lines.append("  not enough GPUs for every GPU pool: the run would stall")
    b = layout.bottleneck
    lines.append(
        f"bottleneck: {b.stages} (~{b.dialogues_per_hour:,.0f} dialogues/h; estimates from "
        "executor.sizing, measure yours with bench/gpu_smoke.sh)"
    )
    if layout.llm_external:
        lines.append("the LLM is an external server (openai_http): size it to keep up with the bottleneck")
    return "\n".join(lines)


def _pool_line(p: Pool) -> str:
    where = (
        f"{p.actors} actor(s) x {p.gpus_per_actor:g} GPU ({p.gpus:g} GPUs, {p.per_gpu} per GPU)"
        if p.gpus_per_actor > 0
        else f"{p.actors} actor(s) x {p.cpus_per_actor:g} CPU"
    )
    rate = "n/a" if math.isinf(p.dialogues_per_hour) else f"~{p.dialogues_per_hour:,.0f} dialogues/h"
    return f"  {p.stages:<22} {where:<44} {rate}" + (f"  ({p.note})" if p.note else "")
