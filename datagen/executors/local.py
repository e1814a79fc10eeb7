"""Run every pending shard in this process: for debugging, tests and tiny runs.

The stages run as a pipeline, one thread per stage with a one-shard queue
between neighbours: while the speech stage voices shard k+1, QC and compose
work on shard k and this thread writes shard k-1. The heavy work of every
stage (onnxruntime, torch, espeak-ng subprocesses, numpy, libsndfile)
releases the GIL, so on a multi-core machine mixing and encoding overlap
synthesis instead of waiting for it. Each stage object is used by its own
thread only and sees the shards in order, so the bytes are the same as
running the shards one after another (tests/executors/test_local.py).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from datagen.config import Recipe
from datagen.executors.shards import RunPaths, ShardState, commit_shard, run_stages
from datagen.stages import build_stages
from datagen.stages.base import Stage

_DONE = object()  # end of the shard stream
_POLL_S = 0.2  # how often a blocked thread checks whether the run was abandoned


class _Failed:
    """An exception raised in a stage thread, carried downstream to the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def iter_local(recipe: Recipe, paths: RunPaths, pending: list[ShardState]) -> Iterator[tuple[int, dict]]:
    stages = build_stages(recipe)
    if len(pending) < 2 or len(stages) < 2:  # nothing to overlap
        for state in pending:
            yield state.index, commit_shard(paths, run_stages(stages, state))
        return
    yield from _pipelined(stages, paths, pending)


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Block until `item` is queued; False if the run was abandoned meanwhile."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    while not stop.is_set():
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue
    return _DONE


def _stage_loop(stage: Stage, inbox: queue.Queue, outbox: queue.Queue, stop: threading.Event) -> None:
    while True:
        item = _get(inbox, stop)
        if item is not _DONE and not isinstance(item, _Failed):
            try:
                item = run_stages([stage], item)
            except BaseException as e:  # handed to the consumer, which re-raises it
                item = _Failed(e)
        if not _put(outbox, item, stop) or item is _DONE or isinstance(item, _Failed):
            return


def _pipelined(stages: list[Stage], paths: RunPaths, pending: list[ShardState]) -> Iterator[tuple[int, dict]]:
    stop = threading.Event()
    queues = [queue.Queue(maxsize=1) for _ in range(len(stages) + 1)]
    threads = [
        threading.Thread(
            target=_stage_loop,
            args=(st, queues[i], queues[i + 1], stop),
            name=f"stage-{st.name}",
            daemon=True,
        )
        for i, st in enumerate(stages)
    ]

    def feed() -> None:
        for state in pending:
            if not _put(queues[0], state, stop):
                return
        _put(queues[0], _DONE, stop)

    threads.append(threading.Thread(target=feed, name="stage-feed", daemon=True))
    for t in threads:
        t.start()
    try:
        while True:
            item = _get(queues[-1], stop)
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item.index, commit_shard(paths, item)
    finally:
        stop.set()
        for t in threads:
            t.join()
