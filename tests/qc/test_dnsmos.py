"""DNSMOS through speechmos's own models and code: noise lowers the scores it should."""

import io
import subprocess

import numpy as np
import pytest
import soundfile as sf

from datagen.audio import resample
from datagen.qc.dnsmos import KEYS, missing, prepare, score, weighted_mean

SR = 16000


def espeak(text: str) -> tuple[np.ndarray, int]:
    """espeak-ng's speech at its own rate (22050 Hz), lead-in and trailing silence cut."""
    wav = subprocess.run(["/usr/bin/espeak-ng", "--stdout", text], capture_output=True, check=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return x[loud[0] : loud[-1] + 1], sr


@pytest.fixture(scope="module")
def clean():
    # ~2.4 s at 16 kHz: speechmos tiles it to 9.6 s, one 9 s window (a test costs ~1 s per score)
    x, sr = espeak("The museum opens at nine in the morning.")
    n = int(2.4 * sr)
    return np.pad(x, (0, max(0, n - len(x))))[:n], sr


def test_the_package_is_installed():
    assert missing() == ""


def test_white_noise_lowers_overall_and_background(clean):
    x, sr = clean
    noisy = x + 0.08 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    a, b = score(x, sr), score(noisy, sr)
    assert set(a) == set(KEYS) and all(1.0 <= v <= 5.0 for v in a.values())
    assert b["ovrl"] < a["ovrl"] - 0.5, (a, b)
    assert b["bak"] < a["bak"] - 1.0, (a, b)
    assert score(x, sr) == a  # one thread, rounded: the same figures on every call


def test_any_rate_is_resampled_and_clipped(clean):
    x, sr = clean
    y = prepare(2.0 * x, sr)  # past full scale: speechmos would refuse it
    assert len(y) == round(len(x) * SR / sr) and np.abs(y).max() <= 1.0
    assert np.allclose(prepare(x, sr), resample(x, sr, SR))
    assert prepare(np.stack([x, x]), sr).shape == y.shape  # 2 channels: their mean


def test_bad_clips_are_refused_not_looped_on():
    with pytest.raises(ValueError, match="empty"):
        score(np.zeros(0, np.float32), SR)  # speechmos's tiling would never end
    with pytest.raises(ValueError, match="finite"):
        score(np.full(SR, np.nan, np.float32), SR)


def test_weighted_mean():
    a = dict.fromkeys(KEYS, 2.0)
    b = dict.fromkeys(KEYS, 4.0)
    assert weighted_mean([(a, 1.0), (b, 3.0)]) == dict.fromkeys(KEYS, 3.5)
    assert weighted_mean([]) is None
