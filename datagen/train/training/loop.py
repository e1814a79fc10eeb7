"""Supervised fine-tuning on the corpus's gold label tracks (`datagen train sft`).

AdamW with warm-up, gradient accumulation, a progress bar with the loss,
held-out loss each epoch, metrics to JSONL/TensorBoard, checkpoints that
resume to the identical next step, DDP under `torchrun`.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import torch

from datagen.train.common.config import TrainConfig
from datagen.train.training import checkpoint as ckpt
from datagen.train.training.data import (
    DuplexDataset,
    StreamBatcher,
    corpus_tokenizer,
    first_cut,
    make_sampler,
    split_cuts,
)
from datagen.train.training.model import DuplexModel, LossWeights
from datagen.train.training.plots import training_curves
from datagen.train.training.runtime import (
    Dist,
    MetricsLog,
    configure_threads,
    deterministic_on_cpu,
    make_optimizer,
    make_scheduler,
    mean_stats,
    pick_device,
    seed_everything,
    setup_distributed,
    teardown_distributed,
    warn_emulated_bf16,
)
from datagen.train.training.vocab import hf_vocab, tiny_vocab


def make_vocab(cfg: TrainConfig, corpus_tok: str):
    if cfg.backbone.path:
        return hf_vocab(corpus_tok, cfg.backbone.path)
    return tiny_vocab(corpus_tok), None


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


class Run:
    """The parts of one training run, built once: model, data, optimizer, schedule."""

    def __init__(self, cfg: TrainConfig, dist: Dist, device: torch.device):
        self.cfg, self.dist, self.device = cfg, dist, device
        self.out = Path(cfg.out)
        cut0 = first_cut(cfg.data.train)
        meta = cut0.custom["label_meta"]
        self.vocab, self.tokenizer = make_vocab(cfg, corpus_tokenizer(cfg.data.train))
        self.batcher = StreamBatcher(
            self.vocab,
            cut0.sampling_rate,
            meta["block_s"],
            cfg.encoder.assistant_lag_blocks,
            cfg.encoder.num_mel_bins,
        )
        self.label_meta = meta
        self.model = DuplexModel(cfg, self.vocab).to(device)
        self.full_state = cfg.lora is None and cfg.backbone.path is None

    def autocast(self):
        if self.cfg.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return torch.autocast(self.device.type, enabled=False)

    def init_cmvn(self, cuts, n: int = 16) -> None:
        dataset = DuplexDataset(self.batcher)
        batch = dataset[list(cuts.subset(first=n))]
        frames = (batch["n_blocks"] * 8).tolist()
        feats = [batch[s][i, : frames[i]] for s in ("env", "asst") for i in range(len(frames))]
        self.model.init_cmvn(feats)

    def checkpoint(self, step: int, opt, sched, sampler_state, state: dict) -> Path | None:
        if not self.dist.main:
            return None
        return ckpt.save(
            self.out,
            step,
            model_state=ckpt.saved_state(self.model, full=self.full_state),
            optimizer=opt,
            scheduler=sched,
            sampler_state=sampler_state,
            state=state,
            config=self.cfg.model_dump(mode="json"),
            vocab=self.vocab.to_dict() | {"label_meta": self.label_meta},
            keep=self.cfg.keep_checkpoints,
            tokenizer=self.tokenizer,
        )


@torch.no_grad()
def held_out_loss(run: Run, cuts) -> dict:
    run.model.eval()
    sampler = make_sampler(cuts, run.cfg.data, seed=0, shuffle=False)
    dataset = DuplexDataset(run.batcher)
    rows = []
    for batch_cuts in sampler:
        with run.autocast():
            _, stats = run.model.sft_loss(
                to_device(dataset[batch_cuts], run.device), LossWeights.of(run.cfg.optim)
            )
        rows.append(stats)
    run.model.train()
    return mean_stats(rows) if rows else {}


def train_sft(
    cfg: TrainConfig, resume: bool = True, stop_after: int | None = None, progress: bool = True
) -> dict:
    """Train, or continue the run in `cfg.out`. `stop_after` ends the process after that many
    optimizer steps in total without a last checkpoint, as a kill would (resume tests use it)."""
    dist = setup_distributed()
    device = pick_device(cfg.device, dist)
    warn_emulated_bf16(cfg, device, dist)
    configure_threads(cfg)
    seed_everything(cfg.seed)
    deterministic_on_cpu(device)
    run = Run(cfg, dist, device)
    train_cuts, valid_cuts = split_cuts(cfg.data, cfg.seed)

    def new_sampler():
        return make_sampler(train_cuts, cfg.data, cfg.seed, cfg.data.shuffle, dist.world, dist.rank)

    per_epoch = sum(1 for _ in new_sampler())  # a separate sampler: counting must not move the real one
    total = cfg.optim.max_steps or max(cfg.optim.epochs * per_epoch // cfg.optim.grad_accum, 1)
    sampler = new_sampler()
    opt = make_optimizer(run.model, cfg.optim)
    sched = make_scheduler(opt, cfg.optim, total)
    state = {"step": 0, "epoch": 0, "batches_per_epoch": per_epoch, "total_steps": total, "mid_epoch": False}

    found = ckpt.latest(cfg.out) if resume else None
    if found:
        saved = ckpt.load(found, map_location=device)
        ckpt.load_model_state(run.model, saved["model"])
        opt.load_state_dict(saved["optim"]["optimizer"])
        sched.load_state_dict(saved["optim"]["scheduler"])
        state = saved["state"]
        if state.get("done"):
            print(f"[train sft] {cfg.name}: already trained ({found}); --fresh starts over", flush=True)
            return {"step": state["step"], "out": str(run.out), "checkpoint": str(found)}
        if state["mid_epoch"]:
            sampler.load_state_dict(saved["progress"]["sampler"])
        ckpt.set_rng_state(saved["progress"]["rng"])
    else:
        run.init_cmvn(train_cuts)
    log = MetricsLog(run.out, dist.main, cfg.tensorboard, state["step"] if found else None)
    if dist.main:
        where = f"resuming at step {state['step']} from {found}" if found else "from scratch"
        print(f"[train sft] {cfg.name}: {total} steps, {per_epoch} batches per epoch, {where}", flush=True)

    model = run.model
    if dist.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(run.model, device_ids=ids)
    dataset = DuplexDataset(run.batcher, cfg.data.late_decisions, cfg.seed, cfg.data.react_from_s)
    loader = torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=None)
    bar = _progress(total, state["step"], enabled=progress and dist.main)
    accum, rows, t0 = cfg.optim.grad_accum, [], time.time()
    model.train()

    def stopping() -> bool:
        return state["step"] >= total or (stop_after is not None and state["step"] >= stop_after)

    while not stopping() and (cfg.optim.max_steps or state["epoch"] < cfg.optim.epochs):
        if not state["mid_epoch"]:
            sampler.set_epoch(state["epoch"])
            state["mid_epoch"] = True
        dataset.epoch = state["epoch"]
        for micro, batch in enumerate(loader, start=1):
            last = micro % accum == 0
            ctx = model.no_sync() if (dist.world > 1 and not last) else contextlib.nullcontext()
            with ctx, run.autocast():
                loss, stats = model(to_device(batch, device), LossWeights.of(cfg.optim))
                (loss / accum).backward()
            rows.append(stats)
            if not last:
                continue
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.optim.clip_grad)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            state["step"] += 1
            bar.update(1)
            bar.set_postfix(loss=f"{stats['loss']:.3f}", ctrl=f"{stats['ctrl_loss']:.3f}")
            if state["step"] % cfg.log_every == 0 or state["step"] == total:
                m = mean_stats(rows)
                m["blocks_per_s"] = round(m["blocks"] / max(time.time() - t0, 1e-9), 1)
                lr = sched.get_last_lr()[0]
                log.write({"split": "train", "step": state["step"], "epoch": state["epoch"], "lr": lr, **m})
                rows, t0 = [], time.time()
            if state["step"] % cfg.save_every == 0:
                run.checkpoint(state["step"], opt, sched, sampler.state_dict(), state)
            if stopping():
                break
        else:  # the epoch ran to its end
            state["epoch"] += 1
            state["mid_epoch"] = False
            if state["step"] < total:
                _end_of_epoch(run, valid_cuts, state, log, opt, sched, None)
    bar.close()
    if stop_after is not None and state["step"] < total:
        log.close()
        return {"step": state["step"], "stopped": True}
    state["done"] = True
    _end_of_epoch(
        run, valid_cuts, state, log, opt, sched, sampler.state_dict() if state["mid_epoch"] else None
    )
    log.close()
    if dist.main:
        training_curves(run.out)
    teardown_distributed()
    return {"step": state["step"], "out": str(run.out), "checkpoint": str(ckpt.latest(run.out))}


def _end_of_epoch(run: Run, valid_cuts, state: dict, log: MetricsLog, opt, sched, sampler_state) -> None:
    if valid_cuts is not None and run.dist.main:
        v = held_out_loss(run, valid_cuts)
        if v:
            log.write({"split": "valid", "step": state["step"], "epoch": state["epoch"], **v})
            print(
                f"[train sft] epoch {state['epoch']}: held-out loss {v['loss']:.4f} "
                f"(control tokens {v['ctrl_loss']:.4f}, <shift> recall {v['shift_recall']:.2f})",
                flush=True,
            )
    run.checkpoint(state["step"], opt, sched, sampler_state, state)


def _progress(total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, disable=not enabled, unit="step", dynamic_ncols=True, desc="sft"
    )
