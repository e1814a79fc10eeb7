"""Deterministic randomness keyed by names, not by call order.

Every random choice draws from a generator seeded by (recipe seed, item id,
purpose). A dialogue then comes out the same whichever shard, worker or
retry produces it, and adding a draw in one place does not shift another.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stable_int(*keys: object) -> int:
    """A 63-bit integer from the keys, stable across processes and Python versions."""
    h = hashlib.blake2b("\x1f".join(map(str, keys)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") >> 1


def rng_for(*keys: object) -> np.random.Generator:
    return np.random.default_rng(stable_int(*keys))


def uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    lo, hi = lo_hi
    return float(lo if hi <= lo else rng.uniform(lo, hi))
