"""`python -m bench.rooms`: what simulated rooms cost and how well they keep their RT60.

For each image-order cap, draws 20 default rooms (`RoomConfig`, 16 kHz) and
reports the time per dialogue for the echo path alone and for the echo plus
both talkers (`room.speech`), and the ratio of the echo response's measured
T20 to the drawn RT60; then the time to convolve 60 s of audio with one
response. Standalone (not in `make bench`): it sizes `room.max_order`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from datagen.config import RoomConfig
from datagen.timeline.rng import rng_for
from datagen.timeline.rooms import SOURCES, draw_room


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, nargs="+", default=[20, 30, 60])
    ap.add_argument("--rooms", type=int, default=20)
    args = ap.parse_args()
    sr = 16000
    t = time.perf_counter()
    room = draw_room(RoomConfig(), sr, rng_for(0, "room"), ["loudspeaker"])
    print(f"first room (imports pyroomacoustics): {time.perf_counter() - t:.2f} s")
    for order in args.orders:
        for needed in (["loudspeaker"], list(SOURCES)):
            times, ratios = [], []
            for seed in range(args.rooms):
                t = time.perf_counter()
                room = draw_room(RoomConfig(max_order=order), sr, rng_for(seed, "room"), needed)
                times.append(time.perf_counter() - t)
                ratios.append(room.meta["rt60_measured_s"]["loudspeaker"] / room.meta["rt60_s"])
            print(
                f"max_order {order:3d}, {len(needed)} source(s): {np.median(times) * 1e3:6.1f} ms median, "
                f"{np.percentile(times, 90) * 1e3:6.1f} ms p90 per dialogue; measured/drawn RT60 "
                f"{np.median(ratios):.2f} median [{min(ratios):.2f}, {max(ratios):.2f}]"
            )
    x = np.random.default_rng(0).standard_normal(60 * sr)
    t = time.perf_counter()
    for _ in range(5):
        room.apply(x, "loudspeaker")
    print(f"convolve 60 s with one response: {(time.perf_counter() - t) / 5 * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
