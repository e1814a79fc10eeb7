"""Background noise for channel 0: synthetic colours, recorded noise, babble.

Every kind is drawn from the dialogue's mix stream and scaled to the drawn
SNR against the speech on channel 0. The synthetic colours are computed
exactly as before file noise existed (same draws, same arithmetic), so a
recipe with only synthetic noise keeps its bytes.
"""

from __future__ import annotations

import numpy as np

from datagen.config import NoiseConfig
from datagen.timeline.rng import uniform

SYNTHETIC = ("white", "pink", "brown", "babble_hum")


def coloured_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) noise by spectral shaping."""
    white = rng.standard_normal(n)
    if kind == "white":
        return white
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    spec /= np.sqrt(f) if kind == "pink" else f
    out = np.fft.irfft(spec, n)
    return out / (np.std(out) + 1e-12)


def loop_crop(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of `x` from a random offset, wrapping round when `x` is shorter."""
    offset = int(rng.integers(len(x)))
    return x[(offset + np.arange(n)) % len(x)]


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    return x / rms if rms > 1e-8 else np.zeros_like(x, dtype=np.float64)


def _file(cfg: NoiseConfig, n: int, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    from datagen.sources.audio_pool import load_clip, load_pool

    pool = load_pool(tuple(cfg.files), "timeline.noise.files")
    clip = pool[int(rng.integers(len(pool)))]
    return _unit_rms(loop_crop(load_clip(clip, sr), n, rng)), {"noise_ids": [clip.id]}


def _babble(cfg: NoiseConfig, n: int, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Several talkers at once, each at the same level: the crowd of a cafe or an office."""
    from datagen.sources.audio_pool import load_clip, load_pool

    pool = load_pool(tuple(cfg.babble), "timeline.noise.babble", "speech")
    lo, hi = cfg.babble_talkers
    k = int(rng.integers(lo, hi + 1))
    picks = rng.choice(len(pool), size=k, replace=len(pool) < k)
    out = np.zeros(n, dtype=np.float64)
    for i in picks:
        out += _unit_rms(loop_crop(load_clip(pool[int(i)], sr), n, rng))
    return _unit_rms(out), {"noise_ids": [pool[int(i)].id for i in picks], "babble_talkers": k}


def draw_noise(
    cfg: NoiseConfig, n: int, sr: int, speech_rms: float, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """Noise for one dialogue at the drawn SNR against `speech_rms`, and what was drawn."""
    kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
    snr = uniform(rng, cfg.snr_db)
    extra: dict = {}
    if kind in SYNTHETIC:
        base = coloured_noise(kind, n, rng)
    elif kind == "file":
        base, extra = _file(cfg, n, sr, rng)
    else:
        base, extra = _babble(cfg, n, sr, rng)
    noise = base * speech_rms / 10 ** (snr / 20)
    return noise, {"noise": True, "noise_kind": kind, "snr_db": round(snr, 2), **extra}
