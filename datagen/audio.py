"""Small pure audio helpers shared by the TTS backends, QC and the timeline.

Everything here takes and returns numpy arrays (float32 mono unless said
otherwise) and never touches files or global state, so any stage can use it
inside a worker and tests can check it with synthetic signals.

Silence is judged *relative to the loudest frame* rather than in absolute
dBFS: TTS backends render at very different levels (espeak amplitude, piper
volume) and a relative threshold trims all of them the same way. Absolute
loudness checks (QC's `min_rms_db`) use `rms_db` instead.
"""

from __future__ import annotations

from math import gcd

import numpy as np

from datagen.records import Word

_FRAME_S = 0.01  # energy frame for silence detection: 10 ms resolves word onsets
_FLOOR_DB = -120.0  # what silence measures as, so numbers stay finite in JSON stats


def to_float32(x: np.ndarray) -> np.ndarray:
    """Integer PCM to float32 in [-1, 1]; float input is only cast.

    Scaling by the type's full range (not the signal's peak) keeps relative
    levels between files intact.
    """
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32, copy=False)
    if x.dtype == np.uint8:  # 8-bit WAV is unsigned, centred on 128
        return ((x.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        scale = float(2 ** (np.iinfo(x.dtype).bits - 1))
        return (x.astype(np.float64) / scale).astype(np.float32)
    raise TypeError(f"cannot convert {x.dtype} audio to float32")


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling by the reduced integer ratio (along the last axis).

    `resample_poly` with the gcd-reduced ratio is exact for the rates we meet
    (22050/24000/16000) and, unlike FFT resampling, does not wrap the end of
    an utterance onto its start.
    """
    x = to_float32(x)
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    if sr_in == sr_out or x.shape[-1] == 0:
        return x.copy()
    from scipy.signal import resample_poly

    g = gcd(int(sr_in), int(sr_out))
    y = resample_poly(x, int(sr_out) // g, int(sr_in) // g, axis=-1)
    return y.astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    """Root-mean-square level in dBFS, floored at -120 dB (silence, empty input)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return _FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(x))))
    return max(_FLOOR_DB, 20.0 * np.log10(rms)) if rms > 0 else _FLOOR_DB


def frame_db(x: np.ndarray, sr: int, frame_s: float = _FRAME_S) -> np.ndarray:
    """RMS level (dBFS) of consecutive non-overlapping frames; the last may be short."""
    x = np.asarray(x, dtype=np.float64)
    n = max(1, int(round(frame_s * sr)))
    if x.size == 0:
        return np.zeros(0)
    pad = (-len(x)) % n
    frames = np.pad(x, (0, pad)).reshape(-1, n)
    counts = np.full(len(frames), n, dtype=np.float64)
    if pad:
        counts[-1] = n - pad
    power = np.sum(np.square(frames), axis=1) / counts
    return np.maximum(10.0 * np.log10(np.maximum(power, 1e-30)), _FLOOR_DB)


def voiced_region(x: np.ndarray, sr: int, threshold_db: float = -40.0) -> tuple[float, float] | None:
    """(start_s, end_s) of the span from the first to the last frame within
    `threshold_db` of the loudest frame; None when there is nothing but silence."""
    db = frame_db(x, sr)
    if db.size == 0 or db.max() <= _FLOOR_DB:
        return None
    active = np.flatnonzero(db >= db.max() + threshold_db)
    n = max(1, int(round(_FRAME_S * sr)))
    start = float(active[0] * n / sr)
    end = float(min(len(x), (active[-1] + 1) * n) / sr)
    return start, end


def speech_spans(
    x: np.ndarray, sr: int, threshold_db: float = -40.0, min_gap_s: float = 0.12
) -> list[tuple[float, float]]:
    """Voiced stretches (s), merged across silences shorter than `min_gap_s`.

    Stop closures inside words last up to ~100 ms; pauses at commas and
    sentence ends last longer, so the default gap separates phrases, not words.
    """
    db = frame_db(x, sr)
    if db.size == 0 or db.max() <= _FLOOR_DB:
        return []
    n = max(1, int(round(_FRAME_S * sr)))
    active = db >= db.max() + threshold_db
    spans: list[list[int]] = []
    for i in np.flatnonzero(active):
        if spans and (i - spans[-1][1]) * _FRAME_S < min_gap_s:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    return [(float(a * n / sr), float(min(len(x), b * n) / sr)) for a, b in spans]


