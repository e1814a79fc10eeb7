"""The bundled trainer's GPU rows: our own code paths at Llama-3-8B shape, random weights.

Run where a GPU is lent (the device tool), not as a test:

    python bench/gpu_trainer.py            # one H100: SFT steps, a DPO pair, streaming decode
    python bench/gpu_trainer.py --smoke    # the same code on a tiny shape, on the CPU (does it run?)

It builds `DuplexModel` (encoder + connector + a Llama-3-8B-shaped backbone:
hidden 4096, 32 layers, 32/8 heads, MLP 14336, vocabulary 128,256 + <think>
<shift>) with LoRA r32 on every linear layer, bf16, gradient checkpointing, as
recipes/train/llama3_8b_lora.yaml trains it, and times:

- an SFT step (forward + backward + AdamW) on one dialogue of 450 and 2,250
  blocks (2,250 and 11,250 positions: 36 s and the paper's 3-minute cap);
- a DPO pair (policy forward/backward on both sides, reference forward with the
  adapter disabled), 450 blocks a side;
- streaming decode (`datagen.train.streaming.stream.decode`: KV caches, own voice rebuilt
  each block) at batch 1, 32 and 128, as multiples of real time.

It prints one JSON line per figure, beside the plain-transformers anchors of
shared/TRAINER.md (measured on one H100 with random weights).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import torch

ANCHORS = {  # shared/TRAINER.md, plain transformers + peft, one H100
    "sft_2250_s_per_step": 0.44,
    "sft_11250_s_per_step": 2.25,
    "dpo_pair_s": 1.03,
    "stream_b1_x_realtime": 0.6,
    "stream_b32_x_realtime": 25.0,
    "stream_b128_x_realtime": 69.0,
}


def build(smoke: bool, device: torch.device):
    from datagen.train.common.config import TrainConfig
    from datagen.train.training.model import build_on
    from datagen.train.training.vocab import LabelVocab

    if smoke:
        backbone = {"hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate": 128}
        encoder, vocab = (
            {"dim": 64, "conv_channels": 64, "heads": 2, "layers": 1},
            LabelVocab("bench", 1002, 1000, 1001),
        )
    else:
        backbone = {"hidden": 4096, "layers": 32, "heads": 32, "kv_heads": 8, "intermediate": 14336}
        encoder, vocab = (
            {"dim": 512, "conv_channels": 512, "heads": 8, "layers": 4},
            LabelVocab("bench", 128258, 128256, 128257),
        )
    cfg = TrainConfig.model_validate(
        {
            "bf16": not smoke,
            "grad_checkpointing": True,
            "backbone": backbone,
            "encoder": encoder,
            "lora": {"r": 32, "alpha": 64},
            "device": device.type,
        }
    )
    return build_on(cfg, vocab, device), cfg, vocab


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _batch(n_blocks: int, vocab, device, rows: int = 1) -> dict:
    return {
        "env": torch.randn(rows, 8 * n_blocks, 80, device=device),
        "asst": torch.randn(rows, 8 * n_blocks, 80, device=device),
        "tokens": torch.randint(0, 1000, (rows, n_blocks), device=device),
        "targets": torch.randint(0, 1000, (rows, n_blocks), device=device),
    }


def timed(fn, device, n: int = 3) -> float:
    fn()
    _sync(device)
    t = time.time()
    for _ in range(n):
        fn()
    _sync(device)
    return (time.time() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="tiny shape, CPU: check the script runs")
    ap.add_argument("--json", type=Path, help="also write every figure here (for bench.device_rows)")
    args = ap.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        ap.error("no CUDA GPU here: the Llama-3-8B shape needs one (--smoke runs a tiny shape on the CPU)")
    device = torch.device("cuda" if not args.smoke else "cpu")
    model, cfg, vocab = build(args.smoke, device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16)
    out = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "smoke": args.smoke}

    def report(name, value, unit):
        row = {"figure": name, "value": round(value, 3), "unit": unit, "anchor": ANCHORS.get(name)}
        print(json.dumps(row), flush=True)
        out[name] = value

    model.train()
    for blocks in (450, 2250) if not args.smoke else (45, 90):
        batch = _batch(blocks, vocab, device)

        def step(batch=batch):
            with autocast:
                loss, _ = model.sft_loss(batch)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        s = timed(step, device)
        report(f"sft_{blocks * 5}_s_per_step", s, "s")
        report(f"sft_{blocks * 5}_positions_per_s", blocks * 5 / s, "positions/s")
        if device.type == "cuda":
            report(f"sft_{blocks * 5}_peak_gib", torch.cuda.max_memory_allocated() / 2**30, "GiB")

    from datagen.train.preference.dpo import dpo_loss, sequence_logps

    blocks = 450 if not args.smoke else 45
    pair = _batch(blocks, vocab, device, rows=2)
    pair["scored"] = torch.ones(2, blocks, dtype=torch.bool, device=device)

    def dpo_step():
        with autocast:
            with torch.no_grad(), model.backbone.disable_adapter():
                ref = sequence_logps(model, pair)
            loss, _ = dpo_loss(sequence_logps(model, pair), ref, 0.1)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    report("dpo_pair_s", timed(dpo_step, device, n=2), "s")

    from datagen.train.streaming.stream import Dialogue, decode
    from datagen.train.training.answers import Answer

    sr, seconds = 16000, 8.0 if not args.smoke else 2.0
    n = int(seconds / 0.08)
    rng = np.random.default_rng(0)
    answer = Answer(1, 0.32, (rng.standard_normal(sr * 4) * 0.05).astype(np.float32), 50, (), 0, 50, False)
    for b in (1, 32, 128) if not args.smoke else (1, 4):
        dialogues = [
            Dialogue(f"d{i}", (rng.standard_normal(n * 1280) * 0.05).astype(np.float32), n, [answer], sr)
            for i in range(b)
        ]
        s = timed(lambda d=dialogues: decode(model, d, 0.08, 0, device, autocast), device, n=1)
        report(f"stream_b{b}_x_realtime", b * seconds / s, "x real time")
    print(json.dumps(out), flush=True)
    if args.json:
        out["when"] = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
        out["anchors"] = ANCHORS
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
