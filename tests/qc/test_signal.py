"""Signal checks on synthetic waveforms: each broken kind gets its own reason."""

import numpy as np
import pytest

from datagen.config import QCConfig
from datagen.qc.signal import clip_ratio, max_seconds_for, signal_problem

SR = 16000


def sine(seconds: float = 1.0, amp: float = 0.3, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_clean_tone_passes():
    assert signal_problem(sine(), SR, max_s=2.0) is None


def test_zero_length():
    assert signal_problem(np.zeros(0, np.float32), SR) == "zero_length"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(bad):
    x = sine()
    x[100] = bad
    assert signal_problem(x, SR) == "nan_audio"


def test_nan_wins_over_silence():
    x = np.zeros(SR, np.float32)
    x[5] = np.nan
    assert signal_problem(x, SR) == "nan_audio"


def test_digital_silence_and_a_whisper_are_silent():
    assert signal_problem(np.zeros(SR, np.float32), SR) == "silent"
    assert signal_problem(sine(amp=0.001), SR, min_rms_db=-45) == "silent"  # about -63 dBFS
    assert signal_problem(sine(amp=0.001), SR, min_rms_db=-70) is None


def test_clipped_square_wave():
    x = np.sign(sine(amp=1.0)).astype(np.float32)
    assert clip_ratio(x) > 0.9
    assert signal_problem(x, SR) == "clipped"


def test_a_few_peaks_at_full_scale_are_not_clipping():
    """Peak-normalised TTS output touches 1.0 now and then; only a share above the limit counts."""
    x = sine(amp=0.5)
    x[::400] = 1.0  # 0.25 % of samples
    assert signal_problem(x, SR, max_clip_ratio=0.01) is None
    assert signal_problem(x, SR, max_clip_ratio=0.001) == "clipped"


def test_too_long_only_when_a_limit_is_given():
    x = sine(3.0)
    assert signal_problem(x, SR, max_s=2.0) == "too_long"
    assert signal_problem(x, SR, max_s=3.5) is None
    assert signal_problem(x, SR, max_s=None) is None


def test_limits_by_role_and_kind():
    cfg = QCConfig(max_question_s=12.0, max_answer_s=45.0)
    assert max_seconds_for("assistant", "turn", cfg) == 45.0
    assert max_seconds_for("user", "turn", cfg) == 12.0
    assert max_seconds_for("user", "pause_part", cfg) == 12.0
    assert max_seconds_for("third_party", "distractor", cfg) == 12.0
    assert max_seconds_for("user", "backchannel", cfg) == 12.0
