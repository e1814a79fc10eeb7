"""The Llama-3-8B LoRA config on a GPU (skipped without CUDA).

With DATAGEN_LLAMA3_PATH set to a local Llama-3-8B-Instruct folder it loads the
real weights; otherwise a random-weight backbone of the same shape is built in
code (shape-true cost, as bench/gpu_trainer.py measures it)."""

import os
from pathlib import Path

import pytest
import torch

from datagen.train.common.config import load_train_config

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.gpu


@pytest.fixture
def cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    return torch.device("cuda")


def test_llama3_8b_lora_config_trains_on_a_gpu(cuda):
    from datagen.train.training.model import build_on
    from datagen.train.training.vocab import LabelVocab

    path = os.environ.get("DATAGEN_LLAMA3_PATH")
    shape = (
        []
        if path
        else [
            "backbone.path=null",
            "backbone.hidden=4096",
            "backbone.layers=32",
            "backbone.heads=32",
            "backbone.kv_heads=8",
            "backbone.intermediate=14336",
        ]
    )
    cfg = load_train_config(
        ROOT / "recipes/train/llama3_8b_lora.yaml", shape + ([f"backbone.path={path}"] if path else [])
    )
    assert cfg.lora.r == 32 and cfg.bf16 and cfg.grad_checkpointing
    vocab = LabelVocab("gpu-test", 128258, 128256, 128257)
    model = build_on(cfg, vocab, cuda).train()
    n = 450  # 36 s of dialogue, 2,250 positions
    batch = {
        "env": torch.randn(1, 8 * n, 80, device=cuda),
        "asst": torch.randn(1, 8 * n, 80, device=cuda),
        "tokens": torch.randint(0, 1000, (1, n), device=cuda),
    }
    batch["targets"] = batch["tokens"].clone()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(4):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss, _ = model.sft_loss(batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert torch.cuda.max_memory_allocated() < 70 * 2**30
