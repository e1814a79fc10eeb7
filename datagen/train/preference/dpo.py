"""DPO on preference pairs, with an SFT subset kept (`datagen train dpo`).

Not TRL's `DPOTrainer`: it takes text or images, not audio streams (TRL
issues #2097 and #3040), and our two sides of a pair differ in their inputs
too (each side hears its own voice, which stops where its track says). The
loss is TRL's `loss_type="sigmoid"`:

    -log sigmoid(beta * ((log pi(c) - log ref(c)) - (log pi(r) - log ref(r))))

with log-probabilities summed over the blocks of each side from the pair's
first divergent block to the end of the dialogue (before it both sides are
the same tokens over the same audio, and contribute nothing). Kept SFT
dialogues add `sft_weight` x the SFT loss; `rpo_alpha` adds the chosen sides' NLL
(TRL's `rpo_alpha`, `chosen_nll`); `loss: apo_zero` is TRL's APO-zero instead.

The reference is the SFT model, frozen. With LoRA it is the backbone with
the adapter disabled (`disable_adapter()`): the SFT adapter is merged into the
base first and a fresh adapter trains, so no second copy of the weights
exists. Trained in full (the tiny CPU model), the reference's log-probs are
computed once before the first step (it never changes), as TRL's
`precompute_ref_log_probs` does. The encoder and connector stay frozen in
both cases, so policy and reference hear the audio the same way.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from datagen.train.common.config import TrainConfig
from datagen.train.common.tracks import SpeakSpan
from datagen.train.preference.dpo_data import read_pairs
from datagen.train.streaming.errors import label_encoder
from datagen.train.training import checkpoint as ckpt
from datagen.train.training.answers import answers_of, assistant_wave, gold_voice
from datagen.train.training.augment import react_sooner
from datagen.train.training.checkpoint import policy_model
from datagen.train.training.data import StreamBatcher, open_corpora
from datagen.train.training.model import DuplexModel, LossWeights
from datagen.train.training.plots import training_curves
from datagen.train.training.runtime import (
    MetricsLog,
    configure_threads,
    deterministic_on_cpu,
    make_optimizer,
    make_scheduler,
    mean_stats,
    pick_device,
    seed_everything,
    setup_distributed,
    warn_emulated_bf16,
)
from datagen.train.training.vocab import LabelVocab

IGNORE = -100


def effective_config(cfg: TrainConfig) -> TrainConfig:
    """The DPO run's config: the SFT model's architecture, this file's data/optim/dpo/out."""
    if not cfg.dpo.init:
        raise ValueError("dpo.init: name the SFT checkpoint (or run folder) to start from")
    sft = ckpt.load(ckpt.resolve(cfg.dpo.init))["config"]
    keep = ("encoder", "backbone", "lora", "bf16")
    merged = cfg.model_dump(mode="json")
    for k in keep:
        merged[k] = sft[k]
    if cfg.lora is not None:  # the DPO adapter may differ in rank from the SFT one
        merged["lora"] = cfg.lora.model_dump(mode="json")
    merged["dpo"]["init"] = str(ckpt.resolve(cfg.dpo.init))
    return TrainConfig.model_validate(merged)


