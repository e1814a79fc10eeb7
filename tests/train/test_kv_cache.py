"""The streaming decoder's growing KV cache: the keys a DynamicCache would hold, without
copying them every block."""

import torch
from transformers import DynamicCache

from datagen.train.streaming.kv_cache import growing_cache


def test_it_holds_what_a_dynamic_cache_holds_and_copies_only_when_full():
    ours, theirs = growing_cache(), DynamicCache()
    g = torch.Generator().manual_seed(0)
    moved = 0
    for step in range(200):
        new = 1 + step % 5  # a few tokens a block, as streaming feeds them
        for layer in range(3):
            k = torch.randn(2, 3, new, 8, generator=g)
            v = torch.randn(2, 3, new, 8, generator=g)
            before = ours.layers[layer]._k.data_ptr() if len(ours.layers) > layer else None
            got_k, got_v = ours.update(k, v, layer)
            want_k, want_v = theirs.update(k, v, layer)
            assert torch.equal(got_k, want_k) and torch.equal(got_v, want_v)
            moved += before is not None and ours.layers[layer]._k.data_ptr() != before
    assert ours.get_seq_length() == theirs.get_seq_length() == sum(1 + s % 5 for s in range(200))
    assert moved <= 3 * 4  # 600 positions a layer from room for 64: a handful of doublings, not 200 copies


def test_a_crop_then_more_keys_is_what_a_dynamic_cache_holds():
    ours, theirs = growing_cache(), DynamicCache()
    g = torch.Generator().manual_seed(1)
    for crop in (0, 3, 0, 40, 0):
        k, v = torch.randn(1, 2, 30, 4, generator=g), torch.randn(1, 2, 30, 4, generator=g)
        for cache in (ours, theirs):
            cache.update(k, v, 0)
            if crop:
                cache.crop(-crop)
    assert torch.equal(ours.layers[0].keys, theirs.layers[0].keys)
    assert torch.equal(ours.layers[0].values, theirs.layers[0].values)
