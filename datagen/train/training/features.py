"""Causal 80-dim log-mel fbank at 100 frames/s, per channel, whole or block by block.

The filterbank is Lhotse's Kaldi-compatible one (`Wav2LogFilterBank`, batched
torch). Kaldi frames are 25 ms long every 10 ms; with Lhotse's default
(`snip_edges=False`) a frame is centred on its 10 ms step and reads 7.5 ms
past it. A streaming model must not hear the future, so frames here are
snipped and the signal is left-padded by 15 ms (window - shift): frame i then
covers [10i - 15, 10i + 10) ms and the 8 frames of an 80 ms block end exactly
at the block's end. Every frame depends only on its own samples (no dither,
per-frame DC removal and pre-emphasis), so fbank of a whole dialogue equals
fbank of its blocks computed one at a time with 15 ms of history; the
streaming decoder relies on that and a test proves it.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

FRAME_SHIFT_S = 0.01
FRAME_LENGTH_S = 0.025


class CausalFbank(nn.Module):
    def __init__(self, sampling_rate: int = 16000, num_mel_bins: int = 80):
        super().__init__()
        from lhotse.features.kaldi.layers import Wav2LogFilterBank

        with warnings.catch_warnings():  # snip_edges=True is deliberate (module docstring)
            warnings.simplefilter("ignore")
            self.fbank = Wav2LogFilterBank(
                sampling_rate=sampling_rate,
                frame_length=FRAME_LENGTH_S,
                frame_shift=FRAME_SHIFT_S,
                num_filters=num_mel_bins,
                snip_edges=True,
                dither=0.0,
            )
        self.sampling_rate = sampling_rate
        self.shift = int(FRAME_SHIFT_S * sampling_rate)
        self.history = int(FRAME_LENGTH_S * sampling_rate) - self.shift  # 15 ms of samples

    @torch.no_grad()
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, T) samples from the start of the signal -> (B, T // shift, mels)."""
        x = nn.functional.pad(wave.float(), (self.history, 0))
        return self.fbank(x)

    @torch.no_grad()
    def chunk(self, wave: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """Frames of a chunk given the `history` samples that precede it (zeros at the start)."""
        return self.fbank(torch.cat([history.float(), wave.float()], dim=1))
