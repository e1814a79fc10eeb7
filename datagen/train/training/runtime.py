"""What SFT and DPO training share: devices, DDP, seeds, optimizer, schedule, metrics.

Several GPUs go through `torchrun` and PyTorch DDP (`WORLD_SIZE`, `RANK`,
`LOCAL_RANK` from the launcher); nothing here distributes work by hand.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from datagen.train.common.config import OptimConfig, TrainConfig
from datagen.train.common.precision import emulated_bf16_warning


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
    return Dist(rank=dist.get_rank(), world=world, local_rank=local)


def teardown_distributed() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def pick_device(choice: str, d: Dist) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device: cuda was asked for but no CUDA GPU is visible")
        return torch.device("cuda", d.local_rank)
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def deterministic_on_cpu(device: torch.device) -> None:
    """On a CPU, PyTorch's deterministic algorithms, so a run with several threads gives the
    same bytes each time (same recipe + seed). Why: the backward of indexing a parameter
    by a tensor (the turn-state embedding, `model.state_emb[speaking]`) accumulates with
    several threads in whatever order they finish; two 2-thread SFT runs of the tiny
    recipe differed in 63 of 66 tensors after 15 steps. The deterministic path sums in
    index order, as one thread does (a 1-thread run's bytes are unchanged). `warn_only`:
    an op without a deterministic kernel warns instead of stopping the run. GPUs are
    left alone (cuBLAS needs its own workspace setting; docs/trainer.md)."""
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)


def configure_threads(cfg: TrainConfig) -> None:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)


@contextmanager
def torch_threads(n: int | None):
    """torch's CPU threads set to `n` (None: unchanged) for a block, then put back. A small
    model's block-by-block decode on 2 threads of a busy 2-core box ran 50x slower than on 1."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def warn_emulated_bf16(cfg: TrainConfig, device: torch.device, d: Dist) -> None:
    """Say so when a run asked for bf16 where it is emulated (common/precision.py)."""
    warning = emulated_bf16_warning(bool(cfg.bf16), device.type)
    if warning and d.main:
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def make_optimizer(model: torch.nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """AdamW over what trains; no weight decay on biases, norms and embeddings of one row."""
    decay, plain = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else plain).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def make_scheduler(opt: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int):
    """Linear warm-up, then cosine or linear decay to zero, or constant."""
    warm = cfg.warmup_steps

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if cfg.schedule == "constant":
            return 1.0
        progress = min((step - warm) / max(total_steps - warm, 1), 1.0)
        if cfg.schedule == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


class MetricsLog:
    """Metrics as JSONL (and TensorBoard when installed); rank 0 writes.

    On resume, rows past the checkpoint's step (logged before a kill) are
    dropped so the file reads as one uninterrupted run."""

    def __init__(self, out: Path, enabled: bool, tensorboard: bool, resume_step: int | None):
        self.path = out / "metrics.jsonl"
        self.enabled = enabled
        self.tb = None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("")
        elif self.path.is_file():
            rows = [json.loads(x) for x in self.path.read_text().splitlines() if x.strip()]
            keep = [r for r in rows if r.get("step", 0) <= resume_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in keep))
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out / "tensorboard"))
            except ImportError:  # tensorboard is optional
                self.tb = None

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            split = row.get("split", "train")
            for k, v in row.items():
                if isinstance(v, (int, float)) and k not in ("step", "epoch"):
                    self.tb.add_scalar(f"{split}/{k}", v, row.get("step", 0))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def mean_stats(rows: list[dict]) -> dict:
    """Block-weighted means of per-batch stats."""
    total = sum(r["blocks"] for r in rows) or 1
    keys = [k for k in rows[0] if k != "blocks"] if rows else []
    out = {k: round(sum(r[k] * r["blocks"] for r in rows) / total, 5) for k in keys}
    out["blocks"] = total
    return out
