"""The Ray executor's two drivers (plain actors on a CPU box, Ray Data pools where
pools stream into each other) make the same corpus as the local executor, and the
timeline each run leaves shows every shard once, on one of `workers` actors."""

from __future__ import annotations

import json

from e2e_support import ROOT, same_corpus_as, small_recipe

from datagen.config import load_recipe
from datagen.executors.ray_exec import use_ray_data
from datagen.executors.runner import run
from datagen.executors.sizing import stage_groups


def _timeline(out) -> list[dict]:
    lines = (out / "_work" / "ray_timeline.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines[1:]]  # the first line is the run's start


def test_plain_actors_on_a_cpu_box_ray_data_where_pools_stream(monkeypatch):
    tiny = load_recipe(ROOT / "recipes" / "tiny.yaml")
    assert not use_ray_data(tiny, stage_groups(tiny))
    omni = load_recipe(ROOT / "recipes" / "salmonn_omni.yaml")  # GPU pools for the LLM and the TTS
    assert use_ray_data(omni, stage_groups(omni))
    monkeypatch.setenv("DATAGEN_RAY_DATA", "1")
    assert use_ray_data(tiny, stage_groups(tiny))


def test_ray_data_path_matches_local_and_keeps_a_timeline(local_corpus, tmp_path, ray_tmp, monkeypatch):
    """The GPU clusters' driver, run on CPUs: the same bytes as the local executor."""
    monkeypatch.setenv("DATAGEN_RAY_DATA", "1")
    out = tmp_path / "ray-data"
    stats = run(small_recipe(), out=str(out), executor="ray", workers=2, quiet=True)
    assert stats["complete"]
    same_corpus_as(local_corpus, out)
    rows = _timeline(out)
    assert sorted(r["index"] for r in rows) == list(range(stats["shards"]))
    assert len({r["pid"] for r in rows}) <= 2
    assert all(r["born"] <= r["start"] <= r["end"] <= r["seen"] for r in rows)
    assert all(0 < r["cpu"] for r in rows)


def test_plain_actors_share_the_shards_and_never_overlap_on_one_actor(tmp_path, ray_tmp):
    out = tmp_path / "actors"
    stats = run(small_recipe(), out=str(out), executor="ray", workers=2, quiet=True)
    rows = _timeline(out)
    assert sorted(r["index"] for r in rows) == list(range(stats["shards"]))
    by_pid: dict[int, list[dict]] = {}
    for r in rows:
        by_pid.setdefault(r["pid"], []).append(r)
    assert len(by_pid) == 2  # both actors worked: 3 shards, 2 workers
    for shards in by_pid.values():  # one shard at a time per actor, handed out as the last one ends
        shards.sort(key=lambda r: r["start"])
        assert all(p["end"] <= n["start"] for p, n in zip(shards, shards[1:], strict=False))


def test_idle_breakdown_splits_each_workers_wall_time(tmp_path):
    from bench.timeline import idle_breakdown

    rows = [
        {"run_start": 100.0},
        {"index": 0, "pid": 1, "born": 101.0, "start": 102.0, "end": 110.0, "seen": 110.1, "cpu": 7.0},
        {"index": 1, "pid": 2, "born": 101.0, "start": 104.0, "end": 111.0, "seen": 111.1, "cpu": 6.5},
        {"index": 2, "pid": 1, "born": 101.0, "start": 110.5, "end": 118.0, "seen": 118.1, "cpu": 7.5},
    ]
    (tmp_path / "_work").mkdir()
    (tmp_path / "_work" / "ray_timeline.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = idle_breakdown(tmp_path, t0=100.0, t1=120.0)
    assert got == {
        "workers": 2,
        "shards": 3,
        "busy_s": 22.5,
        "busy_cpu_s": 21.0,
        "idle_before_first_shard_s": 6.0,  # 2 s + 4 s
        "idle_between_shards_s": 0.5,
        "idle_after_last_shard_s": 11.0,  # 2 s + 9 s: worker 2's tail
    }
