"""Checkpoints that resume to the identical next step.

A checkpoint is a folder `<out>/checkpoints/step-NNNNNNNN/` holding the
trainable weights (all of them for a model trained in full; encoder,
connector, LoRA and the two special-token rows when the backbone is a frozen
local folder), optimizer and scheduler state, the sampler's position
(Lhotse's `state_dict`), every RNG state, the config and the vocabulary. It is
written to a temporary folder and renamed into place, then `latest` is
rewritten the same way, so a run killed at any moment resumes from a whole
checkpoint. Checkpoints are only taken between optimizer steps (no gradient
accumulation is ever half done).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch
import yaml

from datagen.io.atomic import replace_dir, write_text


def checkpoints_dir(out: str | Path) -> Path:
    return Path(out) / "checkpoints"


def latest(out: str | Path) -> Path | None:
    """The newest whole checkpoint of a run folder, or None."""
    d = checkpoints_dir(out)
    pointer = d / "latest"
    if pointer.is_file():
        p = d / pointer.read_text().strip()
        if (p / "state.json").is_file():
            return p
    return None


def resolve(path: str | Path) -> Path:
    """A checkpoint folder, or a run folder (its latest checkpoint)."""
    p = Path(path)
    if (p / "state.json").is_file():
        return p
    found = latest(p)
    if found is None:
        raise FileNotFoundError(f"no checkpoint at {path} (neither a checkpoint nor a run folder with one)")
    return found


def saved_state(model: torch.nn.Module, full: bool) -> dict[str, torch.Tensor]:
    """What a checkpoint keeps of the model: everything, or (frozen backbone) what trains plus buffers."""
    sd = model.state_dict()
    if full:
        return sd
    keep = {n for n, p in model.named_parameters() if p.requires_grad}
    keep |= {n for n, _ in model.named_buffers() if not n.startswith("backbone.")}
    return {k: v for k, v in sd.items() if k in keep}


def load_model_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load weights; a checkpoint may carry the training-only `vad_head` a model built
    without one does not need (inference never reads it)."""
    have = set(model.state_dict())
    state = {k: v for k, v in state.items() if k in have or not k.startswith("vad_head.")}
    missing_from_model = set(state) - have
    if missing_from_model:
        raise ValueError(f"checkpoint has weights this model lacks: {sorted(missing_from_model)[:5]}")
    model.load_state_dict(state, strict=False)


def rng_state() -> dict:
    out = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(s: dict) -> None:
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def save(
    out: str | Path,
    step: int,
    *,
    model_state: dict,
    optimizer,
    scheduler,
    sampler_state: dict | None,
    state: dict,
    config: dict,
    vocab: dict,
    keep: int,
    tokenizer=None,
) -> Path:
    d = checkpoints_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    tmp = d / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(model_state, tmp / "model.pt")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optim.pt")
    torch.save({"sampler": sampler_state, "rng": rng_state()}, tmp / "progress.pt")
    (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp / "vocab.json").write_text(json.dumps(vocab, indent=1))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(tmp / "tokenizer"))
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    final = d / name
    replace_dir(tmp, final)
    write_text(d / "latest", name + "\n")
    for old in sorted(p for p in d.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load(path: Path, map_location="cpu") -> dict:
    return {
        "model": torch.load(path / "model.pt", map_location=map_location, weights_only=True),
        "optim": torch.load(path / "optim.pt", map_location=map_location, weights_only=False),
        "progress": torch.load(path / "progress.pt", map_location="cpu", weights_only=False),
        "state": json.loads((path / "state.json").read_text()),
        "config": yaml.safe_load((path / "config.yaml").read_text()),
        "vocab": json.loads((path / "vocab.json").read_text()),
    }


def load_model(path: str | Path, device):
    """(model, config, vocabulary, label_meta) of a checkpoint, ready for inference."""
    from datagen.train.common.config import TrainConfig
    from datagen.train.training.model import DuplexModel
    from datagen.train.training.vocab import LabelVocab

    found = resolve(path)
    saved = load(found, map_location=device)
    cfg = TrainConfig.model_validate(saved["config"])
    v = saved["vocab"]
    vocab = LabelVocab(v["tokenizer"], v["size"], v["think"], v["shift"])
    if cfg.dpo.init and cfg.lora:  # a DPO adapter over the merged SFT model (datagen/train/preference/dpo.py)
        model = policy_model(cfg, device)[0]
    else:
        model = DuplexModel(cfg, vocab)
    load_model_state(model, saved["model"])
    return model.to(device).eval(), cfg, vocab, v["label_meta"], found


def policy_model(cfg, device):
    """The SFT checkpoint `cfg.dpo.init`, ready to be trained with DPO: its LoRA adapter
    merged and a fresh one on top (so the adapter-disabled backbone is the reference),
    encoder, connector and stream/state embeddings frozen (datagen/train/preference/dpo.py).
    Here, not beside DPO, because loading a DPO checkpoint builds the same model first."""
    from datagen.train.training.model import apply_lora

    model, _, vocab, meta, _ = load_model(cfg.dpo.init, device)
    if model.lora:
        model.backbone = model.backbone.merge_and_unload()
        model.backbone = apply_lora(model.backbone, cfg.lora, vocab)
    for part in (model.encoder, model.connector):
        part.requires_grad_(False)
    for p in (model.stream_emb, model.state_emb):
        if p is not None:
            p.requires_grad_(False)
    return model.to(device), vocab, meta
