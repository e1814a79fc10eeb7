"""One measurement in a fresh process, so peak memory is its own.

    python -m bench.child run  --executor ray --workers 2 --set dialogues=64 ...
    python -m bench.child bare CORPUS_DIR
    python -m bench.child shar --set dialogues=16

Prints one JSON object on its last stdout line. `run`: the pipeline's wall
time (Ray started before the clock, so 1 and 2 workers compare the work, not
Ray's start-up), its counters, where the Ray workers' time went
(`bench/timeline.py`), the driver's peak RSS and each Ray pool
worker's (sampled every 0.2 s with psutil). `bare`: the stock backends
voicing a corpus's utterances one at a time (`bench/bare.py`). `shar`: Shar
write + read against a bare FLAC encode + decode of the same audio.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class WorkerRSS:
    """Peak resident memory of each Ray pool worker: plain actors (ray::_StageGroup, a CPU
    box) or Ray Data's (ray::MapWorker..., GPU pools); see datagen/executors/ray_exec.py."""

    def __init__(self, every_s: float = 0.2):
        self.peak: dict[int, int] = {}
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import psutil

        while not self._stop.is_set():
            for p in psutil.process_iter(["pid", "name", "cmdline"]):
                try:
                    line = " ".join(p.info["cmdline"] or []) or p.info["name"] or ""
                    if "ray::" in line and ("MapWorker" in line or "_StageGroup" in line):
                        rss = p.memory_info().rss
                        self.peak[p.pid] = max(self.peak.get(p.pid, 0), rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self._stop.wait(self.every_s)

    def __enter__(self) -> WorkerRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _recipe(sets: list[str]):
    from datagen.config import load_recipe

    return load_recipe(ROOT / "recipes" / "tiny.yaml", sets)


def cmd_run(args) -> dict:
    from datagen.executors.runner import run

    recipe = _recipe(args.set)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-run-"))
    if args.executor == "ray":
        from datagen.executors.ray_exec import init_ray

        init_ray(recipe, args.workers)
    with WorkerRSS() as rss:
        t0, clock0 = time.perf_counter(), time.time()
        stats = run(recipe, str(out), args.executor, args.workers, fresh=True, quiet=True)
        wall = time.perf_counter() - t0
    timeline = None
    if args.executor == "ray":
        from bench.timeline import idle_breakdown

        timeline = idle_breakdown(out, clock0, clock0 + wall)
    return {
        "wall_s": wall,
        "timeline": timeline,
        "counters": stats["counters"],
        "kept": stats["kept"],
        "driver_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_rss_mib": sorted(v / 2**20 for v in rss.peak.values()),
        "out": str(out),
    }


def cmd_bare(args) -> dict:
    from bench.bare import voice_corpus_bare

    return voice_corpus_bare(Path(args.corpus))


def cmd_shar(args) -> dict:
    from bench.shar_io import shar_vs_flac

    return shar_vs_flac(_recipe(args.set))


def cmd_stream(args) -> dict:
    from bench.stream_cache import growing_vs_dynamic

    return growing_vs_dynamic(Path(args.corpus), args.repeats)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.child")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--executor", choices=["ray", "local"], default="local")
    r.add_argument("--workers", type=int, default=None)
    r.add_argument("--out")
    r.add_argument("--set", action="append", default=[])
    b = sub.add_parser("bare")
    b.add_argument("corpus")
    s = sub.add_parser("shar")
    s.add_argument("--set", action="append", default=[])
    t = sub.add_parser("stream")
    t.add_argument("corpus")
    t.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    result = {"run": cmd_run, "bare": cmd_bare, "shar": cmd_shar, "stream": cmd_stream}[args.cmd](args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
