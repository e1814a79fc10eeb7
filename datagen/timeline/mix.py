"""Render a placed timeline to two channels, with echo and noise.

Channel 1 is the assistant's clean speech. Channel 0 is what the model
hears: user and third-party speech (dry, or through the room when
`room.speech`), plus (per recipe probability) the assistant's own echo
(delay, gain, the room's loudspeaker->microphone response: timeline.rooms)
and background noise (timeline.noise) at an SNR measured against the
speech on it.
Components are kept apart until the end so the composer can check that
every overlay is audible over the noise and echo beneath it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datagen.config import TimelineConfig
from datagen.records import VoicedDialogue
from datagen.timeline.noise import coloured_noise, draw_noise
from datagen.timeline.place import ASSISTANT, ENV, Timeline
from datagen.timeline.rng import rng_for, uniform
from datagen.timeline.rooms import Room, draw_room

__all__ = ["Mix", "check_sources", "coloured_noise", "level", "render"]

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


def check_sources(cfg: TimelineConfig) -> None:
    """Run start: every local pool the recipe will draw from is there and readable."""
    from datagen.sources.audio_pool import check_pool

    if cfg.room.kind == "measured" and (cfg.echo.prob > 0 or cfg.room.speech):
        check_pool(cfg.room.rirs, "timeline.room.rirs")
    if cfg.noise.prob > 0 and "file" in cfg.noise.kinds:
        check_pool(cfg.noise.files, "timeline.noise.files")
    if cfg.noise.prob > 0 and "babble" in cfg.noise.kinds:
        check_pool(cfg.noise.babble, "timeline.noise.babble", "speech")


def _place_speech(vd: VoicedDialogue, tl: Timeline, cfg: TimelineConfig, sr: int, n: int):
    """Both channels with every placement at its level, and channel 0 split by
    role (for rooms that put each talker somewhere else); cut-short answers whole."""
    chans = np.zeros((2, n), dtype=np.float32)
    by_role: dict[str, np.ndarray] = {}
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
        if p.channel == ENV and cfg.room.speech:
            by_role.setdefault(u.role, np.zeros(n, dtype=np.float32))[a : a + len(x)] += x
    return chans, by_role, full_answers


def render(
    vd: VoicedDialogue,
    tl: Timeline,
    cfg: TimelineConfig,
    sr: int,
    rng: np.random.Generator,
    room_rng: np.random.Generator | None = None,
) -> Mix:
    """`rng` draws echo and noise; the room comes from `room_rng` (default: the
    dialogue's own "room" stream), so a room does not shift the other draws."""
    n = int(round(tl.duration * sr))
    chans, by_role, full_answers = _place_speech(vd, tl, cfg, sr, n)
    meta: dict = {"echo": False, "noise": False}
    echo_on = rng.random() < cfg.echo.prob
    simulated_echo = echo_on and cfg.room.kind != "exponential"
    room: Room | None = None
    if simulated_echo or by_role:
        needed = (["loudspeaker"] if simulated_echo else []) + sorted(by_role)
        room = draw_room(cfg.room, sr, room_rng or rng_for(vd.dialogue.seed, "room"), needed)
        meta["room"] = room.meta
    if by_role:  # the talkers through their own responses; the timeline's times are direct-path times
        chans[ENV] = sum(room.apply(x, role) for role, x in sorted(by_role.items())).astype(np.float32)
    speech0 = chans[ENV].copy()
    interference = np.zeros(n, dtype=np.float64)
    if echo_on:
        e = cfg.echo
        delay = int(uniform(rng, e.delay_s) * sr)
        gain = uniform(rng, e.gain)
        dry = chans[ASSISTANT].astype(np.float64)
        if room is not None and simulated_echo:
            wet = room.apply(dry, "loudspeaker") * gain
        else:
            wet = _reverb(dry, sr, e.reverb_s, rng) * gain
            meta["room"] = {"kind": "exponential", "reverb_s": e.reverb_s}
        interference[delay:] += wet[: n - delay]
        meta.update(echo=True, echo_gain=round(gain, 3), echo_delay_s=round(delay / sr, 3))
    if rng.random() < cfg.noise.prob and cfg.noise.kinds:
        active = np.abs(speech0) > 1e-4
        speech_rms = (
            float(np.sqrt(np.mean(np.square(speech0[active], dtype=np.float64)))) if active.any() else 0.1
        )
        noise, noise_meta = draw_noise(cfg.noise, n, sr, speech_rms, rng)
        interference += noise
        meta.update(noise_meta)
    chans[ENV] += interference.astype(np.float32)
    peak = float(np.max(np.abs(chans[ENV]))) if n else 0.0
    if peak > 0.99:  # keep the mix unclipped; channel 1 stays at its own level
        scale = 0.99 / peak
        chans[ENV] *= scale
        speech0 *= scale
        interference *= scale
    return Mix(chans, speech0, interference.astype(np.float32), meta, full_answers)
