"""Our Shar writer hands the arrays we hold straight to Lhotse's field writers
(datagen/io/shar.py `_write_cut`); it must write exactly what Lhotse's own
`SharWriter.write` writes for the same cut, byte for byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datagen.io.shar import SHAR_FIELDS, _zero_gzip_mtime, load_cuts, pcm16, to_cut, write_samples
from tests.e2e_support import small_recipe


@pytest.fixture(scope="module")
def samples():
    from bench.shar_io import composed_samples

    recipe = small_recipe("dialogues=4", "mix={barge_in_user: 1, barge_in_related: 1, qa: 1, backchannel: 1}")
    out = composed_samples(recipe)
    assert any(s.full_answers for s in out) and any(not s.full_answers for s in out)
    return out


def _lhotse_writer(samples, out: Path) -> None:
    from lhotse.shar import SharWriter

    out.mkdir(parents=True)
    with SharWriter(str(out), fields=SHAR_FIELDS, shard_size=len(samples) + 1, shard_offset=0) as w:
        for s in samples:
            w.write(to_cut(s))
    for p in out.glob("*.gz"):
        _zero_gzip_mtime(p)


def test_same_bytes_as_lhotse_sharwriter(samples, tmp_path):
    write_samples(samples, tmp_path / "ours", 0)
    _lhotse_writer(samples, tmp_path / "lhotse")
    ours = sorted(p.name for p in (tmp_path / "ours").iterdir())
    assert ours == sorted(p.name for p in (tmp_path / "lhotse").iterdir())
    for name in ours:
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "lhotse" / name).read_bytes(), name


def test_round_trip_holds_the_16_bit_samples(samples, tmp_path):
    write_samples(samples, tmp_path / "shar", 0)
    cuts = {c.id: c for c in load_cuts(tmp_path)}
    for s in samples:
        cut = cuts[s.id]
        want = pcm16(s.audio).astype(np.float32) / 32768
        np.testing.assert_array_equal(cut.load_audio(), want)
        np.testing.assert_array_equal(cut.load_labels(), s.labels)
        assert np.max(np.abs(want - s.audio)) <= 1 / 32768 + 1e-7  # quantisation, nothing else


def test_pcm16_is_libsndfile_conversion():
    """The numpy conversion equals a libsndfile 16-bit write, sample for sample."""
    import io

    import soundfile as sf

    rng = np.random.default_rng(0)
    ties = (2 * np.arange(-3000, 3000) + 1).astype(np.float64) * 2.0**-32  # x * 2^31 = k + 0.5
    steps = np.arange(-40000, 40000) / 32768.0  # every 16-bit step, and beyond full scale
    x = np.concatenate(
        [ties, steps, steps + 2.0**-17, rng.uniform(-1.2, 1.2, 200_000), [1.0, -1.0, 0.0, -0.0, 3.0, -3.0]]
    ).astype(np.float32)
    audio = np.stack([x, x[::-1]])
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio.T, -1.0, 1.0), 16000, format="RAW", subtype="PCM_16")
    want = np.frombuffer(buf.getvalue(), dtype="<i2").reshape(-1, 2).T
    np.testing.assert_array_equal(pcm16(audio), want)