def trim_silence(
    x: np.ndarray, sr: int, threshold_db: float = -40.0, pad_s: float = 0.02
) -> tuple[np.ndarray, float]:
    """Cut leading/trailing silence, keeping `pad_s` of margin on each side.

    Returns the trimmed audio and the time (s) of its first sample in the
    input, so word timings can be shifted by `-offset_s`. All-silent input
    gives an empty array and offset 0.
    """
    x = to_float32(x)
    region = voiced_region(x, sr, threshold_db)
    if region is None:
        return x[:0].copy(), 0.0
    a = max(0, int(round((region[0] - pad_s) * sr)))
    b = min(len(x), int(round((region[1] + pad_s) * sr)))
    return x[a:b].copy(), a / sr


def fade(x: np.ndarray, sr: int, in_s: float = 0.0, out_s: float = 0.0) -> np.ndarray:
    """Linear fade-in/out (a copy): cutting speech mid-word without a ramp clicks."""
    y = to_float32(x).copy()
    n_in = min(len(y), max(0, int(round(in_s * sr))))
    n_out = min(len(y), max(0, int(round(out_s * sr))))
    if n_in:
        y[:n_in] *= np.linspace(0.0, 1.0, n_in, endpoint=False, dtype=np.float32)
    if n_out:
        y[len(y) - n_out :] *= np.linspace(1.0, 0.0, n_out, endpoint=True, dtype=np.float32)
    return y


def peak_normalize(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale so the largest |sample| is `peak`; silence is returned unchanged.

    Headroom below 1.0 leaves room to mix several voices and noise without
    clipping before the final level is set.
    """
    y = to_float32(x)
    m = float(np.max(np.abs(y))) if y.size else 0.0
    if m <= 0.0:
        return y.copy()
    return (y * (peak / m)).astype(np.float32)


def estimate_word_times(words: list[str], start_s: float, end_s: float) -> tuple[Word, ...]:
    """Spread words over [start_s, end_s] in proportion to their letters.

    The fallback when no aligner is available: a word's spoken length grows
    roughly with its letter count, and a short gap (half a letter) separates
    words. Punctuation-only tokens still get a sliver so every token of the
    text has an entry, in order.
    """
    if not words:
        return ()
    gap = 0.5
    weights = [max(1, sum(c.isalnum() for c in w)) for w in words]
    total = sum(weights) + gap * (len(words) - 1)
    scale = max(0.0, end_s - start_s) / total
    out, t = [], start_s
    for i, (w, k) in enumerate(zip(words, weights, strict=True)):
        out.append(Word(w, min(t, end_s), min(t + k * scale, end_s)))
        t += (k + (gap if i < len(words) - 1 else 0.0)) * scale
    return tuple(out)


_PHRASE_END = (",", ";", ":", ".", "?", "!", "\u2014", "\u2026")


def estimate_words_from_audio(words: list[str], x: np.ndarray, sr: int) -> tuple[Word, ...]:
    """Letter-proportional word times, anchored on the pauses a TTS makes at punctuation.

    TTS engines pause at commas and sentence ends. When the audio shows
    exactly one pause per phrase break of the text, each phrase is spread
    over its own voiced stretch, which stops timing errors from piling up
    over a long utterance; otherwise the words are spread over the whole
    voiced region.
    """
    spans = speech_spans(x, sr)
    if not words or not spans:
        end = len(x) / sr
        return estimate_word_times(words, 0.0, end)
    phrases: list[list[str]] = [[]]
    for i, w in enumerate(words):
        phrases[-1].append(w)
        if w.endswith(_PHRASE_END) and i < len(words) - 1:
            phrases.append([])
    if len(phrases) != len(spans):
        return estimate_word_times(words, spans[0][0], spans[-1][1])
    out: list[Word] = []
    for phrase, (a, b) in zip(phrases, spans, strict=True):
        out.extend(estimate_word_times(phrase, a, b))
    return tuple(out)
