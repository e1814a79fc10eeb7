"""silero-vad on real (espeak-ng) speech padded with silence."""

import io
import subprocess

import numpy as np
import pytest
import soundfile as sf

from datagen.audio import estimate_word_times, resample
from datagen.qc.vad import crop_utterance, speech_spans, vad_trim
from datagen.records import Utterance, Word

SR = 16000
LEAD, TAIL = 1.0, 1.5


def espeak(text: str, sr: int = SR) -> np.ndarray:
    wav = subprocess.run(["/usr/bin/espeak-ng", "--stdout", text], capture_output=True, check=True).stdout
    x, native = sf.read(io.BytesIO(wav), dtype="float32")
    return resample(x, native, sr)


@pytest.fixture(scope="module")
def speech():
    """(padded audio, speech start, speech end) with the speech's own extent measured by energy."""
    x = espeak("The museum opens at nine in the morning and closes at five.")
    loud = np.flatnonzero(np.abs(x) > 0.01)
    core = x[loud[0] : loud[-1] + 1]
    padded = np.concatenate(
        [np.zeros(int(LEAD * SR), np.float32), core, np.zeros(int(TAIL * SR), np.float32)]
    )
    return padded, LEAD, LEAD + len(core) / SR


def test_spans_cover_the_speech_and_not_the_silence(speech):
    x, start, end = speech
    spans = speech_spans(x, SR)
    assert spans, "silero heard no speech in espeak output"
    assert abs(spans[0][0] - start) < 0.15
    assert abs(spans[-1][1] - end) < 0.25
    assert all(a < b for a, b in spans)


def test_silence_has_no_speech():
    assert speech_spans(np.zeros(2 * SR, np.float32), SR) == []
    assert speech_spans(np.zeros(0, np.float32), SR) == []


def test_other_sample_rates_are_resampled(speech):
    x, _, _ = speech
    at_22k = speech_spans(resample(x, SR, 22050), 22050)
    at_16k = speech_spans(x, SR)
    assert len(at_22k) == len(at_16k)
    assert abs(at_22k[0][0] - at_16k[0][0]) < 0.05
    assert abs(at_22k[-1][1] - at_16k[-1][1]) < 0.05


def test_vad_trim_cuts_the_edges_and_shifts_words(speech):
    x, start, end = speech
    text = "The museum opens at nine in the morning and closes at five."
    words = estimate_word_times(text.split(), start, end)
    utt = Utterance(key="t1", text=text, speaker="s", role="assistant", audio=x, sample_rate=SR, words=words)
    out = vad_trim(utt, pad_s=0.05)
    assert out.text == utt.text and out.key == "t1"
    assert abs(out.duration - (end - start + 0.1)) < 0.3
    assert out.duration < utt.duration - 2.0
    offset = out.words[0].start - words[0].start  # every word moves by the same amount
    assert abs(offset + (start - 0.05)) < 0.15
    for old, new in zip(words[1:-1], out.words[1:-1], strict=True):
        assert new.start == pytest.approx(old.start + offset, abs=1e-3)
    assert len(out.words) == len(words)
    assert all(0.0 <= w.start <= w.end <= out.duration + 1e-9 for w in out.words)


def test_vad_trim_without_speech_leaves_the_utterance_alone():
    utt = Utterance("t0", "hello", "s", "user", np.zeros(SR, np.float32), SR)
    assert vad_trim(utt) is utt


def test_crop_clamps_words_without_dropping_any():
    audio = np.ones(4 * SR, np.float32) * 0.1
    words = (Word("a", 0.2, 0.8), Word("b", 1.0, 2.0), Word("c", 2.5, 3.5), Word("d", 3.8, 3.9))
    utt = Utterance("t0", "a b c d", "s", "user", audio, SR, words=words)
    out = crop_utterance(utt, 0.5, 3.0)
    assert out.duration == pytest.approx(2.5)
    assert [w.text for w in out.words] == ["a", "b", "c", "d"]
    assert out.words[0] == Word("a", 0.0, pytest.approx(0.3))
    assert out.words[1] == Word("b", pytest.approx(0.5), pytest.approx(1.5))
    assert out.words[2] == Word("c", pytest.approx(2.0), pytest.approx(2.5))
    assert out.words[3] == Word("d", pytest.approx(2.5), pytest.approx(2.5))
    assert crop_utterance(utt, -1.0, 10.0) is utt


@pytest.mark.parametrize("cut", [0, 1, 511, 777])
def test_spans_are_silero_get_speech_timestamps_exactly(speech, cut):
    """speech_spans runs the model through audio_forward, not silero's per-window
    Python loop: the spans must be those of get_speech_timestamps, to the sample,
    whatever the length's remainder modulo the 512-sample window."""
    import torch
    from silero_vad import get_speech_timestamps

    from datagen.qc.vad import _model

    x = speech[0][: len(speech[0]) - cut]
    noisy = x + np.random.default_rng(cut).normal(0, 0.01, len(x)).astype(np.float32)
    for audio in (x, noisy):
        ref = get_speech_timestamps(
            torch.from_numpy(audio.copy()),
            _model(),
            sampling_rate=SR,
            speech_pad_ms=0,
            return_seconds=True,
            time_resolution=3,
        )
        assert speech_spans(audio, SR) == [(s["start"], s["end"]) for s in ref]


@pytest.mark.parametrize("rows", [1, 2, 16])
def test_batched_probabilities_are_audio_forwards_bit_for_bit(speech, rows):
    """speech_probs scores clips side by side as rows of one batch, a row leaving
    when its clip ends; each clip's probabilities must be those silero's own
    audio_forward gives it alone, whatever its length modulo the 512-sample window."""
    import torch

    from datagen.qc.vad import _model, speech_probs

    x = speech[0]
    rng = np.random.default_rng(rows)
    clips = [
        x,
        x[:513],
        x[: len(x) // 3] + rng.normal(0, 0.01, len(x) // 3).astype(np.float32),
        np.zeros(0, np.float32),
        x[1000:1512],
        x[::-1].copy(),
        x[:100],
    ]
    got = speech_probs(clips, rows=rows)
    assert len(got) == len(clips) and got[3].size == 0
    model = _model()
    for clip, probs in zip(clips, got, strict=True):
        if clip.size < 512:  # silero's audio_forward refuses a clip under one window
            assert probs.size == (1 if clip.size else 0)
            continue
        with torch.inference_mode():
            ref = model.audio_forward(torch.from_numpy(clip.copy()), SR).reshape(-1).numpy()
        np.testing.assert_array_equal(probs, ref)


def test_spans_of_many_clips_are_each_clips_own(speech):
    from datagen.qc.vad import speech_spans_many

    x = speech[0]
    clips = [(x, SR), (np.zeros(SR, np.float32), SR), (resample(x, SR, 22050), 22050), (x[: SR // 2], SR)]
    assert speech_spans_many(clips) == [speech_spans(a, sr) for a, sr in clips]
