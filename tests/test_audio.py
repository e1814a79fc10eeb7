"""The shared audio helpers, checked on synthetic signals with known answers."""

from itertools import pairwise

import numpy as np
import pytest

from datagen import audio

SR = 16000


def tone(seconds: float, freq: float = 440.0, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_to_float32_scales_int16_to_unit_range():
    x = np.array([-32768, 0, 16384, 32767], dtype=np.int16)
    y = audio.to_float32(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, [-1.0, 0.0, 0.5, 32767 / 32768], rtol=1e-6)


def test_to_float32_keeps_float_values():
    x = np.array([0.25, -0.5], dtype=np.float64)
    assert audio.to_float32(x).dtype == np.float32
    np.testing.assert_allclose(audio.to_float32(x), x)


def test_resample_keeps_duration_and_frequency():
    x = tone(1.0, 440.0, sr=22050)
    y = audio.resample(x, 22050, 16000)
    assert y.dtype == np.float32
    assert len(y) == 16000
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16000 / len(y) - 440.0) < 2.0


def test_resample_same_rate_is_a_copy():
    x = tone(0.1)
    y = audio.resample(x, SR, SR)
    assert y is not x and np.array_equal(x, y)


def test_rms_db_of_known_signals():
    assert audio.rms_db(np.ones(100, dtype=np.float32)) == pytest.approx(0.0, abs=1e-6)
    assert audio.rms_db(tone(1.0, amp=1.0)) == pytest.approx(-3.01, abs=0.05)
    assert audio.rms_db(np.zeros(10)) == -120.0
    assert audio.rms_db(np.zeros(0)) == -120.0


def test_trim_silence_returns_offset_of_speech():
    x = np.concatenate([np.zeros(int(0.5 * SR)), tone(1.0), np.zeros(int(0.3 * SR))]).astype(np.float32)
    trimmed, offset = audio.trim_silence(x, SR, pad_s=0.02)
    assert offset == pytest.approx(0.48, abs=0.011)
    assert len(trimmed) / SR == pytest.approx(1.04, abs=0.021)
    # the offset really points at where the trimmed audio came from
    start = int(round(offset * SR))
    np.testing.assert_array_equal(trimmed, x[start : start + len(trimmed)])


def test_trim_silence_threshold_is_relative_to_the_loudest_frame():
    quiet = np.concatenate([np.zeros(SR // 2), tone(0.5, amp=0.001), np.zeros(SR // 2)]).astype(np.float32)
    _, offset = audio.trim_silence(quiet, SR, pad_s=0.0)
    assert offset == pytest.approx(0.5, abs=0.011)


def test_trim_silence_of_silence_is_empty():
    trimmed, offset = audio.trim_silence(np.zeros(SR, dtype=np.float32), SR)
    assert len(trimmed) == 0 and offset == 0.0


def test_fade_ramps_the_ends_only():
    x = np.ones(SR, dtype=np.float32)
    y = audio.fade(x, SR, in_s=0.1, out_s=0.2)
    assert y[0] == 0.0 and y[-1] == 0.0
    assert y[int(0.05 * SR)] == pytest.approx(0.5, abs=0.01)
    assert np.all(y[int(0.1 * SR) : int(0.8 * SR)] == 1.0)
    assert np.all(np.diff(y[: int(0.1 * SR)]) > 0)
    assert np.all(x == 1.0)  # the input is left alone


def test_fade_longer_than_signal_does_not_fail():
    assert len(audio.fade(np.ones(10, dtype=np.float32), SR, 1.0, 1.0)) == 10


def test_peak_normalize():
    y = audio.peak_normalize(tone(0.1, amp=0.1), 0.9)
    assert np.max(np.abs(y)) == pytest.approx(0.9, abs=1e-6)
    z = audio.peak_normalize(np.zeros(5, dtype=np.float32))
    assert np.all(z == 0)


def test_speech_spans_split_at_long_pauses_only():
    x = np.concatenate(
        [tone(0.3), np.zeros(int(0.05 * SR)), tone(0.3), np.zeros(int(0.4 * SR)), tone(0.3)]
    ).astype(np.float32)
    spans = audio.speech_spans(x, SR)
    assert len(spans) == 2
    assert spans[1][0] == pytest.approx(1.05, abs=0.011)


def test_estimate_word_times_fills_the_span_in_order():
    words = ["a", "longer", "word"]
    timed = audio.estimate_word_times(words, 1.0, 3.0)
    assert [w.text for w in timed] == words
    assert timed[0].start == 1.0 and timed[-1].end == pytest.approx(3.0)
    assert all(w.start < w.end for w in timed)
    assert all(a.end <= b.start for a, b in pairwise(timed))
    assert (timed[1].end - timed[1].start) > (timed[0].end - timed[0].start)


def test_estimate_words_from_audio_anchors_phrases_on_pauses():
    x = np.concatenate([tone(0.5), np.zeros(int(0.5 * SR)), tone(1.0)]).astype(np.float32)
    timed = audio.estimate_words_from_audio(["Well,", "that", "is", "fine."], x, SR)
    assert timed[0].end == pytest.approx(0.5, abs=0.011)
    assert timed[1].start == pytest.approx(1.0, abs=0.011)
    assert timed[-1].end == pytest.approx(2.0, abs=0.011)
