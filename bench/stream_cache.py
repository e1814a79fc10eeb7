"""Streaming decode with the growing KV cache vs transformers' DynamicCache (`make bench`).

The tiny CPU recipe's model (recipes/train/tiny_cpu.yaml, random weights: the cost
of a cache does not depend on what the model learned) streams the first 16
dialogues of the bench's corpus with each cache in turn, A B A B, in one process;
the tokens must agree (datagen/train/streaming/kv_cache.py says why it exists)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def growing_vs_dynamic(corpus: Path, repeats: int = 3, n: int = 16) -> dict:
    import numpy as np
    import torch
    from transformers import DynamicCache

    from datagen.train.common.config import load_train_config
    from datagen.train.common.precision import native_bf16
    from datagen.train.streaming.errors import dialogues_of, label_encoder
    from datagen.train.streaming.kv_cache import growing_cache
    from datagen.train.streaming.stream import decode
    from datagen.train.training.loop import Run
    from datagen.train.training.runtime import Dist

    cfg = load_train_config(ROOT / "recipes" / "train" / "tiny_cpu.yaml")
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"train": [str(corpus)]})})
    torch.manual_seed(0)
    run = Run(cfg, Dist(), torch.device("cpu"))
    model = run.model.eval()
    encode = label_encoder(run.vocab.tokenizer, None)
    dialogues = [d for d, _ in itertools.islice(dialogues_of(corpus, encode), n)]
    bf16 = bool(cfg.bf16) and native_bf16("cpu")

    def timed(new_cache) -> tuple[float, list[np.ndarray]]:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
        t0 = time.perf_counter()
        tracks, _ = decode(
            model,
            dialogues,
            0.08,
            cfg.encoder.assistant_lag_blocks,
            torch.device("cpu"),
            autocast,
            shift_threshold=0.5,
            new_cache=new_cache,
        )
        return time.perf_counter() - t0, tracks

    pairs, same = [], True
    for _ in range(repeats):
        a, ours = timed(growing_cache)
        b, theirs = timed(DynamicCache)
        pairs.append((a, b))
        same = same and all(np.array_equal(x, y) for x, y in zip(ours, theirs, strict=True))
    return {
        "pairs": pairs,
        "same_tokens": same,
        "blocks": sum(d.n_blocks for d in dialogues),
        "dialogues": len(dialogues),
    }
