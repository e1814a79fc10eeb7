"""Run every pending shard in this process: for debugging, tests and tiny runs."""

from __future__ import annotations

from collections.abc import Iterator

from datagen.config import Recipe
from datagen.executors.shards import RunPaths, ShardState, commit_shard, run_stages
from datagen.stages import build_stages


def iter_local(recipe: Recipe, paths: RunPaths, pending: list[ShardState]) -> Iterator[tuple[int, dict]]:
    stages = build_stages(recipe)
    for state in pending:
        yield state.index, commit_shard(paths, run_stages(stages, state))
