"""What a Ray run does when the cluster takes a worker, a node or a disk away.

A shard is retried when its try was lost, not when it is wrong:

* lost: the actor or worker process died (its node was preempted or killed,
  the OOM killer), or its object went with the node: `RayActorError`,
  `WorkerCrashedError`, `NodeDiedError`, `ObjectLostError`, `OutOfMemoryError`,
  and `SilentLoss` (its actor dead in the GCS while its task never failed,
  actor_watch.py);
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

An actor that died before it ever ran costs its shard no try: when both worker
nodes go at once, Ray can place the replacement actor on a node it has not yet
seen die (~1.5 s), and that actor is cancelled before it starts ("The actor
never ran"); a CI run spent all three tries of one shard that way before the
new node came up. Such a loss waits a moment (0.25 s, doubling to 4 s) and
makes another actor, up to `UNSTARTED_LIMIT` times a shard; after that it
counts as a try again, so an actor that can never start still ends in a
recorded failure.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator

from datagen.executors import actor_watch

UNSTARTED_LIMIT = 10  # actors that never started, per shard, before such losses count as tries


def lost_errors() -> tuple[type[BaseException], ...]:
    import ray.exceptions as rx

    lost = (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError, rx.ObjectLostError)
    return lost + (rx.OutOfMemoryError, actor_watch.SilentLoss)


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
    node_wait_s: float = 1800.0,
) -> Iterator[dict]:
    """Hand shards to `n_actors` actors one at a time; yield each result (a dict,
    decoded from the actor's JSON). A lost actor is dropped and its shard goes to
    the front of the queue for the actors left; when none is left, a new one is
    made (Ray places it wherever the cluster still has room). A shard that hit an
    OS error on an actor is retried on another one while another is at work (a
    full disk stays full). Each actor's built-in `__ray_ready__` call is queued
    before its first shard, so a lost try whose actor never answered it never
    reached the shard (module docstring). While no result comes, the busy actors are
    checked (actor_watch.py): one dead without its task failing is a lost try; when
    none has been placed for `node_wait_s`, the shards left are recorded failed and
    the loop ends."""
    import ray

    ready: dict = {}  # actor -> its __ray_ready__ ref

    def spawn():
        actor = new_actor()
        ready[actor] = actor.__ray_ready__.remote()
        return actor

    actors = [spawn() for _ in range(n_actors)]
    idle = deque(actors)
    todo = deque(pending)
    tries: dict[int, int] = {}
    unstarted: dict[int, int] = {}  # shard -> its actors that died before they ran
    avoid: dict[int, set] = {}  # shard -> actors it failed on with an OS error (a full disk there)
    running: dict = {}
    watch = actor_watch.ActorWatch(node_wait_s, quiet)

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
            done, _ = ray.wait(list(running), num_returns=1, timeout=actor_watch.WATCH_S)
            silent = None
            if not done:
                lost, give_up = watch.check(ray, running)
                if give_up:
                    _give_up(running, todo, tries, failed, node_wait_s, quiet)
                    return
                if not lost:
                    continue
                gone = f"dead in the GCS {actor_watch.LOST_AFTER_S:.0f} s"
                silent = actor_watch.SilentLoss(f"{gone}; its task never failed")
                done = lost[:1]
            ref = done[0]
            actor, state = running.pop(ref)
            try:
                if silent is not None:
                    raise silent
                _, result = ray.get(ref)
            except Exception as e:
                if not retryable(e):
                    raise  # a shard's error ends the run here, as with Ray Data
                k = state.index
                lost = isinstance(e, lost_errors())
                # an error raised in the actor's __init__ is the recipe's, not a node's: it counts
                init_error = getattr(e, "actor_init_failed", False)
                never_ran = lost and not init_error and not _started(ray, ready[actor])
                if never_ran and unstarted.get(k, 0) < UNSTARTED_LIMIT:
                    unstarted[k] = unstarted.get(k, 0) + 1
                    _say(quiet, f"shard {k:06d}: its actor never started ({reason_of(e)}); another one")
                    _drop(ray, actor, actors, idle, spawn)
                    time.sleep(min(0.25 * 2 ** (unstarted[k] - 1), 4.0))
                    todo.appendleft(state)
                    fill()
                    continue
                tries[k] = tries.get(k, 0) + 1
                if lost:
                    _drop(ray, actor, actors, idle, spawn)
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


def _give_up(running: dict, todo: deque, tries: dict, failed: list[dict], waited: float, quiet: bool) -> None:
    """No node took a worker for `waited` seconds: every shard left is recorded failed."""
    reason = f"no node took a worker in {waited:.0f} s (executor.node_wait_s); rerun when one has room"
    left = [state for _, state in running.values()] + list(todo)
    for state in sorted(left, key=lambda s: s.index):
        failed.append({"shard": state.index, "tries": tries.get(state.index, 0), "reason": reason})
    _say(quiet, f"{len(left)} shard(s) recorded failed: {reason}")


def _started(ray, ready_ref) -> bool:
    """Whether an actor ran at all: its `__ray_ready__` call, queued before any shard, returned."""
    done, _ = ray.wait([ready_ref], timeout=1.0)
    if not done:
        return False
    try:
        ray.get(done[0])
    except Exception:
        return False
    return True


def _drop(ray, actor, actors: list, idle: deque, spawn: Callable) -> None:
    """A lost actor goes; when it was the last, a new one is made (Ray places it where there is room)."""
    actors.remove(actor)
    ray.kill(actor, no_restart=True)
    if not actors:
        actors.append(spawn())
        idle.append(actors[-1])


def _recovered(paths, k: int) -> dict:
    now = time.time()
    timing = {"pid": None, "born": now, "start": now, "end": now, "cpu": 0.0, "recovered": True}
    return {"index": k, "counters": paths.shard_meta(k)["counters"], "timing": timing}


def _say(quiet: bool, msg: str) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)
