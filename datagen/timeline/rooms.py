"""Rooms: the impulse responses a dialogue's sounds reach the microphone through.

One room per dialogue, drawn from its own seeded stream: a shoebox simulated
with pyroomacoustics (size, RT60 -> absorption by inverse Sabine, positions
of the assistant's loudspeaker, the user, the third party and the
microphone), or measured responses drawn from a local pool. Every response
is cut to start `PRE` samples before its direct-path peak and scaled to unit
energy, so that (a) the timeline's times stay the times of the direct sound
(the configured echo delay is the delay to the direct path) and (b) the
echo's level is set by its gain alone, as with Moshi's echo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datagen.config import RoomConfig
from datagen.timeline.rng import uniform

SOURCES = ("loudspeaker", "user", "third_party")
PRE = 8  # samples kept before the direct-path peak: the fractional-delay filter's pre-ringing
_TRIES = 500


class RoomError(ValueError):
    """A room configuration in which the sources cannot be placed."""


@dataclass
class Room:
    rirs: dict[str, np.ndarray] = field(default_factory=dict)  # source -> unit-energy response
    meta: dict = field(default_factory=dict)

    def apply(self, x: np.ndarray, source: str) -> np.ndarray:
        """`x` as heard at the microphone from `source`, aligned to its direct path, same length."""
        from scipy.signal import oaconvolve

        if len(x) == 0:
            return x.astype(np.float64)
        y = oaconvolve(x.astype(np.float64), self.rirs[source])
        return y[PRE : PRE + len(x)]


def _unit(rir: np.ndarray, peak: int) -> np.ndarray:
    """Start PRE samples before the direct path, unit energy."""
    start = max(peak - PRE, 0)
    r = np.zeros(PRE - (peak - start), dtype=np.float64)  # pad when the peak sits too early
    r = np.concatenate([r, np.asarray(rir[start:], dtype=np.float64)])
    energy = float(np.sum(r**2))
    if energy <= 0 or not np.isfinite(energy):
        raise RoomError("an impulse response has no energy")
    return r / np.sqrt(energy)


def decay_rt60(rir: np.ndarray, sr: int) -> float | None:
    """RT60 from the Schroeder energy decay curve's -5..-25 dB slope (T20), or
    -5..-15 dB (T10) when the response is too short; None if it never decays 15 dB.
    The direct path (the first PRE samples and 2.5 ms after) is left out: with the
    loudspeaker a hand's breadth from the microphone it would swamp the curve's start."""
    tail = rir[PRE + int(0.0025 * sr) :]
    if len(tail) < 2 or not np.any(tail):
        return None
    edc = np.cumsum(np.square(tail[::-1], dtype=np.float64))[::-1]
    db = 10 * np.log10(edc / edc[0] + 1e-30)
    for lo, hi in ((-5.0, -25.0), (-5.0, -15.0)):
        if (db <= hi).any():
            a, b = int(np.argmax(db <= lo)), int(np.argmax(db <= hi))
            return 60.0 * (b - a) / sr / (lo - hi)
    return None


def _measured_rt60(room: Room, sr: int) -> dict:
    """What each response actually does: the image-order cap and Sabine's formula
    make a simulated room decay faster than its drawn RT60 (docs/labels.md)."""
    out = {}
    for s, r in room.rirs.items():
        t = decay_rt60(r, sr)
        out[s] = None if t is None else round(t, 3)
    return out


def _inside(dims: np.ndarray, margin: float, rng: np.random.Generator) -> np.ndarray:
    return np.array([rng.uniform(margin, d - margin) for d in dims])


def _positions(cfg: RoomConfig, dims: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Microphone anywhere; the loudspeaker beside it (the assistant's device);
    each talker away from the walls, the microphone and the other talkers."""
    m = cfg.wall_margin_m
    mic = _inside(dims, m, rng)
    pos = {"mic": mic}
    for _ in range(_TRIES):
        d = uniform(rng, cfg.loudspeaker_mic_m)
        v = rng.standard_normal(3)
        p = mic + d * v / (np.linalg.norm(v) + 1e-12)
        if np.all(p >= m) and np.all(p <= dims - m):
            pos["loudspeaker"] = p
            break
    else:
        raise RoomError(
            f"no loudspeaker position {cfg.loudspeaker_mic_m} m from the microphone fits the room"
        )
    for talker in ("user", "third_party"):
        for _ in range(_TRIES):
            p = _inside(dims, m, rng)
            if all(np.linalg.norm(p - q) >= cfg.min_spacing_m for q in pos.values()):
                pos[talker] = p
                break
        else:
            raise RoomError(f"no place for the {talker} {cfg.min_spacing_m} m from the others in {dims} m")
    return pos


