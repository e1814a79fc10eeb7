"""Speech spans with silero-vad, and trimming an utterance to its speech.

Energy trimming (datagen.audio.trim_silence) is fooled by breaths, clicks
and vocoder hiss at the edges of a synthesized clip; silero-vad listens for
speech itself, so the timeline's gaps and the `<shift>` labels line up with
what a listener (and the VAD check on channel 1) hears as speech.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import numpy as np

from datagen.audio import resample
from datagen.records import Utterance, Word

VAD_SR = 16000  # silero-vad runs at 8 or 16 kHz; 16 kHz is the corpus default anyway

_MODEL: Any = None
# The model carries its recurrent state between windows: one utterance at a time.
_MODEL_LOCK = threading.Lock()


def _model() -> Any:
    """The silero-vad model, loaded once per process (it ships in the wheel).

    Its ONNX export on onnxruntime (one thread, as silero sets it), not the
    TorchScript one: half the time per window (487 s of speech: 1.3 s against
    2.7 s), with probabilities within 4e-5 of TorchScript's and none of 15,254
    windows on the other side of 0.5; a 64-dialogue recipes/tiny.yaml corpus
    came out byte-identical either way."""
    global _MODEL
    if _MODEL is None:
        from silero_vad import load_silero_vad

        _MODEL = load_silero_vad(onnx=True)
    return _MODEL


def speech_spans(audio: np.ndarray, sr: int, threshold: float = 0.5) -> list[tuple[float, float]]:
    """(start, end) seconds of each stretch of speech silero-vad hears.

    `speech_pad_ms=0` so the spans are the detector's own boundaries; callers
    add the padding they want. Millisecond resolution: the default rounds to
    0.1 s, coarser than one 80 ms label block.
    """
    import torch
    from silero_vad import get_speech_timestamps_from_probs

    x = np.asarray(audio, dtype=np.float32)
    if x.size == 0:
        return []
    if sr != VAD_SR:
        x = resample(x, sr, VAD_SR)
    # silero's get_speech_timestamps calls the model once per 512-sample window;
    # the model's own audio_forward runs the same windows (zero-padded at the
    # end, state carried) in one call: the same probabilities bit for bit
    # (tests/qc/test_vad.py).
    with _MODEL_LOCK:
        model = _model()
        model.reset_states()
        with torch.inference_mode():
            probs = model.audio_forward(torch.from_numpy(np.ascontiguousarray(x)), VAD_SR)
        probs = probs.reshape(-1).tolist()
    spans = get_speech_timestamps_from_probs(
        probs,
        sampling_rate=VAD_SR,
        threshold=threshold,
        speech_pad_ms=0,
        return_seconds=True,
        time_resolution=3,
        audio_length_samples=len(x),
    )
    return [(float(s["start"]), float(s["end"])) for s in spans]


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
