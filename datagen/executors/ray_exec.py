"""Run pending shards on Ray.

Each shard is one unit of work (pickled records, our own process-to-process
traffic). Consecutive stages with the same resource needs are fused into
one actor pool (`sizing.stage_groups`). Two ways to drive the pools:

* a CPU box (one pool, no GPUs): plain Ray actors, one per worker, each
  handed its next shard only when it finishes the last (`_iter_actors`).
  Measured on the 2-core bench (issue #11): Ray Data's streaming executor
  started the second actor seconds after the first (autoscaling from
  min_size=1), queued two shards per actor up front (so a fast actor sat idle
  while a slow one still held a shard), and its helper actors (stats,
  autoscaling coordinator, location tracker) and the driver's scheduling loop
  took CPU from the two workers. None of its streaming is needed when there
  is one pool.
* a GPU cluster, or Ray Data LLM: the LLM stage, the TTS stage (fractional
  GPUs, several actors per GPU) and the CPU stages become separate Ray Data
  `map_batches` pools that stream into each other, sized by
  datagen/executors/sizing.py (`_iter_ray_data`). With Ray Data LLM the text
  stage is not a pool: the driver runs it first for every shard
  (datagen/executors/llm_phase.py).

Either way the last pool commits the shard itself, so only small counters
travel back to the driver, and each committed shard adds one line to
`_work/ray_timeline.jsonl` (actor pid, when the actor was built, when the
shard started and ended, its CPU seconds): where a run's worker time went, for `bench/`.
Stages never import Ray.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from datagen.config import Recipe
from datagen.executors.faults import actor_retry_loop, pool_fault_args
from datagen.executors.llm_phase import forget_text, text_phase
from datagen.executors.shards import RunPaths, ShardState, commit_shard, run_paths, run_stages
from datagen.executors.sizing import pool_sizes, stage_groups, text_on_driver
from datagen.io.store import store_env
from datagen.stages import build_stages


class _StageGroup:
    """An actor: runs stages [lo, hi) of the pipeline on one shard at a time."""

    def __init__(self, recipe: Recipe, lo: int, hi: int, out: str, last: bool):
        self.born = time.time()
        self.stages = build_stages(recipe)[lo:hi]
        self.paths = run_paths(out)
        self.last = last

    def run_shard(self, blob: bytes) -> tuple[bytes, str]:
        """The shard after this group's stages: pickled for the next pool, or, in the
        last pool, committed here and summarised as JSON (index, counters, timing)."""
        start, cpu = time.time(), time.process_time()
        state: ShardState = pickle.loads(blob)
        state = run_stages(self.stages, state)
        if not self.last:
            return pickle.dumps(state), ""
        counters = commit_shard(self.paths, state)
        # cpu: this actor's CPU seconds on the shard; well below end - start, it waited for a core
        cpu = round(time.process_time() - cpu, 3)
        timing = {"pid": os.getpid(), "born": self.born, "start": start, "end": time.time(), "cpu": cpu}
        return b"", json.dumps({"index": state.index, "counters": counters, "timing": timing})

    def __call__(self, batch: dict) -> dict:
        """Ray Data's entry point (map_batches, batch_size=1)."""
        payloads, results = [], []
        for blob in batch["payload"]:
            payload, result = self.run_shard(blob)
            payloads.append(payload)
            results.append(result)
        return {"shard": batch["shard"], "payload": payloads, "result": results}


def init_ray(recipe: Recipe, workers: int | None) -> None:
    import ray

    if ray.is_initialized():
        return
    address = recipe.executor.address or os.environ.get("RAY_ADDRESS")
    quiet = {"log_to_driver": False, "configure_logging": True, "logging_level": "ERROR"}
    if address:
        ray.init(address=address, **quiet)
        return
    tmp = Path(os.environ.get("DATAGEN_RAY_TMP", Path(tempfile.gettempdir()) / "datagen-ray"))
    ray.init(num_cpus=workers, include_dashboard=False, _temp_dir=str(tmp), **quiet)


def use_ray_data(recipe: Recipe, groups: list[tuple[int, int, float, float]]) -> bool:
    """Ray Data's streaming pools where there is something to stream between (several
    pools, GPUs) or Ray Data LLM; plain actors for one CPU pool. DATAGEN_RAY_DATA=1
    forces Ray Data, so its path can be exercised (and compared) on a CPU box."""
    if os.environ.get("DATAGEN_RAY_DATA") == "1" or text_on_driver(recipe):
        return True
    return len(groups) > 1 or any(gpus > 0 for *_, gpus in groups)


