"""A KV cache that grows in place (datagen/train/streaming/stream.py's decoder cache).

Why not transformers' DynamicCache: it appends each step's keys with `torch.cat`,
copying the whole cache every block. Streaming takes a few tokens a block for
hundreds of blocks, so those copies were a quarter of `datagen train errors`'
time on the tiny CPU model. This layer keeps a buffer with room to spare
(doubled when full, so each position is copied O(1) times on average) and hands
attention a view of the filled part; the tokens are the same
(tests/train/test_stream.py)."""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer


class GrowingLayer(DynamicLayer):
    """DynamicLayer whose keys and values are views into a buffer that doubles when full."""

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        super().lazy_initialization(key_states, value_states)
        self._k = self._v = None
        self._n = 0

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        new = key_states.shape[-2]
        if self._k is None or self._n + new > self._k.shape[-2]:
            self._grow(key_states, value_states, max(2 * (self._n + new), 64))
        self._k[:, :, self._n : self._n + new] = key_states
        self._v[:, :, self._n : self._n + new] = value_states
        self._n += new
        self.keys, self.values = self._k[:, :, : self._n], self._v[:, :, : self._n]
        return self.keys, self.values

    # transformers' other edits (generation's crop and batch reshuffles) replace the keys
    # and values; the buffer becomes what they left, and the next update grows it.
    def crop(self, tokens_to_remove: int) -> None:
        super().crop(tokens_to_remove)
        self._adopt()

    def batch_repeat_interleave(self, repeats: int) -> None:
        super().batch_repeat_interleave(repeats)
        self._adopt()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        super().batch_select_indices(indices)
        self._adopt()

    def _adopt(self) -> None:
        if self.is_initialized and self._k is not None:
            self._k, self._v, self._n = self.keys, self.values, self.keys.shape[-2]

    def _grow(self, k: torch.Tensor, v: torch.Tensor, size: int) -> None:
        kb = k.new_empty(*k.shape[:2], size, k.shape[-1])
        vb = v.new_empty(*v.shape[:2], size, v.shape[-1])
        if self._n:
            kb[:, :, : self._n] = self._k[:, :, : self._n]
            vb[:, :, : self._n] = self._v[:, :, : self._n]
        self._k, self._v = kb, vb


def growing_cache() -> Cache:
    return Cache(layer_class_to_replicate=GrowingLayer)
