"""Ray Data's GPU pools get the lost-node guarantee too (faults.pool_fault_args),
checked with a stand-in stage on real Ray Data: an actor process that dies in the
middle of a shard is restarted and the shard retried (every shard comes back
once); a shard that raises an OS error on every try is dropped after max_tries
and the stream goes on without it (the driver records it as failed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from datagen.executors.faults import pool_fault_args

pytestmark = pytest.mark.slow


class DiesOnce:
    """A stand-in stage: the first time it sees shard 2 its process exits, as when a
    node is lost mid-shard (a flag file says it already died once)."""

    def __init__(self, flag: str):
        self.flag = Path(flag)

    def __call__(self, batch: dict) -> dict:
        for k in batch["shard"]:
            if k == 2 and not self.flag.exists():
                self.flag.write_text("died")
                os._exit(1)
        return {"shard": batch["shard"], "pid": [os.getpid()] * len(batch["shard"])}


class DiskFull:
    """A stand-in stage whose shard 1 always hits a full disk."""

    def __call__(self, batch: dict) -> dict:
        for k in batch["shard"]:
            if k == 1:
                raise OSError(28, "No space left on device")
        return {"shard": batch["shard"], "pid": [os.getpid()] * len(batch["shard"])}


def _pool(stage, args: tuple, max_tries: int) -> list[int]:
    import ray

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    fault_args = pool_fault_args(ctx, max_tries)  # before the dataset: it copies the context
    ds = ray.data.from_items([{"shard": k} for k in range(4)], override_num_blocks=4)
    ds = ds.map_batches(
        stage,
        fn_constructor_args=args,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=2),
        num_cpus=1,
        **fault_args,
    )
    return sorted(int(r["shard"]) for r in ds.iter_rows())


@pytest.fixture
def ray_local(ray_tmp):
    import ray

    from datagen.config import load_recipe
    from datagen.executors.ray_exec import init_ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    init_ray(load_recipe(Path(__file__).parents[2] / "recipes" / "tiny.yaml"), 2)
    saved = ray.data.DataContext.get_current().copy()
    yield
    ray.data.DataContext._set_current(saved)


def test_a_pool_actor_lost_mid_shard_is_restarted_and_the_shard_retried(ray_local, tmp_path):
    flag = tmp_path / "died"
    assert _pool(DiesOnce, (str(flag),), max_tries=3) == [0, 1, 2, 3]
    assert flag.exists()  # it did die once


def test_a_shard_failing_every_try_is_dropped_and_the_rest_go_on(ray_local):
    assert _pool(DiskFull, (), max_tries=2) == [0, 2, 3]


class _Shard:
    def __init__(self, index: int):
        self.index = index


class DiskFullActor:
    """A stand-in for the plain-actor pool's stage group: shard 1 always hits a full disk."""

    def run_shard(self, index: int) -> tuple[bytes, str]:
        import json

        if index == 1:
            raise OSError(28, "No space left on device")
        return b"", json.dumps({"index": index, "counters": {"kept": 1}, "timing": {}})


class DiesBeforeItStarts:
    """A stand-in stage group whose first three actors die while they are made, as one
    Ray placed on a node that was already dying (a count file says how many were made)."""

    def __init__(self, count: str):
        path = Path(count)
        made = int(path.read_text()) if path.exists() else 0
        path.write_text(str(made + 1))
        if made < 3:
            os._exit(1)

    def run_shard(self, index: int) -> tuple[bytes, str]:
        import json

        return b"", json.dumps({"index": index, "counters": {"kept": 1}, "timing": {}})


class _NotDone:
    def is_done(self, k: int) -> bool:
        return False


def _plain(new_actor, n_actors: int, shards: int, **kw) -> tuple[list[int], list[dict]]:
    """faults.actor_retry_loop over `shards` stand-in shards, two tries each: (the
    shards back, sorted; the failures recorded)."""
    from datagen.executors.faults import actor_retry_loop

    failed: list[dict] = []
    todo = [_Shard(k) for k in range(shards)]
    submit = lambda actor, state: actor.run_shard.remote(state.index)  # noqa: E731
    got = actor_retry_loop(todo, new_actor, n_actors, submit, _NotDone(), 2, failed, **kw)
    return sorted(r["index"] for r in got), failed


