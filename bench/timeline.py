"""Where a Ray run's worker time went, from the run's `_work/ray_timeline.jsonl`.

The Ray executor writes one line per committed shard: the actor's pid, when
the actor was built, when the shard started and ended (datagen/executors/
ray_exec.py). Against the run's own clock (t0, t1) that splits each worker's
wall time into busy, idle before its first shard (actor start-up: process,
imports), idle between shards (dispatch) and idle after its last shard (the
tail, while another worker finishes). A 2-worker run that scales below 2x
shows here which of these it lost to; model loads are inside the first
shard's busy time. Busy CPU seconds against busy seconds say how much of
the busy time a worker actually had a core (another process on the box, or
Ray's own, took the rest).
"""

from __future__ import annotations

import json
from pathlib import Path


def idle_breakdown(out: Path, t0: float, t1: float) -> dict:
    """Seconds, summed over workers; `t0`, `t1`: the run's start and end (time.time())."""
    lines = (Path(out) / "_work" / "ray_timeline.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines[1:]]
    by_pid: dict[int, list[dict]] = {}
    for r in rows:
        by_pid.setdefault(r["pid"], []).append(r)
    before = after = gaps = busy = cpu = 0.0
    for shards in by_pid.values():
        shards.sort(key=lambda r: r["start"])
        busy += sum(r["end"] - r["start"] for r in shards)
        cpu += sum(r.get("cpu", 0.0) for r in shards)
        before += shards[0]["start"] - t0
        after += t1 - shards[-1]["end"]
        gaps += sum(n["start"] - p["end"] for p, n in zip(shards, shards[1:], strict=False))
    return {
        "workers": len(by_pid),
        "shards": len(rows),
        "busy_s": round(busy, 2),
        "busy_cpu_s": round(cpu, 2),  # well below busy_s: the workers waited for a core
        "idle_before_first_shard_s": round(before, 2),
        "idle_between_shards_s": round(gaps, 2),
        "idle_after_last_shard_s": round(after, 2),
    }
