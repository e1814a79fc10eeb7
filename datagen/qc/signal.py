"""Cheap checks that a synthesized waveform is usable at all.

The speech stage runs these after every synthesis: a broken waveform (NaN
from a diverged vocoder, silence from a voice that failed to load, clipping
from a bad gain, a runaway generation that never stops) is worth a retry with
another seed or speaker, which is far cheaper than rejecting the dialogue
later. They only need numpy, so they cost nothing next to the synthesis.
"""

from __future__ import annotations

import numpy as np

from datagen.audio import rms_db
from datagen.config import QCConfig
from datagen.records import OVERLAY_KINDS

# A sample this close to full scale counts as clipped. Slightly under 1.0 so
# float32 rounding and int16 round trips (32767/32768) still count.
CLIP_LEVEL = 0.999

# Reject reasons, in the order they are checked: each one makes the next
# meaningless (the RMS of NaN audio is NaN; a silent clip cannot be clipped).
REASONS: tuple[str, ...] = ("zero_length", "nan_audio", "silent", "clipped", "too_long")


def clip_ratio(audio: np.ndarray) -> float:
    """Share of samples at (or beyond) full scale."""
    if audio.size == 0:
        return 0.0
    return float(np.count_nonzero(np.abs(audio) >= CLIP_LEVEL)) / audio.size


def signal_problem(
    audio: np.ndarray,
    sr: int,
    max_s: float | None = None,
    min_rms_db: float = -45.0,
    max_clip_ratio: float = 0.01,
) -> str | None:
    """The first reason this waveform is unusable, or None when it is fine.

    `max_s=None` skips the length check (overlays such as backchannels have
    no limit of their own beyond the dialogue's). RMS is taken over the whole
    clip, so a mostly-silent clip with a little speech still passes: that is
    the trimmer's job, not a reason to throw the audio away.
    """
    x = np.asarray(audio)
    if x.size == 0:
        return "zero_length"
    if not np.isfinite(x).all():
        return "nan_audio"
    if rms_db(x) < min_rms_db:
        return "silent"
    if clip_ratio(x) > max_clip_ratio:
        return "clipped"
    if max_s is not None and x.shape[-1] / sr > max_s:
        return "too_long"
    return None


def max_seconds_for(role: str, kind: str, cfg: QCConfig) -> float:
    """The longest an utterance of this role and kind may be.

    Assistant turns are answers (cfg.max_answer_s); everything else -- user
    questions, their paused halves, third-party remarks, backchannels and
    barge-ins laid over an answer -- is held to cfg.max_question_s.
    """
    if role == "assistant" and kind not in OVERLAY_KINDS:
        return cfg.max_answer_s
    return cfg.max_question_s
