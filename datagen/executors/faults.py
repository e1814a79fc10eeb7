"""What a Ray run does when the cluster takes a worker, a node or a disk away.

A shard is retried when its try was lost, not when it is wrong:

* lost: the actor or worker process died (its node was preempted or killed,
  the OOM killer), or its object went with the node: `RayActorError`,
  `WorkerCrashedError`, `NodeDiedError`, `ObjectLostError`, `OutOfMemoryError`;
* an OS error raised by the shard (a full disk on one node, the object store
  unreachable for a moment): `OSError`, which Ray re-raises as a
  `RayTaskError` that is also an `OSError`.

Any other exception is a bug or a bad recipe that another try cannot fix: it
ends the run as before (finished shards are kept; rerun to resume). A shard
is tried at most `executor.max_tries` times; after that it is recorded as
failed, with the reason, in stats.json (`failed_shards`), and the other
shards go on. A rerun of the same command tries it again.

A shard committed just before its node died (its marker or folder is there)
is not redone: the driver reads its counters instead.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator


def lost_errors() -> tuple[type[BaseException], ...]:
    import ray.exceptions as rx

    lost = (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError, rx.ObjectLostError)
    return lost + (rx.OutOfMemoryError,)


def retryable(e: BaseException) -> bool:
    return isinstance(e, lost_errors()) or isinstance(e, OSError)


def reason_of(e: BaseException) -> str:
    lines = [line for line in str(e).splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[-1] if lines else ''}"[:500]


def pool_fault_args(ctx, max_tries: int) -> dict:
    """Ray Data's share of the same guarantee, for its actor pools: a dead actor is
    restarted (where the cluster has room), its shard retried up to `max_tries` in
    all, OS errors retried too, and a shard that fails every try is dropped from the
    stream instead of ending it (the driver records it)."""
    ctx.actor_task_retry_on_errors = [OSError]
    ctx.max_errored_blocks = -1
    return {"max_restarts": -1, "max_task_retries": max_tries - 1}


def actor_retry_loop(
    pending: list,
    new_actor: Callable,
    n_actors: int,
    submit: Callable,
    paths,
    max_tries: int,
    failed: list[dict],
    quiet: bool = False,
) -> Iterator[dict]:
    """Hand shards to `n_actors` actors one at a time; yield each result (a dict,
    decoded from the actor's JSON). A lost actor is dropped and its shard goes to
    the front of the queue for the actors left; when none is left, a new one is
    made (Ray places it wherever the cluster still has room). A shard that hit an
    OS error on an actor is retried on another one while another is at work (a
    full disk stays full)."""
    import ray

    actors = [new_actor() for _ in range(n_actors)]
    idle = deque(actors)
    todo = deque(pending)
    tries: dict[int, int] = {}
    avoid: dict[int, set] = {}  # shard -> actors it failed on with an OS error (a full disk there)
    running: dict = {}

    def pick(actor):
        """The first shard not failed on `actor`; any shard when no other actor is at work."""
        for state in todo:
            if actor not in avoid.get(state.index, ()):
                return state
        return todo[0] if not running else None

    def fill() -> None:
        for actor in list(idle):
            if not todo:
                return
            state = pick(actor)
            if state is not None:
                idle.remove(actor)
                todo.remove(state)
                running[submit(actor, state)] = (actor, state)

    try:
        fill()
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            actor, state = running.pop(ref)
            try:
                _, result = ray.get(ref)
            except Exception as e:
                if not retryable(e):
                    raise  # a shard's error ends the run here, as with Ray Data
                k = state.index
                tries[k] = tries.get(k, 0) + 1
                if isinstance(e, lost_errors()):
                    actors.remove(actor)
                    ray.kill(actor, no_restart=True)
                    if not actors:
                        actors.append(new_actor())
                        idle.append(actors[-1])
                else:
                    idle.append(actor)
                    avoid.setdefault(k, set()).add(actor)  # its retry goes to another actor
                if paths.is_done(k):  # it was committed before the try was lost
                    yield _recovered(paths, k)
                elif tries[k] >= max_tries:
                    failed.append({"shard": k, "tries": tries[k], "reason": reason_of(e)})
                    _say(quiet, f"shard {k:06d} failed {tries[k]} tries, recorded: {reason_of(e)}")
                else:
                    _say(quiet, f"shard {k:06d} try {tries[k]} lost ({reason_of(e)}); retrying")
                    todo.appendleft(state)
                fill()
                continue
            idle.append(actor)
            fill()
            yield json.loads(result)
    finally:
        for actor in actors:
            ray.kill(actor)


def _recovered(paths, k: int) -> dict:
    now = time.time()
    timing = {"pid": None, "born": now, "start": now, "end": now, "cpu": 0.0, "recovered": True}
    return {"index": k, "counters": paths.shard_meta(k)["counters"], "timing": timing}


def _say(quiet: bool, msg: str) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)
