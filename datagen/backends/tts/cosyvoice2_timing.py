"""Word timings for CosyVoice2's audio, estimated: upstream returns no alignment.

Word times are spread over the trimmed speech in proportion to characters,
and results say `timing_source="estimate"`; run QC's ASR pass when exact
times matter.
"""

from __future__ import annotations

import numpy as np

from datagen.records import Word


def speech_bounds(
    audio: np.ndarray, sr: int, floor_db: float = -40.0, win_s: float = 0.02
) -> tuple[int, int]:
    """First and last sample of speech: frames within `floor_db` of the loudest frame."""
    win = max(1, int(win_s * sr))
    n = len(audio) // win
    if n == 0:
        return 0, len(audio)
    rms = np.sqrt(np.mean(audio[: n * win].reshape(n, win) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms / rms.max()) > floor_db)[0]
    if len(loud) == 0:
        return 0, len(audio)
    return int(loud[0] * win), int(min(len(audio), (loud[-1] + 1) * win))


def estimate_words(text: str, audio: np.ndarray, sr: int) -> tuple[Word, ...]:
    """Spread words over the speech in proportion to their characters (+1 for the gap)."""
    words = text.split()
    if not words or len(audio) == 0:
        return ()
    start, end = speech_bounds(audio, sr)
    t0, span = start / sr, (end - start) / sr
    weights = np.array([len(w) + 1 for w in words], dtype=float)
    edges = t0 + span * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    return tuple(
        Word(w, round(float(a), 3), round(float(b), 3))
        for w, a, b in zip(words, edges, edges[1:], strict=False)
    )
