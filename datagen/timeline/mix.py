"""Render a placed timeline to two channels, with echo and noise.

Channel 1 is the assistant's clean speech. Channel 0 is what the model
hears: user and third-party speech, plus (per recipe probability) the
assistant's own echo (delay, gain, a simple exponential-decay reverb) and
coloured background noise at an SNR measured against the speech on it.
Components are kept apart until the end so the composer can check that
every overlay is audible over the noise and echo beneath it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datagen.config import TimelineConfig
from datagen.records import VoicedDialogue
from datagen.timeline.place import ASSISTANT, ENV, Timeline
from datagen.timeline.rng import uniform

SPEECH_RMS_DB = -20.0  # every utterance is levelled to this before its gain


@dataclass
class Mix:
    audio: np.ndarray  # (2, T) float32
    speech0: np.ndarray  # clean speech on channel 0
    interference: np.ndarray  # echo + noise on channel 0
    meta: dict = field(default_factory=dict)
    # The whole audio of each assistant turn that was cut short, by turn index:
    # what it would have gone on saying. A trainer replaying a model that does
    # not stop where the data stops needs it (docs/labels.md, "Uncut answers").
    full_answers: dict[int, np.ndarray] = field(default_factory=dict)


def level(x: np.ndarray, target_db: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    if rms <= 1e-8:
        return x
    y = x * (10 ** (target_db / 20) / rms)
    peak = float(np.max(np.abs(y)))
    return y * (0.95 / peak) if peak > 0.95 else y


def _fade_out(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 0 or len(x) == 0:
        return x
    n = min(n, len(x))
    y = x.copy()
    y[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return y


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


def _reverb(x: np.ndarray, sr: int, decay_s: float, rng: np.random.Generator) -> np.ndarray:
    if decay_s <= 0:
        return x
    n = int(decay_s * sr)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / decay_s)  # -60 dB at decay_s
    tail[0] = 0.0
    tail *= np.sqrt(0.5 / (np.sum(tail**2) + 1e-12))  # reverberant energy = half the direct path
    ir = tail
    ir[0] = 1.0
    ir /= np.sqrt(np.sum(ir**2))  # unit energy: the echo's level is set by its gain alone
    full = np.convolve(x, ir)[: len(x)] if len(x) < 20 * sr else _fft_convolve(x, ir)
    return full


def _fft_convolve(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    from scipy.signal import fftconvolve

    return fftconvolve(x, ir)[: len(x)]


def render(vd: VoicedDialogue, tl: Timeline, cfg: TimelineConfig, sr: int, rng: np.random.Generator) -> Mix:
    n = int(round(tl.duration * sr))
    chans = np.zeros((2, n), dtype=np.float32)
    fade = int(cfg.fade_s * sr)
    full_answers: dict[int, np.ndarray] = {}
    for p in tl.placements:
        u = vd.utterances[p.key]
        x = level(u.audio.astype(np.float32), SPEECH_RMS_DB + p.gain_db)
        if p.keep_s is not None:
            if p.channel == ASSISTANT:
                full_answers[int(p.key[1:])] = x
            x = _fade_out(x[: int(round(p.keep_s * sr))], fade)
        a = int(round(p.start * sr))
        x = x[: max(n - a, 0)]
        chans[p.channel, a : a + len(x)] += x
    speech0 = chans[ENV].copy()
    interference = np.zeros(n, dtype=np.float64)
    meta: dict = {"echo": False, "noise": False}
    if rng.random() < cfg.echo.prob:
        e = cfg.echo
        delay = int(uniform(rng, e.delay_s) * sr)
        gain = uniform(rng, e.gain)
        wet = _reverb(chans[ASSISTANT].astype(np.float64), sr, e.reverb_s, rng) * gain
        interference[delay:] += wet[: n - delay]
        meta.update(echo=True, echo_gain=round(gain, 3), echo_delay_s=round(delay / sr, 3))
    if rng.random() < cfg.noise.prob and cfg.noise.kinds:
        kind = cfg.noise.kinds[int(rng.integers(len(cfg.noise.kinds)))]
        snr = uniform(rng, cfg.noise.snr_db)
        active = np.abs(speech0) > 1e-4
        speech_rms = (
            float(np.sqrt(np.mean(np.square(speech0[active], dtype=np.float64)))) if active.any() else 0.1
        )
        noise = coloured_noise(kind, n, rng) * speech_rms / 10 ** (snr / 20)
        interference += noise
        meta.update(noise=True, noise_kind=kind, snr_db=round(snr, 2))
    chans[ENV] += interference.astype(np.float32)
    peak = float(np.max(np.abs(chans[ENV]))) if n else 0.0
    if peak > 0.99:  # keep the mix unclipped; channel 1 stays at its own level
        scale = 0.99 / peak
        chans[ENV] *= scale
        speech0 *= scale
        interference *= scale
    return Mix(chans, speech0, interference.astype(np.float32), meta, full_answers)
