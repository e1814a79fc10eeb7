"""Do N copies of the same computation slow each other on this box? (`python -m bench.cpu_probe`)

Reads against bench/scaling.py's "CPU s per shard" column: when that column
grows with the worker count, is it the pipeline or the machine? This runs a
pure-Python loop and a numpy convolution alone and as N concurrent processes
(each single-threaded) and prints every copy's CPU seconds. On cores that do
not share anything, every copy takes what one alone takes.

    python -m bench.cpu_probe --copies 8 16
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time


def python_loop(_: int = 0) -> float:
    t = time.process_time()
    s = 0
    for i in range(30_000_000):
        s += i * i
    return round(time.process_time() - t, 2)


def numpy_convolve(_: int = 0) -> float:
    import numpy as np

    x = np.random.default_rng(0).standard_normal(200_000).astype(np.float32)
    t = time.process_time()
    for _ in range(40):
        np.convolve(x, x[:400])
    return round(time.process_time() - t, 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cpu_probe", description=__doc__)
    ap.add_argument("--copies", type=int, nargs="+", default=[os.cpu_count() or 1])
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"
    out = {"cores": os.cpu_count()}
    for fn in (python_loop, numpy_convolve):
        out[fn.__name__] = {"alone": fn()}
        for n in args.copies:
            with mp.get_context("spawn").Pool(n) as pool:
                out[fn.__name__][f"x{n}"] = sorted(pool.map(fn, range(n)))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
