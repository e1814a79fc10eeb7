"""Causal fbank: 100 frames/s, no look-ahead, and block-by-block equals whole."""

import numpy as np
import torch

from datagen.train.training.features import CausalFbank


def test_frames_per_block_and_blockwise_equals_whole():
    fb = CausalFbank(16000, 80)
    rng = np.random.default_rng(0)
    wave = torch.from_numpy((rng.standard_normal((2, 1280 * 10)) * 0.1).astype(np.float32))
    whole = fb(wave)
    assert whole.shape == (2, 80, 80)  # 8 frames per 80 ms block, 80 mel bins
    hist = fb.history
    padded = torch.nn.functional.pad(wave, (hist, 0))
    for b in range(10):
        chunk = fb.chunk(
            padded[:, hist + b * 1280 : hist + (b + 1) * 1280], padded[:, b * 1280 : b * 1280 + hist]
        )
        assert torch.allclose(chunk, whole[:, 8 * b : 8 * b + 8], atol=1e-4)


def test_no_frame_hears_the_future():
    fb = CausalFbank(16000, 80)
    wave = torch.zeros(1, 1280 * 4)
    later = wave.clone()
    later[0, 1280 * 2 :] = 0.5  # sound from block 2 on
    a, b = fb(wave), fb(later)
    assert torch.equal(a[:, :16], b[:, :16])  # blocks 0 and 1 are untouched
    assert not torch.equal(a[:, 16:24], b[:, 16:24])
