"""Checks that labels, supervisions and audio agree.

Used twice: by the composer before a sample is written (a failure becomes a
reject with its reason) and by `datagen validate` on a written corpus (where
only the mixed audio is known). Voice activity on the clean assistant
channel comes from frame energy: channel 1 is exactly zero outside the
assistant's speech, so energy is a sharp and cheap detector there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.text.tokenizer import SHIFT_ID, THINK_ID

FRAME_S = 0.01
VOICE_DB = -50.0  # a 10 ms frame louder than this on channel 1 is voice


@dataclass(frozen=True)
class SpanTimes:
    decide: float  # time of the speak <shift> block
    stop: float  # time of the stop <shift> block


def frame_db(x: np.ndarray, sr: int, frame_s: float = FRAME_S) -> np.ndarray:
    hop = max(int(sr * frame_s), 1)
    n = len(x) // hop
    if n == 0:
        return np.zeros(0)
    f = x[: n * hop].astype(np.float64).reshape(n, hop)
    return 10 * np.log10(np.mean(f * f, axis=1) + 1e-12)


def voiced_runs(x: np.ndarray, sr: int, max_gap_s: float = 0.0) -> list[tuple[float, float]]:
    """Start/end of runs of voiced frames, merging gaps shorter than max_gap_s."""
    v = frame_db(x, sr) > VOICE_DB
    runs: list[tuple[float, float]] = []
    idx = np.flatnonzero(np.diff(np.concatenate([[0], v.astype(np.int8), [0]])))
    for a, b in zip(idx[::2], idx[1::2], strict=True):
        s, e = a * FRAME_S, b * FRAME_S
        if runs and s - runs[-1][1] < max_gap_s:
            runs[-1] = (runs[-1][0], e)
        else:
            runs.append((s, e))
    return runs


def spans_from_labels(labels: np.ndarray, block_s: float) -> tuple[list[SpanTimes], list[str]]:
    """Pair up <shift>s (speak, stop, speak, stop, ...) into speaking spans."""
    shifts = np.flatnonzero(labels == SHIFT_ID)
    problems = []
    if len(shifts) % 2:
        problems.append(f"odd number of <shift> tokens ({len(shifts)})")
    spans = [SpanTimes(a * block_s, b * block_s) for a, b in zip(shifts[::2], shifts[1::2], strict=False)]
    return spans, problems


def check_assistant_channel(
    ch1: np.ndarray, sr: int, labels: np.ndarray, block_s: float, synth_delay_s: float
) -> list[str]:
    """Every speak-<shift> is followed by voice on channel 1 after synth_delay_s
    (within one block), every stop-<shift> by its end (within one block), and
    channel 1 is silent outside those spans."""
    spans, problems = spans_from_labels(labels, block_s)
    # Sentence pauses inside one answer split it into several runs; a span's
    # onset is its first run's start and its end its last run's end.
    runs = voiced_runs(ch1, sr)
    tol = block_s + FRAME_S
    for k, sp in enumerate(spans):
        expect_on = sp.decide + synth_delay_s
        inside = [r for r in runs if r[1] > sp.decide and r[0] < sp.stop + tol]
        if not inside:
            problems.append(f"span {k}: no voice on channel 1 between {sp.decide:.2f}s and {sp.stop:.2f}s")
            continue
        on, off = inside[0][0], inside[-1][1]
        if abs(on - expect_on) > tol:
            problems.append(f"span {k}: voice starts at {on:.2f}s, labels say {expect_on:.2f}s")
        if abs(off - sp.stop) > tol:
            problems.append(f"span {k}: voice ends at {off:.2f}s, stop <shift> at {sp.stop:.2f}s")
    for r in runs:
        if not any(r[1] > sp.decide and r[0] < sp.stop + tol for sp in spans):
            problems.append(f"voice on channel 1 at {r[0]:.2f}-{r[1]:.2f}s outside any speaking span")
    text_blocks = int(np.sum(labels > SHIFT_ID))
    speaking = sum(max(int(round((sp.stop - sp.decide) / block_s)) - 1, 0) for sp in spans)
    if text_blocks > speaking:
        problems.append(f"{text_blocks} text tokens but only {speaking} speaking blocks")
    if spans and int(np.sum(labels == THINK_ID)) == 0:
        problems.append("no <think> blocks")
    return problems


def check_audible(ch0: np.ndarray, sr: int, start: float, end: float, margin_db: float = 3.0) -> str | None:
    """Speech said on channel 0 at [start, end) stands above its noise floor."""
    db = frame_db(ch0, sr)
    if len(db) == 0:
        return "channel 0 is empty"
    a, b = int(start / FRAME_S), max(int(end / FRAME_S), int(start / FRAME_S) + 1)
    seg = db[a:b]
    if len(seg) == 0:
        return f"segment {start:.2f}-{end:.2f}s lies outside the audio"
    floor = float(np.percentile(db, 10))
    loud = float(np.percentile(seg, 90))
    if loud < floor + margin_db or loud < -60:
        where = f"segment {start:.2f}-{end:.2f}s"
        return f"{where} is not audible on channel 0 ({loud:.1f} dB vs floor {floor:.1f} dB)"
    return None