def _r(x, nd: int = 3):
    return [round(float(v), nd) for v in x] if np.ndim(x) else round(float(x), nd)


def simulate(cfg: RoomConfig, sr: int, rng: np.random.Generator, needed: list[str]) -> Room:
    """A shoebox and the responses of the `needed` sources. Every draw is made
    whichever sources are needed, so a dialogue's room does not depend on it."""
    import pyroomacoustics as pra

    dims = np.array([uniform(rng, cfg.length_m), uniform(rng, cfg.width_m), uniform(rng, cfg.height_m)])
    rt60 = uniform(rng, cfg.rt60_s)
    pos = _positions(cfg, dims, rng)
    try:
        absorption, order = pra.inverse_sabine(rt60, dims)
    except ValueError:  # too short an RT60 for this room: as absorbent as walls get
        absorption, order = 0.99, cfg.max_order
    order = int(min(order, cfg.max_order))
    meta = {
        "kind": "simulated",
        "dims_m": _r(dims),
        "rt60_s": _r(rt60),
        "absorption": _r(absorption, 4),
        "max_order": order,
        "positions_m": {k: _r(v) for k, v in pos.items()},
    }
    room = Room(meta=meta)
    if not needed:
        return room
    shoebox = pra.ShoeBox(
        dims, fs=sr, materials=pra.Material(float(absorption)), max_order=order, ray_tracing=False,
        air_absorption=False,
    )  # fmt: skip
    for s in needed:
        shoebox.add_source(pos[s])
    shoebox.add_microphone(pos["mic"])
    shoebox.compute_rir()
    c, half = pra.constants.get("c"), pra.constants.get("frac_delay_length") // 2
    for i, s in enumerate(needed):
        rir = np.asarray(shoebox.rir[0][i])
        direct = int(np.linalg.norm(pos[s] - pos["mic"]) / c * sr) + half
        lo = max(direct - 3, 0)
        peak = lo + int(np.argmax(np.abs(rir[lo : direct + 4])))
        room.rirs[s] = _unit(rir, peak)
    room.meta["rt60_measured_s"] = _measured_rt60(room, sr)
    return room


def measured(cfg: RoomConfig, sr: int, rng: np.random.Generator, needed: list[str]) -> Room:
    """One measured response per source, drawn from the pool (each source's draw
    is made whether or not it is needed, so the choice is stable)."""
    from datagen.sources.audio_pool import load_clip, load_pool

    pool = load_pool(tuple(cfg.rirs), "timeline.room.rirs")
    picks = {s: pool[int(rng.integers(len(pool)))] for s in SOURCES}
    room = Room(meta={"kind": "measured", "rir_ids": {s: picks[s].id for s in needed}})
    for s in needed:
        rir = load_clip(picks[s], sr)
        room.rirs[s] = _unit(rir, int(np.argmax(np.abs(rir))))
    room.meta["rt60_measured_s"] = _measured_rt60(room, sr)
    return room


def draw_room(cfg: RoomConfig, sr: int, rng: np.random.Generator, needed: list[str]) -> Room:
    if cfg.kind == "simulated":
        return simulate(cfg, sr, rng, needed)
    if cfg.kind == "measured":
        return measured(cfg, sr, rng, needed)
    raise ValueError(f"room.kind={cfg.kind!r} has no impulse responses")
