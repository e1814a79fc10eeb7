"""Run pending shards on Ray Data.

Each row of the dataset is one shard (pickled records, our own process-to-
process traffic). Consecutive stages with the same resource needs are fused
into one `map_batches` actor pool: on a CPU box that is one pool doing all
the work; on a GPU cluster the LLM stage, the TTS stage (fractional GPUs,
several actors per GPU) and the CPU stages become separate pools that
stream into each other, sized by datagen/executors/sizing.py. With Ray Data
LLM the text stage is not a pool: the driver runs it first for every shard
(datagen/executors/llm_phase.py). The last pool commits the shard itself, so
only small counters travel back to the driver. Stages never import Ray.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

from datagen.config import Recipe
from datagen.executors.llm_phase import forget_text, text_phase
from datagen.executors.shards import RunPaths, ShardState, commit_shard, run_stages
from datagen.executors.sizing import pool_sizes, stage_groups, text_on_driver
from datagen.stages import build_stages


class _StageGroup:
    """A Ray Data actor: runs stages [lo, hi) of the pipeline on each shard row."""

    def __init__(self, recipe: Recipe, lo: int, hi: int, out: str, last: bool):
        self.stages = build_stages(recipe)[lo:hi]
        self.paths = RunPaths(Path(out))
        self.last = last

    def __call__(self, batch: dict) -> dict:
        import json

        payloads, results = [], []
        for blob in batch["payload"]:
            state: ShardState = pickle.loads(blob)
            state = run_stages(self.stages, state)
            if self.last:
                counters = commit_shard(self.paths, state)
                payloads.append(b"")
                results.append(json.dumps({"index": state.index, "counters": counters}))
            else:
                payloads.append(pickle.dumps(state))
                results.append("")
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


def iter_ray(
    recipe: Recipe, paths: RunPaths, pending: list[ShardState], workers: int | None, quiet: bool = False
) -> Iterator[tuple[int, dict]]:
    import json

    import ray

    init_ray(recipe, workers)
    if text_on_driver(recipe):  # Ray Data LLM: the text of every shard first (llm_phase.py)
        pending = text_phase(recipe, paths, pending, quiet)
    sizes = pool_sizes(recipe, ray.cluster_resources(), workers)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # our per-shard lines are the progress
    rows = [{"shard": s.index, "payload": pickle.dumps(s), "result": ""} for s in pending]
    ds = ray.data.from_items(rows, override_num_blocks=max(len(rows), 1))
    groups = stage_groups(recipe)
    for n, (lo, hi, cpus, gpus) in enumerate(groups):
        last = n == len(groups) - 1
        # CPU-only: every pool grows to `workers`; with GPUs, sizing.py splits them
        # between the GPU pools (the same layout `--dry-run --cluster` prints).
        pool = sizes[n]
        with warnings.catch_warnings():
            # ray_remote_args_fn is deprecated after 2.60 (we pin 2.60.0) and has no named
            # replacement for max_restarts; without it Ray logs a restart warning per actor.
            warnings.simplefilter("ignore")
            ds = ds.map_batches(
                _StageGroup,
                fn_constructor_args=(recipe, lo, hi, str(paths.out), last),
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pool),
                num_cpus=cpus,
                num_gpus=gpus,
                batch_format="numpy",
                # a failed shard is redone by the next run (resume), not by Ray
                ray_remote_args_fn=lambda: {"max_restarts": 0},
            )
    logging.getLogger("ray.data").setLevel(
        logging.WARNING if os.environ.get("DATAGEN_RAY_VERBOSE") else logging.ERROR
    )
    for row in ds.iter_rows():
        res = json.loads(row["result"])
        yield res["index"], res["counters"]
    forget_text(paths)  # every pending shard is committed
