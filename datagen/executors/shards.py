"""Shards: the unit of work, of resume and of output.

A run's plans are cut into fixed-size shards (the cut depends only on the
recipe). Each shard runs through every stage, then is committed: its Shar
files, rejects, index and counters are written into a temp folder that is
renamed into `_work/shards/NNNNNN` — the rename is the completion marker, so
a killed run leaves no half shard that looks whole. `finalize` then moves
the Shar files into `shar/` and rebuilds `rejects.jsonl`, `index.jsonl` and
`stats.json` from every committed shard; it is idempotent.

On an object store (no rename) the same files are uploaded under
`_work/shards/NNNNNN/` and the shard exists when `_work/done/NNNNNN.json` does,
written last (datagen/executors/store_shards.py).
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datagen.io.atomic import (
    json_text,
    jsonl_text,
    read_jsonl,
    replace_dir,
    write_json,
    write_jsonl,
    write_text,
)
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
    """A run in a local folder: a shard is committed by renaming its temp folder.

    The object-store twin (store_shards.StoreRunPaths) has the same methods; the
    driver and the workers call only these, so neither knows where the corpus is."""

    remote = False

    def __init__(self, out: Path):
        self.out = out
        self.work = out / "_work"
        self.shards = self.work / "shards"
        self.shar = out / "shar"

    @property
    def label(self) -> str:
        return str(self.out)

    def shard_dir(self, k: int) -> Path:
        return self.shards / f"{k:06d}"

    def is_done(self, k: int) -> bool:
        return (self.shard_dir(k) / "stats.json").is_file()

    def done_indices(self) -> set[int]:
        found = self.shards.glob("[0-9]*/stats.json") if self.shards.is_dir() else []
        return {int(p.parent.name) for p in found}

    def read_text(self, rel: str) -> str | None:
        p = self.out / rel
        return p.read_text(encoding="utf-8") if p.is_file() else None

    def write_text(self, rel: str, text: str) -> None:
        write_text(self.out / rel, text)

    def clear(self) -> None:
        """--fresh: forget every shard and the published corpus."""
        for sub in ("_work", "shar"):
            shutil.rmtree(self.out / sub, ignore_errors=True)

    @contextmanager
    def staging(self, k: int) -> Iterator[Path]:
        tmp = self.shards / f".tmp-{k:06d}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        yield tmp

    def publish(self, tmp: Path, k: int) -> None:
        replace_dir(tmp, self.shard_dir(k))  # the rename is the completion marker

    def shard_meta(self, k: int) -> dict:
        return json.loads((self.shard_dir(k) / "stats.json").read_text())

    def shard_rows(self, k: int, name: str) -> list[dict]:
        return read_jsonl(self.shard_dir(k) / name)

    def publish_shar(self, k: int, names: list[str]) -> None:
        self.shar.mkdir(parents=True, exist_ok=True)
        d = self.shard_dir(k)
        for name in names:
            if (d / name).exists():
                (d / name).replace(self.shar / name)

    def sweep(self, done: set[int]) -> None:
        """Nothing to sweep: a killed commit leaves only a `.tmp-` folder, redone in place."""


def run_paths(out: str | Path) -> RunPaths:
    """The run's paths for a local folder or, for a URL, an object store."""
    from datagen.io.store import is_url

    if is_url(str(out)):
        from datagen.executors.store_shards import StoreRunPaths

        return StoreRunPaths(str(out))
    return RunPaths(Path(out))


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
    """Write a finished shard and commit it (a rename, or a marker written last);
    returns its counters."""
    with paths.staging(state.index) as tmp:
        files = write_samples(state.items, tmp, state.index)
        write_jsonl(tmp / "index.jsonl", (index_row(s, state.index) for s in state.items))
        write_jsonl(tmp / "rejects.jsonl", (reject_row(r) for r in state.rejects))
        counters = dict(state.counters)
        counters["kept"] = len(state.items)
        counters["rejected"] = len(state.rejects)
        write_json(tmp / "stats.json", {"counters": counters, "shar_files": files})
        paths.publish(tmp, state.index)
    return counters


def finalize(paths: RunPaths, n_shards: int, driver: dict) -> dict:
    """Gather committed shards into shar/, rejects.jsonl, index.jsonl, stats.json."""
    if not paths.remote:
        paths.shar.mkdir(parents=True, exist_ok=True)
    totals: Counter = Counter()
    rejects = list(driver.get("rejects", []))
    index: list[dict] = []
    committed = paths.done_indices()
    done = 0
    for k in range(n_shards):
        if k not in committed:
            continue
        done += 1
        meta = paths.shard_meta(k)
        paths.publish_shar(k, meta["shar_files"])
        totals.update(meta["counters"])
        rejects += paths.shard_rows(k, "rejects.jsonl")
        index += paths.shard_rows(k, "index.jsonl")
    paths.sweep(committed)
    rejects.sort(key=lambda r: (r["id"], r["stage"]))
    paths.write_text("rejects.jsonl", jsonl_text(rejects))
    paths.write_text("index.jsonl", jsonl_text(index))
    stats = {
        "recipe": driver["recipe"],
        "shards": n_shards,
        "shards_done": done,
        "complete": done == n_shards,
        **({"failed_shards": driver["failed_shards"]} if driver.get("failed_shards") else {}),
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
    paths.write_text("stats.json", json_text(stats))
    return stats
