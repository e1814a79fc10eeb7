"""A quiet Ray run checks on its busy actors, so its driver never waits in silence.

`faults.actor_retry_loop` waits for results `WATCH_S` at a time; when none came,
`ActorWatch.check` asks Ray's GCS what each busy actor is doing. The GCS's actor
table (`ray._private.state.actors`) is the one view of an actor's state that needs
no dashboard (`ray.util.state` asks the dashboard, and cluster heads are often started
without one); it is marked for debugging, so a failed lookup reads as "unknown" and
changes nothing.

* Dead (the GCS says DEAD, or its worker is on a node it has marked dead) for `LOST_AFTER_S`
  while its task never failed: Ray lost the news of the death. The loop counts the
  try as lost (`SilentLoss`), as it would an `ActorDiedError`. A safety net: a CI run
  once saw a driver still waiting 3 minutes after a worker node was killed (its
  stacks were not captured; `kill -USR1 <pid>` prints them now).
* Not placed yet (PENDING_CREATION with no worker process yet): the cluster has
  no room for it (every worker node lost; an autoscaler still bringing one up). The
  run says so once a minute; when no busy actor has been placed for
  `executor.node_wait_s`, the loop records the shards left as failed and ends
  (exit 2; the same command again resumes), instead of waiting forever.
"""

from __future__ import annotations

import sys
import time

WATCH_S = 5.0  # the longest a driver waits for a result before it looks at its actors
LOST_AFTER_S = 30.0  # dead in the GCS this long while its task never failed: lost
SAY_EVERY_S = 60.0  # how often a run waiting for a node says so
UNPLACED = {"DEPENDENCIES_UNREADY", "PENDING_CREATION", "RESTARTING"}


class SilentLoss(Exception):
    """A try whose actor died without its task failing (module docstring)."""


def actor_info(actor) -> dict:
    """The GCS's record of `actor` (State, Address.NodeID), or {} when it cannot say."""
    from ray._private import state

    try:
        return state.actors(actor_id=actor._actor_id.hex()) or {}
    except Exception:
        return {}


class ActorWatch:
    def __init__(self, node_wait_s: float, quiet: bool = False):
        self.node_wait_s = node_wait_s
        self.quiet = quiet
        self.dead_since: dict = {}  # ref -> when its actor was first seen dead
        self.unplaced_since: float | None = None
        self.said = 0.0

    def check(self, ray, running: dict) -> tuple[list, bool]:
        """(refs whose tries are lost, whether to stop waiting for a node). `running`
        maps each busy ref to its (actor, shard state)."""
        now = time.monotonic()
        alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
        lost, unplaced = [], 0
        for ref, (actor, _) in running.items():
            info = actor_info(actor)
            st, address = info.get("State"), info.get("Address", {})
            # a worker process is there (its port) once a node took the actor, even mid-__init__
            placed = bool(address.get("Port"))
            if st == "DEAD" or (placed and address.get("NodeID") not in alive):
                if now - self.dead_since.setdefault(ref, now) >= LOST_AFTER_S:
                    lost.append(ref)
            else:
                self.dead_since.pop(ref, None)
                unplaced += st in UNPLACED and not placed
        self.dead_since = {r: t for r, t in self.dead_since.items() if r in running}
        if not running or unplaced < len(running):
            self.unplaced_since = None
            return lost, False
        self.unplaced_since = self.unplaced_since or now
        waited = now - self.unplaced_since
        if not self.quiet and now - self.said >= SAY_EVERY_S:
            self.said = now
            print(
                f"waiting for a node with room for a worker: {len(running)} shard(s) ready, none placed "
                f"for {waited:.0f} s (gives up after executor.node_wait_s = {self.node_wait_s:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        return lost, waited >= self.node_wait_s