def test_plain_actors_retry_an_os_error_then_record_the_shard_and_go_on(ray_local):
    import ray

    cls = ray.remote(DiskFullActor).options(num_cpus=1, max_restarts=0)
    got, failed = _plain(cls.remote, 2, 4, quiet=True)
    assert got == [0, 2, 3]
    assert [(f["shard"], f["tries"]) for f in failed] == [(1, 2)]
    assert "No space left on device" in failed[0]["reason"]


def test_an_actor_that_never_started_costs_its_shard_no_try(ray_local, tmp_path):
    """Three replacement actors in a row die before they run (both nodes lost at once,
    the new actor placed on one Ray has not seen die yet): with two tries a shard, the
    shard still runs on the fourth, and nothing is recorded failed."""
    import ray

    count = tmp_path / "made"
    cls = ray.remote(DiesBeforeItStarts).options(num_cpus=1, max_restarts=0)
    got, failed = _plain(lambda: cls.remote(str(count)), 1, 2, quiet=True)
    assert got == [0, 1]
    assert failed == []
    assert count.read_text() == "4"


class SleepsOnce:
    """A stand-in stage group whose first try of shard 0 hangs (its pid in a flag file),
    as a worker on a node whose death Ray never reported to the driver."""

    def __init__(self, flag: str):
        self.flag = Path(flag)

    def run_shard(self, index: int) -> tuple[bytes, str]:
        import json
        import time

        if index == 0 and not self.flag.exists():
            self.flag.write_text(str(os.getpid()))
            time.sleep(600)
        return b"", json.dumps({"index": index, "counters": {"kept": 1}, "timing": {}})


def test_a_dead_actor_whose_task_never_failed_is_a_lost_try(ray_local, tmp_path, monkeypatch, capsys):
    """The safety net of actor_watch.py: Ray cannot be made to lose the news of an
    actor's death on demand, so the GCS's view of the hanging actor (and only it) is
    read as DEAD; the loop counts the try lost, kills the actor, and the shard runs again."""
    import ray

    from datagen.executors import actor_watch

    flag = tmp_path / "hung"
    real = actor_watch.actor_info

    def gcs_view(actor) -> dict:
        info = real(actor)
        hung = flag.exists() and info.get("Pid") == int(flag.read_text() or 0)
        return dict(info, State="DEAD") if hung else info

    monkeypatch.setattr(actor_watch, "actor_info", gcs_view)
    monkeypatch.setattr(actor_watch, "WATCH_S", 0.2)
    monkeypatch.setattr(actor_watch, "LOST_AFTER_S", 1.0)
    cls = ray.remote(SleepsOnce).options(num_cpus=1, max_restarts=0)
    got, failed = _plain(lambda: cls.remote(str(flag)), 2, 3)
    assert got == [0, 1, 2] and failed == []
    lost = "shard 000000 try 1 lost (SilentLoss: dead in the GCS 1 s; its task never failed)"
    assert lost in capsys.readouterr().err


def test_a_run_no_node_can_take_records_its_shards_and_ends(ray_local, monkeypatch, capsys):
    """Workers that need what no node has (as when every worker node is lost and no
    replacement comes): the run says it is waiting, then records every shard failed
    after node_wait_s instead of waiting forever."""
    import ray

    from datagen.executors import actor_watch

    monkeypatch.setattr(actor_watch, "WATCH_S", 0.2)
    cls = ray.remote(DiskFullActor).options(num_cpus=1, resources={"nowhere": 1}, max_restarts=0)
    got, failed = _plain(cls.remote, 2, 3, node_wait_s=1.5)
    assert got == []
    assert [(f["shard"], f["tries"]) for f in failed] == [(0, 0), (1, 0), (2, 0)]
    assert all("no node took a worker in 2 s" in f["reason"] for f in failed), failed
    err = capsys.readouterr().err
    assert "waiting for a node with room for a worker: 2 shard(s) ready, none placed" in err