class PairData:
    """The pairs' and SFT samples' audio and answers, read once."""

    def __init__(
        self, pairs: list[dict], sft: list[dict], corpora: list[str], vocab: LabelVocab, backbone_path
    ):
        want = {p["cut_id"] for p in pairs} | {s["cut_id"] for s in sft}
        encode = label_encoder(vocab.tokenizer, backbone_path)
        folders = corpora or sorted({r["corpus"] for r in pairs + sft if r.get("corpus")})
        self.cuts: dict[str, dict] = {}
        for folder in folders:
            for cut in open_corpora([folder]):
                if cut.id in want and cut.id not in self.cuts:
                    audio = cut.load_audio().astype(np.float32)
                    labels = np.asarray(cut.load_labels())
                    answers = answers_of(cut, audio, labels, encode)
                    block = cut.custom["label_meta"]["block_s"]
                    gold = assistant_wave(
                        gold_voice(answers), answers, audio.shape[1], block, cut.sampling_rate
                    )
                    self.cuts[cut.id] = {
                        "env": audio[0],
                        "gold_asst": gold,
                        "labels": labels,
                        "answers": answers,
                        "sr": cut.sampling_rate,
                        "block_s": block,
                        "events": cut.custom.get("events", []),
                    }
        missing = sorted(want - set(self.cuts))
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} dialogues of the pairs are in no corpus given (e.g. {missing[0]})"
            )

    def side(self, cut_id: str, voice: list, track: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.cuts[cut_id]
        spans = [SpeakSpan(speak, stop) for _, speak, stop in voice]
        wave = assistant_wave(spans, c["answers"], len(c["env"]), c["block_s"], c["sr"])
        return c["env"], wave, np.asarray(track, dtype=np.int32)


def _pair_batch(
    data: PairData, batcher: StreamBatcher, pairs: list[dict], window: int | None = None
) -> tuple[dict, torch.Tensor]:
    """Both sides of each pair, chosen then rejected, with `scored` marking the blocks a
    side's log-probability sums: from the pair's first divergent block, `window` blocks
    of it (None: to the end)."""
    env, asst, tracks, starts = [], [], [], []
    for p in pairs:
        for side in ("chosen", "rejected"):
            e, a, t = data.side(p["cut_id"], p[f"{side}_voice"], p[side])
            env.append(e)
            asst.append(a)
            tracks.append(t)
            starts.append(p["first_divergent_block"])
    batch = batcher(env, asst, tracks)
    n = batch["targets"].shape[1]
    at, f = torch.arange(n)[None], torch.tensor(starts)[:, None]
    scored = at >= f
    if window is not None:
        scored &= at < f + window
    batch["scored"] = scored & (batch["targets"] >= 0)
    return batch, torch.tensor(starts)


def sequence_logps(model: DuplexModel, batch: dict, scope: str = "tokens") -> torch.Tensor:
    """Per sequence: sum of log-probs over the scored blocks, of each block's token
    (`tokens`), or of its decision alone (`decisions`): log p(<shift>) where the track
    shifts, log(1 - p(<shift>)) where it does not.

    Why `decisions`: with `stream.text: answer` the streamed model chooses only its
    <shift>s; every other token it feeds back is the answer's, whatever it predicted
    (streaming/stream.py). The probability of a track under that policy is the product
    of its decisions. The token sum also counts the text and <think> tokens after the
    divergent block, which differ wholesale between the sides (one still speaks, the
    other listens) and are not choices: a tiny model raised its margin through them
    while its stop decisions moved the wrong way (docs/trainer.md, "What DPO's
    log-probabilities count")."""
    if scope == "tokens":
        lp = model.token_logprobs(batch["env"], batch["asst"], batch["tokens"])
    elif scope == "decisions":
        log_p = model.logits(batch["env"], batch["asst"], batch["tokens"]).log_softmax(-1)
        shift = log_p[..., model.vocab.shift]
        lp = torch.where(
            batch["tokens"] == model.vocab.shift, shift, torch.log1p(-shift.exp().clamp(max=1 - 1e-6))
        )
    else:
        raise ValueError(f"dpo.scope {scope!r}: choose tokens or decisions")
    return (lp * batch["scored"]).sum(-1)


def dpo_loss(
    pol: torch.Tensor, ref: torch.Tensor, beta: float, loss_type: str = "sigmoid"
) -> tuple[torch.Tensor, dict]:
    """TRL's `loss_type` "sigmoid" (DPO) or "apo_zero" (APO, D'Oosterlinck et al. 2024:
    1 - sigmoid(beta * chosen log-ratio) + sigmoid(beta * rejected log-ratio), which
    raises the chosen side and lowers the rejected one each on its own, where the
    sigmoid loss sees only their difference). Rows alternate chosen, rejected."""
    pc, pr, rc, rr = pol[0::2], pol[1::2], ref[0::2], ref[1::2]
    margin = beta * ((pc - rc) - (pr - rr))
    if loss_type == "sigmoid":
        loss = -F.logsigmoid(margin).mean()
    elif loss_type == "apo_zero":
        loss = (1 - torch.sigmoid(beta * (pc - rc)) + torch.sigmoid(beta * (pr - rr))).mean()
    else:
        raise ValueError(f"dpo.loss {loss_type!r}: choose sigmoid or apo_zero")
    m, pc, pr = margin.detach(), pc.detach(), pr.detach()
    stats = {
        "dpo_loss": loss.item(),
        "reward_margin": m.mean().item(),
        "preference_accuracy": (m > 0).float().mean().item(),
        "chosen_reward": (beta * (pc - rc)).mean().item(),
        "rejected_reward": (beta * (pr - rr)).mean().item(),
    }
    return loss, stats


def chosen_nll(pol: torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
    """TRL's `rpo_alpha` term: the chosen sides' negative log-likelihood per scored block,
    averaged per pair and then over the pairs (TRL averages over all the batch's chosen
    tokens; per pair, a long side does not outweigh a short one). Rows alternate chosen,
    rejected, as in `dpo_loss`.

    Why: the sigmoid loss only sees the margin, and the cheapest way to widen it is to
    lower both sides. With `tokens` the chosen side's log-probability fell by ~7 nats in
    30 steps while the rejected side's fell by ~48 (docs/trainer.md): the mass left the
    answer's text and went to <shift>, and the model stopped early more often, the
    opposite of what the pairs asked. The NLL term holds the chosen side up."""
    n = scored[0::2].sum(-1).clamp(min=1)
    return -(pol[0::2] / n).mean()


def _gold_batch(
    data: PairData, batcher: StreamBatcher, rows: list[dict], react_from_s: float | None = None
) -> dict:
    """The kept SFT dialogues, learned as SFT learns them (the same barge-in stop window)."""
    cuts = [data.cuts[r["cut_id"]] for r in rows]
    targets = None
    if react_from_s is not None:
        targets = [
            react_sooner(c["labels"], c["labels"], c["events"], c["block_s"], react_from_s) for c in cuts
        ]
    return batcher(
        [c["env"] for c in cuts], [c["gold_asst"] for c in cuts], [c["labels"] for c in cuts], targets
    )


def _order(n: int, seed: int, epoch: int) -> list[int]:
    return np.random.default_rng([seed, epoch]).permutation(n).tolist() if n else []


def _take(order_fn, n_items: int, per_step: int, step: int) -> list[int]:
    """The item indices of a step: consecutive slices of a fresh permutation each pass."""
    if not n_items or not per_step:
        return []
    out = []
    for i in range(step * per_step, (step + 1) * per_step):
        epoch, pos = divmod(i, n_items)
        out.append(order_fn(epoch)[pos])
    return out


def train_dpo(
    cfg: TrainConfig, resume: bool = True, stop_after: int | None = None, progress: bool = True
) -> dict:
    dist = setup_distributed()
    device = pick_device(cfg.device, dist)
    configure_threads(cfg)
    cfg = effective_config(cfg)
    warn_emulated_bf16(cfg, device, dist)
    seed_everything(cfg.seed)
    deterministic_on_cpu(device)
    model, vocab, meta = policy_model(cfg, device)
    pairs, sft = read_pairs(cfg.dpo.pairs)
    if not pairs:
        raise ValueError(f"{cfg.dpo.pairs}: no pairs to train on")
    data = PairData(pairs, sft, cfg.dpo.corpus, vocab, cfg.backbone.path)
    c0 = next(iter(data.cuts.values()))
    batcher = StreamBatcher(
        vocab, c0["sr"], c0["block_s"], cfg.encoder.assistant_lag_blocks, cfg.encoder.num_mel_bins
    )
    d = cfg.dpo
    steps_per_epoch = math.ceil(len(pairs) / d.pairs_per_step)
    total = cfg.optim.max_steps or cfg.optim.epochs * steps_per_epoch
    opt = make_optimizer(model, cfg.optim)
    sched = make_scheduler(opt, cfg.optim, total)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16)
    lora = model.lora
    ref = None if lora else _precompute_ref(model, data, batcher, pairs, d, device, autocast)
    state = {"step": 0, "total_steps": total}
    out = Path(cfg.out)
    found = ckpt.latest(out) if resume else None
    if found:
        saved = ckpt.load(found, map_location=device)
        ckpt.load_model_state(model, saved["model"])
        opt.load_state_dict(saved["optim"]["optimizer"])
        sched.load_state_dict(saved["optim"]["scheduler"])
        state = saved["state"]
        ckpt.set_rng_state(saved["progress"]["rng"])
    log = MetricsLog(out, dist.main, cfg.tensorboard, state["step"] if found else None)
    print(
        f"[train dpo] {len(pairs)} pairs, {len(sft)} SFT dialogues, {total} steps, beta {d.beta}", flush=True
    )
    bar = _progress(total, state["step"], progress)
    model.train()
    rows, t0 = [], time.time()
    while state["step"] < total and not (stop_after is not None and state["step"] >= stop_after):
        step = state["step"]
        idx = _take(lambda e: _order(len(pairs), cfg.seed, e), len(pairs), d.pairs_per_step, step)
        batch, _ = _pair_batch(data, batcher, [pairs[i] for i in idx], d.window)
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
        with autocast:
            pol = sequence_logps(model, batch, d.scope)
            if lora:
                with torch.no_grad(), model.backbone.disable_adapter():
                    ref_lp = sequence_logps(model, batch, d.scope)
            else:
                ref_lp = torch.stack([ref[i][j] for i in idx for j in (0, 1)]).to(device)
            loss, stats = dpo_loss(pol, ref_lp, d.beta, d.loss)
            if d.rpo_alpha:
                nll = chosen_nll(pol, batch["scored"])
                loss = loss + d.rpo_alpha * nll
                stats["chosen_nll"] = nll.item()
            sft_idx = _take(lambda e: _order(len(sft), cfg.seed + 1, e), len(sft), d.sft_per_step, step)
            if sft_idx and d.sft_weight > 0:
                gold = _gold_batch(data, batcher, [sft[i] for i in sft_idx], cfg.data.react_from_s)
                gold = {k: v.to(device) for k, v in gold.items()}
                sft_loss, sft_stats = model.sft_loss(gold, LossWeights.of(cfg.optim))
                loss = loss + d.sft_weight * sft_loss
                stats["sft_loss"] = sft_stats["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for p in model.parameters() if p.requires_grad], cfg.optim.clip_grad
        )
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        state["step"] += 1
        stats["loss"], stats["blocks"] = loss.item(), int(batch["scored"].sum())
        rows.append(stats)
        bar.update(1)
        bar.set_postfix(margin=f"{stats['reward_margin']:.3f}", acc=f"{stats['preference_accuracy']:.2f}")
        if state["step"] % cfg.log_every == 0 or state["step"] == total:
            m = mean_stats(rows) | {
                "pairs_per_s": round(len(rows) * d.pairs_per_step / (time.time() - t0), 2)
            }
            log.write({"split": "train", "step": state["step"], "lr": sched.get_last_lr()[0], **m})
            rows, t0 = [], time.time()
        if state["step"] % cfg.save_every == 0 or state["step"] == total:
            _save(cfg, out, model, opt, sched, state, vocab, meta, dist.main)
    bar.close()
    log.close()
    if dist.main:
        training_curves(out)
    return {"step": state["step"], "out": str(out), "checkpoint": str(ckpt.latest(out))}


@torch.no_grad()
def _precompute_ref(model, data, batcher, pairs, d, device, autocast) -> list[torch.Tensor]:
    model.eval()
    out: list[torch.Tensor] = []
    for i in range(0, len(pairs), d.pairs_per_step):
        batch, _ = _pair_batch(data, batcher, pairs[i : i + d.pairs_per_step], d.window)
        with autocast:
            lp = sequence_logps(
                model, {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}, d.scope
            )
        out += [lp[j : j + 2].float().cpu() for j in range(0, len(lp), 2)]
    model.train()
    return out


def _save(cfg, out, model, opt, sched, state, vocab, meta, main) -> None:
    if not main:
        return
    full = not model.lora
    ckpt.save(
        out,
        state["step"],
        model_state=ckpt.saved_state(model, full=full),
        optimizer=opt,
        scheduler=sched,
        sampler_state=None,
        state=dict(state),
        config=cfg.model_dump(mode="json"),
        vocab=vocab.to_dict() | {"label_meta": meta},
        keep=cfg.keep_checkpoints,
    )


def _progress(total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, disable=not enabled, unit="step", dynamic_ncols=True, desc="dpo"
    )
