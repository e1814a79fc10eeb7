"""The text of a Ray run whose LLM is Ray Data LLM: one batch job per LLM round, for all shards.

Why not an actor pool like the other stages: Ray Data LLM is a batch
processor that owns its engines. Called from a pool actor once per shard
(how this ran before), it started a new Ray Data job, and with it new vLLM
engines and a new model load, for every shard, from inside actors that held
the CPUs those engines needed. And it cannot be one more `map_batches` of
the shard dataset either: a dialogue's text takes up to three rounds, each
built from the last one's answers (an answer, a related question about it,
that question's answer).

So the driver runs the text stage for every pending shard at once
(`TextStage.process_many`): the processor is built once per run, each round
is ONE Ray Data job over every request of every shard, with
`llm.options.concurrency` engine replicas that have the cluster to
themselves (the pools of the other stages do not exist yet). Then the
shards, their text done, stream through the other stages' pools. The LLM
phase and the voice phase each get every GPU in turn; `--dry-run --cluster`
shows both (datagen/executors/sizing.py).

Resume: each shard's text is kept in `_work/text/` as soon as the phase
ends, so a run killed while voicing never asks the LLM again for it; the
shard itself is still committed whole, by the last pool, as before.
"""

from __future__ import annotations

import pickle
import shutil
import sys
import time

from datagen.config import Recipe
from datagen.executors.shards import RunPaths, ShardState
from datagen.io.atomic import write_bytes


def _cached(paths: RunPaths, index: int):
    return paths.work / "text" / f"{index:06d}.pkl"


def text_phase(recipe: Recipe, paths: RunPaths, pending: list[ShardState], quiet: bool = False) -> list:
    """The pending shards with the text stage applied (from the cache where it was)."""
    from datagen.stages.text import TextStage

    done, todo = {}, []
    for s in pending:
        f = _cached(paths, s.index)
        if f.is_file():
            done[s.index] = pickle.loads(f.read_bytes())
        else:
            todo.append(s)
    if todo:
        n = sum(len(s.items) for s in todo)
        if not quiet:
            msg = f"text: {n} dialogues of {len(todo)} shards through Ray Data LLM, one job per round"
            print(msg, file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        outs = TextStage(recipe).process_many([s.items for s in todo])
        each = round((time.perf_counter() - t0) / len(todo), 3)
        for s, out in zip(todo, outs, strict=True):
            s.items = out.items
            s.rejects += out.rejects
            s.counters.update(out.counters)
            s.counters["seconds_text"] += each  # the phase's wall time, shared evenly
            write_bytes(_cached(paths, s.index), pickle.dumps(s))
            done[s.index] = s
    return [done[s.index] for s in pending]


def forget_text(paths: RunPaths) -> None:
    """Drop the kept text once every shard that needed it is committed."""
    shutil.rmtree(paths.work / "text", ignore_errors=True)
