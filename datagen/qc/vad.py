"""Speech spans with silero-vad, and trimming an utterance to its speech.

Energy trimming (datagen.audio.trim_silence) is fooled by breaths, clicks
and vocoder hiss at the edges of a synthesized clip; silero-vad listens for
speech itself, so the timeline's gaps and the `<shift>` labels line up with
what a listener (and the VAD check on channel 1) hears as speech.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from datagen.audio import resample
from datagen.records import Utterance, Word

VAD_SR = 16000  # silero-vad runs at 8 or 16 kHz; 16 kHz is the corpus default anyway

WINDOW = 512  # samples silero-vad scores at a time at 16 kHz
CONTEXT = 64  # samples of the previous window it sees with each one

_MODEL: Any = None
_MODEL_LOCK = threading.Lock()


def _model() -> Any:
    """The silero-vad model, loaded once per process (it ships in the wheel).

    Its ONNX export on onnxruntime (one thread, as silero sets it), not the
    TorchScript one: half the time per window (487 s of speech: 1.3 s against
    2.7 s), with probabilities within 4e-5 of TorchScript's and none of 15,254
    windows on the other side of 0.5; a 64-dialogue recipes/tiny.yaml corpus
    came out byte-identical either way."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            from silero_vad import load_silero_vad

            _MODEL = load_silero_vad(onnx=True)
    return _MODEL


def speech_probs(clips: Sequence[np.ndarray], rows: int = 16) -> list[np.ndarray]:
    """silero-vad's speech probability for every 512-sample window of each
    16 kHz clip, the clips scored `rows` at a time.

    Why not silero's own `audio_forward`: it scores one clip at a time, one
    onnxruntime call and a few torch ops per 32 ms window. Here clips of
    similar length run side by side as rows of one batch (the model takes a
    batch, each row with its own recurrent state), a row leaving the batch
    when its clip ends; windows, zero padding and the 64-sample context are
    built as `audio_forward` builds them, so each clip's probabilities are
    the same bit for bit (tests/qc/test_vad.py). 30 assistant answers (397 s):
    1.10 s one by one through audio_forward, 0.41 s 16 at a time (0.86 s one
    at a time here: the torch ops were a fifth of it). `rows` bounds the
    padded copy a batch holds (16 clips of 30 s: 31 MB).
    """
    xs = [np.asarray(x, dtype=np.float32).reshape(-1) for x in clips]
    out = [np.zeros(0, np.float32) for _ in xs]
    order = sorted((i for i in range(len(xs)) if xs[i].size), key=lambda i: -xs[i].size)
    for k in range(0, len(order), rows):
        group = order[k : k + rows]
        for i, probs in zip(group, _score_rows([xs[i] for i in group]), strict=True):
            out[i] = probs
    return out


def _score_rows(xs: list[np.ndarray]) -> list[np.ndarray]:
    """`speech_probs` of clips sorted longest first, as one batch."""
    steps = [-(-x.size // WINDOW) for x in xs]
    padded = np.zeros((len(xs), steps[0] * WINDOW + CONTEXT), np.float32)
    for row, x in enumerate(xs):
        padded[row, CONTEXT : CONTEXT + x.size] = x
    state = np.zeros((2, len(xs), 128), np.float32)
    probs = np.zeros((len(xs), steps[0]), np.float32)
    sr = np.array(VAD_SR, dtype=np.int64)
    session = _model().session  # onnxruntime sessions may run from several threads at once
    live = len(xs)
    for step in range(steps[0]):
        while steps[live - 1] <= step:  # the shortest rows are last and leave first
            live -= 1
        a = step * WINDOW
        feed = {
            "input": padded[:live, a : a + WINDOW + CONTEXT],
            "state": np.ascontiguousarray(state[:, :live]),
        }
        p, state[:, :live] = session.run(None, {**feed, "sr": sr})
        probs[:live, step] = p[:, 0]
    return [probs[row, : steps[row]] for row in range(len(xs))]


def speech_spans_many(
    clips: Sequence[tuple[np.ndarray, int]], threshold: float = 0.5
) -> list[list[tuple[float, float]]]:
    """`speech_spans` of several (audio, sample rate) clips, scored as one batch
    (`speech_probs`): what a stage with many utterances at hand should call."""
    from silero_vad import get_speech_timestamps_from_probs

    xs = [resample(a, sr, VAD_SR) for a, sr in clips]  # a float32 copy when sr is VAD_SR already
    out = []
    for x, probs in zip(xs, speech_probs(xs), strict=True):
        if x.size == 0:
            out.append([])
            continue
        spans = get_speech_timestamps_from_probs(
            probs.tolist(),
            sampling_rate=VAD_SR,
            threshold=threshold,
            speech_pad_ms=0,
            return_seconds=True,
            time_resolution=3,
            audio_length_samples=len(x),
        )
        out.append([(float(s["start"]), float(s["end"])) for s in spans])
    return out


def speech_spans(audio: np.ndarray, sr: int, threshold: float = 0.5) -> list[tuple[float, float]]:
    """(start, end) seconds of each stretch of speech silero-vad hears.

    `speech_pad_ms=0` so the spans are the detector's own boundaries; callers
    add the padding they want. Millisecond resolution: the default rounds to
    0.1 s, coarser than one 80 ms label block.
    """
    return speech_spans_many([(audio, sr)], threshold)[0]


def crop_utterance(utt: Utterance, start_s: float, end_s: float) -> Utterance:
    """The part of `utt` between start_s and end_s, with word timings shifted.

    Words are clamped into the new clip, never dropped: the composer finds
    overlay positions by word index (Overlay.at_word), so the word list must
    keep one entry per word of the text even if an edge word lost its audio.
    """
    sr = utt.sample_rate
    a = max(0, int(round(start_s * sr)))
    b = min(len(utt.audio), int(round(end_s * sr)))
    b = max(a, b)
    if a == 0 and b == len(utt.audio):
        return utt
    offset = a / sr
    dur = (b - a) / sr
    words = tuple(
        Word(
            text=w.text,
            start=min(max(w.start - offset, 0.0), dur),
            end=min(max(w.end - offset, 0.0), dur),
        )
        for w in utt.words
    )
    return dataclasses.replace(utt, audio=utt.audio[a:b].copy(), words=words)


def vad_trim(utt: Utterance, pad_s: float = 0.05) -> Utterance:
    """Cut leading and trailing non-speech, keeping `pad_s` around the speech.

    Silence inside the clip is kept (it is part of how the text was said).
    When silero hears no speech at all the utterance comes back unchanged:
    whether that is a reason to reject is the caller's decision.
    """
    spans = speech_spans(utt.audio, utt.sample_rate)
    if not spans:
        return utt
    return crop_utterance(utt, spans[0][0] - pad_s, spans[-1][1] + pad_s)
