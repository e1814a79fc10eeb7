"""Shards: the unit of work, of resume and of output.

A run's plans are cut into fixed-size shards (the cut depends only on the
recipe). Each shard runs through every stage, then is committed: its Shar
files, rejects, index and counters are written into a temp folder that is
renamed into `_work/shards/NNNNNN` — the rename is the completion marker, so
a killed run leaves no half shard that looks whole. `finalize` then moves
the Shar files into `shar/` and rebuilds `rejects.jsonl`, `index.jsonl` and
`stats.json` from every committed shard; it is idempotent.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datagen.io.atomic import read_jsonl, replace_dir, write_json, write_jsonl
from datagen.io.shar import index_row, reject_row, write_samples
from datagen.records import DialoguePlan, Reject
from datagen.stages.base import Stage


@dataclass
class ShardState:
    """A shard travelling through the stages: live items, rejects, counters."""

    index: int
    items: list[Any]
    rejects: list[Reject] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)


class RunPaths:
    def __init__(self, out: Path):
        self.out = out
        self.work = out / "_work"
        self.shards = self.work / "shards"
        self.shar = out / "shar"

    def shard_dir(self, k: int) -> Path:
        return self.shards / f"{k:06d}"

    def is_done(self, k: int) -> bool:
        return (self.shard_dir(k) / "stats.json").is_file()


def cut_shards(plans: list[DialoguePlan], size: int) -> list[ShardState]:
    return [ShardState(k, plans[i : i + size]) for k, i in enumerate(range(0, len(plans), size))]


def run_stages(stages: list[Stage], state: ShardState) -> ShardState:
    """Run a shard through `stages`; each stage's busy time adds to `seconds_<stage>`
    (summed over shards in stats.json: the actor-seconds a dialogue costs in each
    stage, which is what executor.sizing wants measured; bench/gpu_smoke.sh prints it)."""
    for stage in stages:
        t = time.perf_counter()
        res = stage.process(state.items)
        state.items = res.items
        state.rejects += res.rejects
        state.counters.update(res.counters)
        state.counters[f"seconds_{stage.name}"] += round(time.perf_counter() - t, 3)
    return state


def commit_shard(paths: RunPaths, state: ShardState) -> dict:
    """Write a finished shard atomically; returns its counters."""
    final = paths.shard_dir(state.index)
    tmp = paths.shards / f".tmp-{state.index:06d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    files = write_samples(state.items, tmp, state.index)
    write_jsonl(tmp / "index.jsonl", (index_row(s, state.index) for s in state.items))
    write_jsonl(tmp / "rejects.jsonl", (reject_row(r) for r in state.rejects))
    counters = dict(state.counters)
    counters["kept"] = len(state.items)
    counters["rejected"] = len(state.rejects)
    write_json(tmp / "stats.json", {"counters": counters, "shar_files": files})
    replace_dir(tmp, final)
    return counters


def finalize(paths: RunPaths, n_shards: int, driver: dict) -> dict:
    """Gather committed shards into shar/, rejects.jsonl, index.jsonl, stats.json."""
    paths.shar.mkdir(parents=True, exist_ok=True)
    totals: Counter = Counter()
    rejects = list(driver.get("rejects", []))
    index: list[dict] = []
    done = 0
    for k in range(n_shards):
        d = paths.shard_dir(k)
        if not paths.is_done(k):
            continue
        done += 1
        meta = json.loads((d / "stats.json").read_text())
        for name in meta["shar_files"]:
            if (d / name).exists():
                (d / name).replace(paths.shar / name)
        totals.update(meta["counters"])
        rejects += read_jsonl(d / "rejects.jsonl")
        index += read_jsonl(d / "index.jsonl")
    rejects.sort(key=lambda r: (r["id"], r["stage"]))
    write_jsonl(paths.out / "rejects.jsonl", rejects)
    write_jsonl(paths.out / "index.jsonl", index)
    stats = {
        "recipe": driver["recipe"],
        "shards": n_shards,
        "shards_done": done,
        "complete": done == n_shards,
        "questions_loaded": driver["questions_loaded"],
        "questions_rejected": driver["questions_rejected"],
        "planned": driver["planned"],
        "questions_reused": driver.get("questions_reused", 0),
        "kept": totals.get("kept", 0),
        "rejected": totals.get("rejected", 0),
        "hours": round(sum(r["duration"] for r in index) / 3600, 4),
        "tasks": dict(sorted(Counter(r["task"] for r in index).items())),
        "rejects_by_reason": dict(sorted(Counter(r["reason"] for r in rejects).items())),
        "counters": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in sorted(totals.items())},
    }
    write_json(paths.out / "stats.json", stats)
    return stats
