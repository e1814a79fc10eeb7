"""A lost node, a lost driver: on a three-node Ray cluster on this machine (a head
and two one-CPU worker nodes, tests/ray_cluster_support.py) a worker node is killed
mid-run (SIGKILL to its raylet, workers and agents), and the run still ends with
the corpus an undisturbed run makes; a shard lost on every try is recorded as
failed and a rerun finishes it; a driver killed mid-run and rerun redoes nothing
committed. Each test prints one row of the fault table in docs/gpu.md."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fault_support import child_env, corpus_files, diff, fast_recipe, folder_files, run_args
from ray_cluster_support import NO_AUTH, LocalCluster

from datagen.executors.runner import run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("ref") / "local"
    run(fast_recipe(), out=str(out), executor="local", quiet=True)
    return corpus_files(folder_files(out))


@pytest.fixture(scope="module")
def _cluster():
    c = LocalCluster()
    try:
        c.add_node("node_a")
        c.add_node("node_b")
        c.wait_for(cpus=2)
        yield c
    finally:
        c.stop()


@pytest.fixture
def cluster(_cluster):
    """The cluster as each test finds it: node_a and node_b up, nothing else; a test
    that killed or replaced nodes gets them back afterwards, pass or fail."""
    yield _cluster
    if sorted(n for n in _cluster.nodes if n != "head") != ["node_a", "node_b"] or _cluster.node_env:
        for name in [n for n in _cluster.nodes if n != "head"]:
            _cluster.kill_node(name)
        _cluster.node_env.clear()
        _cluster.add_node("node_a")
        _cluster.add_node("node_b")
    _cluster.wait_for(cpus=2)


class Driver:
    """`datagen run --executor ray --address ...` as a process, its stderr watched."""

    def __init__(self, cluster: LocalCluster, out: str, *extra: str, env: dict | None = None):
        args = run_args(out, *extra, executor="ray") + ["--address", cluster.address, "--workers", "2"]
        self.t0 = time.monotonic()
        env = child_env(**NO_AUTH, **(env or {}))
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())

    def wait_for(self, pred, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while not pred():
            assert self.proc.poll() is None, "\n".join(self.lines[-30:])
            assert time.monotonic() < end, "\n".join(self.lines[-30:])
            time.sleep(0.005)

    def finish(self, timeout: float = 180.0) -> tuple[int, float]:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # a hung driver: its stacks (the CLI dumps them on SIGUSR1) and its last lines
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(3)
            self.proc.kill()
            self.reader.join(timeout=10)
            pytest.fail(f"the driver hung for {timeout} s:\n" + "\n".join(self.lines[-150:]))
        self.reader.join(timeout=10)
        return rc, round(time.monotonic() - self.t0, 1)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def shards_lost(self) -> int:
        """Shards redone, not tries: a shard sent to an actor on a node that is still dying
        (Ray takes ~1.5 s to notice) can be lost once more before a live node takes it."""
        lost = (line.split() for line in self.lines if " lost (" in line)
        return len({w[1] for w in lost if len(w) > 1 and w[0] == "shard"})


def _markers(out: Path) -> dict[str, tuple[int, int]]:
    shards = out / "_work" / "shards"
    found = sorted(shards.glob("[0-9]*/stats.json")) if shards.exists() else []
    return {p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in found}


def _row(fault: str, redone: int, seconds: float, same: bool) -> None:
    print(f"\nFAULT-ROW | {fault} | {redone} | {seconds} | {'yes' if same else 'NO'} |")


def test_undisturbed_run_on_the_cluster(cluster, reference, tmp_path):
    out = tmp_path / "calm"
    d = Driver(cluster, str(out))
    rc, secs = d.finish()
    assert rc == 0, "\n".join(d.lines[-30:])
    same = corpus_files(folder_files(out)) == reference
    _row("none (undisturbed, 2 worker nodes)", 0, secs, same)
    assert same


def test_a_worker_node_killed_mid_run_does_not_stop_it(cluster, reference, tmp_path):
    out = tmp_path / "node-lost"
    d = Driver(cluster, str(out))
    d.wait_for(lambda: len(_markers(out)) >= 1)  # both nodes busy with a shard each
    cluster.kill_node("node_a")
    rc, secs = d.finish()
    assert rc == 0, "\n".join(d.lines[-30:])
    redone = d.shards_lost()
    assert redone == 1, "\n".join(d.lines)  # node_a's shard, tried again on node_b
    got = corpus_files(folder_files(out))
    same = got == reference
    _row("worker node killed once", redone, secs, same)
    assert same, (diff(got, reference), got.get("stats.json"), reference["stats.json"])
    cluster.add_node("node_a")  # as an autoscaler replaces a preempted node
    cluster.wait_for(cpus=2)


def test_two_worker_nodes_killed_and_a_replacement_finishes_the_run(cluster, reference, tmp_path):
    """Both worker nodes die at once, each with a shard (or one between shards): the run waits for a new node
    (as a cluster brings up a replacement), which finishes both shards and the rest."""
    out = tmp_path / "twice"
    d = Driver(cluster, str(out))
    d.wait_for(lambda: len(_markers(out)) >= 1)  # both nodes busy with a shard each
    cluster.kill_node("node_a")
    cluster.kill_node("node_b")
    cluster.add_node("node_c")
    rc, secs = d.finish()
    assert rc == 0, "\n".join(d.lines[-30:])
    redone = d.shards_lost()
    # 2 when each node is mid-shard; 1 when the node that just committed had not yet taken its
    # next shard as it was killed (a CI run saw that race); never more, and the bytes must match
    assert 1 <= redone <= 2, "\n".join(d.lines)
    got = corpus_files(folder_files(out))
    _row("two worker nodes killed at once, a replacement node joins", redone, secs, got == reference)
    assert got == reference, diff(got, reference)


def test_a_shard_out_of_tries_is_recorded_and_a_rerun_finishes_it(cluster, reference, tmp_path):
    """max_tries=1: the shard node_a held when it died is recorded as failed with the
    reason, the other shards finish on node_b, the run exits 2; the same command
    again does only that shard."""
    import ray.exceptions as ray_exceptions

    from datagen.executors import actor_watch
    from datagen.executors.faults import lost_errors

    out = tmp_path / "out-of-tries"
    d = Driver(cluster, str(out), "executor.max_tries=1")
    d.wait_for(lambda: len(_markers(out)) >= 1)
    cluster.kill_node("node_a")
    rc, secs = d.finish()
    text = "\n".join(d.lines)
    assert rc == 2 and "failed 1 tries" in text and "rerun the same command" in text, text
    stats = json.loads((out / "stats.json").read_text())
    assert not stats["complete"] and len(stats["failed_shards"]) == 1
    failed = stats["failed_shards"][0]
    # Ray names the loss ActorDiedError, or ActorUnavailableError when the connection reset
    # reaches the driver before the node is marked dead (seen on a loaded machine): both lost;
    # SilentLoss where Ray never failed the task (actor_watch.py)
    name = failed["reason"].split(":")[0]
    kind = getattr(ray_exceptions, name, None) or getattr(actor_watch, name, None)
    assert failed["tries"] == 1 and kind is not None and issubclass(kind, lost_errors()), failed
    before = _markers(out)
    assert len(before) == 5 and f"{failed['shard']:06d}" not in before
    cluster.add_node("node_a")
    cluster.wait_for(cpus=2)
    d2 = Driver(cluster, str(out), "executor.max_tries=1")
    rc2, secs2 = d2.finish()
    assert rc2 == 0 and "5 already done; running 1" in "\n".join(d2.lines)
    assert all(_markers(out)[k] == v for k, v in before.items())
    got = corpus_files(folder_files(out))
    fault = "worker node killed, max_tries=1: shard recorded failed, run goes on; rerun"
    _row(fault, 1, round(secs + secs2, 1), got == reference)
    assert got == reference, diff(got, reference)


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_driver_killed_mid_run_then_rerun(cluster, reference, tmp_path, kind, request):
    if kind == "s3":
        pytest.importorskip("s3fs")
        server = request.getfixturevalue("s3_server")
        server.new_bucket("driver-kill")
        url, env = "s3://driver-kill/fast", server.env()
        done = lambda: {k: v for k, v in server.objects("driver-kill", "fast/_work/done/").items()}  # noqa: E731
    else:
        url, env = str(tmp_path / "driver-kill"), {}
        done = lambda: _markers(Path(url))  # noqa: E731
    d = Driver(cluster, url, env=env)
    d.wait_for(lambda: len(done()) >= 2)
    os.kill(d.proc.pid, signal.SIGKILL)
    _, secs = d.finish()
    before = done()
    d2 = Driver(cluster, url, env=env)
    rc, secs2 = d2.finish()
    assert rc == 0, "\n".join(d2.lines[-30:])
    assert f"{len(before)} already done; running {6 - len(before)}" in "\n".join(d2.lines)
    after = done()
    assert all(after[k] == v for k, v in before.items())  # committed shards untouched
    if kind == "s3":
        files = server.objects("driver-kill", "fast/")
    else:
        files = folder_files(Path(url))
    same = corpus_files(files) == reference
    _row(f"driver killed after {len(before)} shards ({kind}), rerun", 0, round(secs + secs2, 1), same)
    assert same
    time.sleep(1)  # the killed driver's actors are reaped before the next test takes the nodes