def iter_ray(
    recipe: Recipe,
    paths: RunPaths,
    pending: list[ShardState],
    workers: int | None,
    quiet: bool = False,
    failed: list[dict] | None = None,
) -> Iterator[tuple[int, dict]]:
    """Committed shards as they come; a shard that failed every try is appended to
    `failed` (with the reason) instead, and the run goes on."""
    import ray

    failed = [] if failed is None else failed

    init_ray(recipe, workers)
    if text_on_driver(recipe):  # Ray Data LLM: the text of every shard first (llm_phase.py)
        pending = text_phase(recipe, paths, pending, quiet)
    sizes = pool_sizes(recipe, ray.cluster_resources(), workers)
    groups = stage_groups(recipe)
    if use_ray_data(recipe, groups):
        results = _iter_ray_data(recipe, paths, pending, groups, sizes, failed)
    else:
        (lo, hi, cpus, _), pool = groups[0], sizes[0]
        results = _iter_actors(recipe, paths, pending, lo, hi, cpus, pool, failed, quiet)
    paths.work.mkdir(parents=True, exist_ok=True)
    with open(paths.work / "ray_timeline.jsonl", "w", encoding="utf-8") as timeline:
        timeline.write(json.dumps({"run_start": time.time()}) + "\n")
        for res in results:
            timeline.write(json.dumps({"index": res["index"], **res["timing"], "seen": time.time()}) + "\n")
            timeline.flush()
            yield res["index"], res["counters"]
    if not failed:
        forget_text(paths)  # every pending shard is committed


def _worker_options(paths: RunPaths) -> dict:
    """A store's credentials and endpoint travel to the workers: on a cluster they do
    not inherit the driver's environment."""
    env = store_env() if paths.remote else {}
    return {"runtime_env": {"env_vars": env}} if env else {}


def _iter_actors(
    recipe: Recipe,
    paths: RunPaths,
    pending: list[ShardState],
    lo: int,
    hi: int,
    cpus: float,
    pool: int,
    failed: list[dict],
    quiet: bool = False,
) -> Iterator[dict]:
    """One CPU pool of plain actors, all created at once; each actor gets its next
    shard when it returns the last one, so no shard waits behind a busy actor
    while another is free (the tail of a run is at most one shard long). A lost
    actor (its node died) or an OS error is retried on the actors left
    (faults.actor_retry_loop), up to `executor.max_tries`."""
    import ray

    # Ray does not restart actors: the loop replaces a lost actor's shard itself
    actor_cls = ray.remote(_StageGroup).options(num_cpus=cpus, max_restarts=0, **_worker_options(paths))

    def new_actor():
        return actor_cls.remote(recipe, lo, hi, paths.out if paths.remote else str(paths.out), True)

    # Plan order, not longest first: on the 64-dialogue bench corpus sizing.PER_TASK's
    # per-task audio figures did not rank shards by their measured time (shards of 8
    # mixed dialogues took 9-12 s each, uncorrelated with the estimate), so the tail
    # is kept short by handing out one shard at a time instead.
    n = max(1, min(pool, len(pending)))
    yield from actor_retry_loop(
        pending,
        new_actor,
        n,
        lambda actor, state: actor.run_shard.remote(pickle.dumps(state)),
        paths,
        recipe.executor.max_tries,
        failed,
        quiet,
        recipe.executor.node_wait_s,
    )


def _iter_ray_data(
    recipe: Recipe,
    paths: RunPaths,
    pending: list[ShardState],
    groups: list[tuple[int, int, float, float]],
    sizes: list[int],
    failed: list[dict],
) -> Iterator[dict]:
    """Ray Data `map_batches` actor pools, one row per shard, streaming into each other.
    A lost actor is restarted and its shard retried by Ray Data itself
    (faults.pool_fault_args); a shard still failing after its tries is dropped from
    the stream, recorded in `failed`, and the run goes on."""
    import ray

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # our per-shard lines are the progress
    tries = recipe.executor.max_tries
    fault_args = pool_fault_args(ctx, tries)
    rows = [{"shard": s.index, "payload": pickle.dumps(s), "result": ""} for s in pending]
    ds = ray.data.from_items(rows, override_num_blocks=max(len(rows), 1))
    for n, (lo, hi, cpus, gpus) in enumerate(groups):
        last = n == len(groups) - 1
        # CPU-only: every pool grows to `workers`; with GPUs, sizing.py splits them
        # between the GPU pools (the same layout `--dry-run --cluster` prints).
        pool = sizes[n]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = ds.map_batches(
                _StageGroup,
                fn_constructor_args=(recipe, lo, hi, str(paths.out), last),
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pool),
                num_cpus=cpus,
                num_gpus=gpus,
                batch_format="numpy",
                **fault_args,
                **_worker_options(paths),
            )
    logging.getLogger("ray.data").setLevel(
        logging.WARNING if os.environ.get("DATAGEN_RAY_VERBOSE") else logging.ERROR
    )
    seen = set()
    for row in ds.iter_rows():
        res = json.loads(row["result"])
        seen.add(res["index"])
        yield res
    for s in pending:
        if s.index not in seen and not paths.is_done(s.index):
            reason = f"dropped by the Ray Data pools after {tries} tries (the Ray logs say why)"
            failed.append({"shard": s.index, "tries": tries, "reason": reason})
