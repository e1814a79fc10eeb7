"""A multi-node Ray cluster on this machine for the fault tests: a head (no CPUs,
so no shard runs there) and worker nodes, each its own `ray start --block`
process group with its own resources, private temp dir and ports, so a node can
be killed (SIGKILL to its whole group: raylet, workers, agents) like a lost
machine, and the cluster never collides with another Ray on this box."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from fault_support import child_env
from store_support import free_port

RAY = str(Path(sys.executable).with_name("ray"))
# a lost node is noticed in ~1.5 s, not Ray's default 15 s
FAST_HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3"}
# a private test cluster on loopback: no token (Ray 2.60 turns token auth on by default,
# and a token file another Ray on this box wrote must not decide whether ours connects)
NO_AUTH = {"RAY_AUTH_MODE": "disabled"}


def _ports() -> list[str]:
    names = [
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
        "--metrics-export-port",
    ]
    out = []
    for n in names:
        out += [n, str(free_port())]
    return out


class LocalCluster:
    def __init__(self, env: dict[str, str] | None = None):
        self.tmp = Path(f"/tmp/dg26-{os.getpid()}-{free_port()}")  # short: socket paths have a limit
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = child_env(**FAST_HEALTH, **NO_AUTH, **(env or {}))
        self.nodes: dict[str, subprocess.Popen] = {}
        self.probe: subprocess.Popen | None = None
        self.cpus: dict[str, int] = {}
        self.node_env: dict[str, dict[str, str]] = {}
        self.tmp.mkdir(parents=True)
        self.log = open(self.tmp / "nodes.log", "ab")  # noqa: SIM115 (closed in stop)
        head = [RAY, "start", "--head", "--block", f"--port={self.port}", "--num-cpus=0"]
        head += ["--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={self.tmp}"]
        self.nodes["head"] = self._spawn(head + _ports())
        end = time.monotonic() + 90
        while True:  # the GCS listens: a driver can connect (before, ray.init hangs)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.nodes["head"].poll() is None, (self.tmp / "nodes.log").read_text()[-3000:]
                assert time.monotonic() < end, "the head never came up"
                time.sleep(0.2)

    def _spawn(self, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            args,
            env=dict(self.env, **(env or {})),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed whole, alone
        )

    def add_node(self, name: str, cpus: int = 1, env: dict[str, str] | None = None) -> None:
        """A worker node with `cpus` CPUs and a custom resource named `name`; `env` is
        added to its `ray start` environment."""
        self.cpus[name] = cpus
        if env is not None:
            self.node_env[name] = env
        args = [RAY, "start", "--block", f"--address={self.address}", f"--num-cpus={self.cpus[name]}"]
        args += [f'--resources={{"{name}": 1}}', "--disable-usage-stats"]
        args += [f"--temp-dir={self.tmp}"]
        self.nodes[name] = self._spawn(args + _ports(), self.node_env.get(name))

    def kill_node(self, name: str) -> None:
        """SIGKILL the node's every process at once: its process group and every
        descendant (Ray's worker processes run in sessions of their own)."""
        proc = self.nodes.pop(name)
        doomed = _descendants(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it had exited (a node that failed to start)
            pass
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()

    def alive_cpus(self) -> float:
        """CPUs of the live nodes, asked of one long-lived driver (a new `ray.init`
        per question takes seconds on a busy box)."""
        if self.probe is None:
            args = [sys.executable, "-c", _CPUS, self.address]
            self.probe = subprocess.Popen(
                args, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        self.probe.stdin.write("?\n")
        self.probe.stdin.flush()
        while not (line := self.probe.stdout.readline()).startswith("CPUS "):  # skip Ray's log lines
            assert line, "the probe driver exited"
        return float(line.split()[1])

    def wait_for(self, cpus: float, timeout: float = 180) -> None:
        end = time.monotonic() + timeout
        while (seen := self.alive_cpus()) != cpus:
            gone = [n for n, p in self.nodes.items() if p.poll() is not None]
            for name in gone if time.monotonic() < end and "head" not in gone else []:
                self.nodes.pop(name)  # a node that timed out starting on a busy box: start it again
                self.add_node(name)
                gone = []
            if gone or time.monotonic() > end:
                log = (self.tmp / "nodes.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"cluster never reached {cpus} CPUs: {seen}; exited: {gone}\n{log}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Every process this cluster started, worker nodes first, then the head."""
        if self.probe is not None:
            self.probe.kill()
            self.probe.wait()
        for name in sorted(self.nodes, key=lambda n: n == "head"):
            self.kill_node(name)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


_CPUS = """
import sys, ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
for _ in sys.stdin:
    alive = [n for n in ray.nodes() if n["Alive"]]
    print("CPUS", sum(n["Resources"].get("CPU", 0) for n in alive), flush=True)
"""
