"""Tiny local corpora for the room and noise tests: a measured-RIR folder, a
noise folder with a speech part for babble, and a Lhotse manifest of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def decaying_impulse(seconds: float, rt60: float, seed: int, sr: int = SR) -> np.ndarray:
    """A measured-looking response: silence, a direct peak, an exponential noise tail."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    x = 0.05 * rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    lead = int(0.004 * sr)  # 4 ms of flight before the direct sound
    x = np.concatenate([np.zeros(lead), x])
    x[lead] = 0.9
    return x


def write_rir_folder(root: Path, sr: int = 8000) -> Path:
    """Two RIRs at another sample rate than the corpus (they must be resampled)."""
    d = root / "rirs"
    d.mkdir(parents=True)
    sf.write(d / "hall.wav", decaying_impulse(0.5, 0.8, 1, sr), sr)
    sf.write(d / "office.flac", decaying_impulse(0.3, 0.3, 2, sr), sr)
    return d


def speechlike(seconds: float, seed: int, sr: int = SR) -> np.ndarray:
    """Amplitude-modulated harmonics: voiced, with syllable-rate gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 110 + 60 * rng.random()
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.random() * 6) / k for k in range(1, 8))
    return 0.2 * x * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) ** 2


def write_noise_folder(root: Path) -> Path:
    """A few short clips: hum and fan noise, and a 'speech' part for babble."""
    d = root / "noise"
    (d / "speech").mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    sf.write(d / "hum.wav", 0.1 * np.sin(2 * np.pi * 50 * t), SR)
    sf.write(d / "fan.wav", 0.05 * rng.standard_normal(SR // 2), 22050)
    for i in range(3):
        sf.write(d / "speech" / f"talker{i}.wav", speechlike(0.8 + 0.2 * i, i), SR)
    return d


def write_recording_manifest(folder: Path, out: Path) -> Path:
    """A Lhotse RecordingSet of every wav under `folder`, as prepare_musan writes one."""
    from lhotse import Recording, RecordingSet

    recs = [Recording.from_file(p, recording_id=p.stem) for p in sorted(folder.rglob("*.wav"))]
    RecordingSet.from_recordings(recs).to_file(out)
    return out
