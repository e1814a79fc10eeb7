"""Shar corpora -> batches of per-stream fbank and label targets.

Reading, batching and DDP sharding are Lhotse's: `CutSet.from_shar`,
`DynamicBucketingSampler` (buckets by duration, `max_duration` seconds per
batch, rank/world size for DDP, a `state_dict` for exact resume). The dataset
turns a CutSet into tensors: channel 0 (environment) and channel 1
(assistant, heard `assistant_lag_blocks` late: docs/trainer.md) as causal
fbank, and the label track mapped into the backbone's vocabulary.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from datagen.train.training.answers import answers_of, assistant_wave, gold_voice
from datagen.train.training.augment import late_decision, react_sooner
from datagen.train.training.features import CausalFbank
from datagen.train.training.vocab import LabelVocab

IGNORE = -100  # target of a padding block


def shar_dir(path: str | Path) -> Path:
    p = Path(path)
    shar = p / "shar" if (p / "shar").is_dir() else p
    if not any(shar.glob("cuts.*.jsonl*")):
        raise FileNotFoundError(
            f"no Lhotse Shar corpus at {path} (expected cuts.*.jsonl.gz in it or in shar/)"
        )
    return shar


def open_corpora(paths: Sequence[str | Path]):
    """One lazy CutSet over several corpus folders, in the order given."""
    from lhotse import CutSet

    if not paths:
        raise ValueError("no corpus given (data.train is empty)")
    sets = [CutSet.from_shar(in_dir=str(shar_dir(p))) for p in paths]
    out = sets[0]
    for s in sets[1:]:
        out = out + s
    return out


def in_valid_split(cut_id: str, fraction: float) -> bool:
    """A stable, seed-free split by id: the same cuts are held out on every run and rank."""
    return (zlib.crc32(cut_id.encode()) % 10_000) < fraction * 10_000


def first_cut(paths: Sequence[str | Path]):
    return next(iter(open_corpora(paths)))


def corpus_tokenizer(paths: Sequence[str | Path]) -> str:
    """The label tokenizer every corpus in `paths` was written with (they must agree)."""
    names = {str(p): first_cut([p]).custom["label_meta"]["tokenizer"] for p in paths}
    if len(set(names.values())) > 1:
        raise ValueError(f"corpora labelled with different tokenizers: {names}")
    return next(iter(names.values()))


def lag(wave: np.ndarray, samples: int) -> np.ndarray:
    """The stream as heard `samples` late (same length)."""
    if samples <= 0:
        return wave
    return np.concatenate([np.zeros(samples, dtype=wave.dtype), wave[: len(wave) - samples]])


def fit(wave: np.ndarray, n: int) -> np.ndarray:
    return wave[:n] if len(wave) >= n else np.pad(wave, (0, n - len(wave)))


class StreamBatcher:
    """Pads per-dialogue (env wave, assistant wave, labels) into one batch of fbank + targets."""

    def __init__(self, vocab: LabelVocab, sampling_rate: int, block_s: float, lag_blocks: int, mels: int):
        self.vocab = vocab
        self.fbank = CausalFbank(sampling_rate, mels)
        self.spb = int(round(block_s * sampling_rate))  # samples per block
        self.lag = lag_blocks * self.spb

    def __call__(
        self,
        env: list[np.ndarray],
        asst: list[np.ndarray],
        labels: list[np.ndarray],
        targets: list[np.ndarray | None] | None = None,
        vad: list[np.ndarray] | None = None,
    ) -> dict:
        """`tokens`: the label tracks fed back (padding: <think>); `targets`: what each
        block learns, the same tracks unless given (label ids, negative = nothing),
        IGNORE on padding; `vad`: per dialogue, 1/0 per 40 ms encoder frame for
        speech on channel 0 (`others_speaking`), IGNORE on padding."""
        n = [len(lab) for lab in labels]
        t = max(n) * self.spb
        env_w = torch.from_numpy(np.stack([fit(w, t) for w in env]))
        asst_w = torch.from_numpy(np.stack([fit(lag(fit(w, t), self.lag), t) for w in asst]))
        tokens = torch.full((len(labels), max(n)), self.vocab.think, dtype=torch.long)
        target = torch.full((len(labels), max(n)), IGNORE, dtype=torch.long)
        for i, lab in enumerate(labels):
            tokens[i, : len(lab)] = self._ids(lab)
            want = lab if not targets or targets[i] is None else targets[i]
            ids = self._ids(np.maximum(want, 0))
            target[i, : len(lab)] = torch.where(torch.from_numpy(np.asarray(want) >= 0), ids, IGNORE)
        out = {
            "env": self.fbank(env_w),
            "asst": self.fbank(asst_w),
            "tokens": tokens,
            "targets": target,
            "n_blocks": torch.tensor(n),
        }
        if vad is not None:
            frames = torch.full((len(labels), 2 * max(n)), IGNORE, dtype=torch.long)
            for i, v in enumerate(vad):
                k = min(len(v), 2 * n[i])
                frames[i, :k] = torch.from_numpy(np.asarray(v[:k], dtype=np.int64))
            out["vad"] = frames
        return out

    def _ids(self, labels) -> torch.Tensor:
        return self.vocab.to_backbone(torch.from_numpy(np.asarray(labels, dtype=np.int64)))


class DuplexDataset(torch.utils.data.Dataset):
    """Lhotse-style map dataset: `dataset[cuts]` -> one batch for SFT: the environment
    channel as recorded, the assistant stream rebuilt from the decisions the way
    inference builds it from the model's (datagen/train/training/answers.py), and for a share
    of dialogues one decision made late, and barge-in stops taught over a window
    when `react_from_s` is set (datagen/train/training/augment.py).

    Which dialogues get a late decision, and which, is drawn from (seed, epoch, cut
    id): the same on every run and after a resume, whatever the batch order."""

    def __init__(self, batcher: StreamBatcher, late=None, seed: int = 0, react_from_s: float | None = None):
        self.batcher, self.late, self.seed, self.epoch = batcher, late, seed, 0
        self.react_from_s = react_from_s

    def __getitem__(self, cuts) -> dict:
        cuts = sorted(cuts, key=lambda c: c.id)  # batch order independent of bucket internals
        env, asst, labels, targets, vad = [], [], [], [], []
        for cut in cuts:
            audio = cut.load_audio().astype(np.float32)
            lab = np.asarray(cut.load_labels())
            answers = answers_of(cut, audio, lab)
            block = cut.custom["label_meta"]["block_s"]
            voice, target = gold_voice(answers), None
            if self.late is not None:
                moved = self._late(cut, lab, answers)
                if moved is not None:
                    lab, voice, target = moved
            if self.react_from_s is not None:
                base = lab if target is None else target
                target = react_sooner(lab, base, cut.custom.get("events", []), block, self.react_from_s)
            env.append(audio[0])
            asst.append(assistant_wave(voice, answers, audio.shape[1], block, cut.sampling_rate))
            labels.append(lab)
            targets.append(target)
            vad.append(others_speaking(cut, 2 * len(lab), block / 2))  # 2 encoder frames a block
        batch = self.batcher(env, asst, labels, targets, vad)
        batch["ids"] = [c.id for c in cuts]
        return batch

    def _late(self, cut, lab: np.ndarray, answers):
        """One decision made late, or None: a cue's stop for `cue_share` of the dialogues
        with cues, else any decision for `share` of them (augment.late_decision)."""
        rng = np.random.default_rng([self.seed, self.epoch, zlib.crc32(cut.id.encode())])
        interrupted = [a.interrupted for a in answers]
        late = self.late
        cues = [k for k, a in enumerate(answers) if a.cue]
        if cues and late.cue_share > 0 and rng.random() < late.cue_share:
            return late_decision(
                lab, interrupted, rng, late.max_blocks, late.min_finish_blocks, cues, late.cue_finish_blocks
            )
        if late.share > 0 and rng.random() < late.share:
            return late_decision(lab, interrupted, rng, late.max_blocks, late.min_finish_blocks)
        return None


def others_speaking(cut, n_frames: int, frame_s: float) -> np.ndarray:
    """1 for each encoder frame (`frame_s`: 40 ms for 80 ms blocks) whose centre lies
    in speech on channel 0 (the user's, a third party's: every supervision on that
    channel), else 0.

    The assistant's echo on channel 0 has no supervision there, so it counts as not
    speech: a frame of echo alone is a 0, echo under a barge-in a 1."""
    centre = (np.arange(n_frames) + 0.5) * frame_s
    out = np.zeros(n_frames, dtype=np.int8)
    for s in cut.supervisions:
        if s.channel == 0:
            out[(centre >= s.start) & (centre < s.end)] = 1
    return out


def make_sampler(cuts, cfg, seed: int, shuffle: bool, world_size: int = 1, rank: int = 0):
    """Lhotse's bucketing sampler; a plain one for sets too small to bucket (held-out sets,
    tests), since bucket edges are estimated from the cuts themselves."""
    from lhotse.dataset import DynamicBucketingSampler, SimpleCutSampler

    n = sum(1 for _ in itertools.islice(cuts, 4 * cfg.num_buckets))
    if cfg.num_buckets < 2 or n < 4 * cfg.num_buckets:
        return SimpleCutSampler(
            cuts,
            max_duration=cfg.max_duration,
            shuffle=shuffle,
            drop_last=world_size > 1,
            seed=seed,
            world_size=world_size,
            rank=rank,
        )
    return DynamicBucketingSampler(
        cuts,
        max_duration=cfg.max_duration,
        num_buckets=cfg.num_buckets,
        shuffle=shuffle,
        drop_last=world_size > 1,  # every rank takes the same number of steps
        seed=seed,
        world_size=world_size,
        rank=rank,
    )


def split_cuts(cfg, seed: int):
    """(train cuts, held-out cuts) per the data config: explicit folders, or a stable share of train."""
    too_long = _LongerThan(cfg.max_dialogue_s)
    train = open_corpora(cfg.train).filter(too_long)
    if cfg.valid:
        return train, open_corpora(cfg.valid).filter(too_long)
    if cfg.valid_fraction <= 0:
        return train, None
    return (
        train.filter(_Split(cfg.valid_fraction, keep_valid=False)),
        train.filter(_Split(cfg.valid_fraction, keep_valid=True)),
    )


class _LongerThan:
    """Picklable cut filters (lazy CutSets keep the predicate)."""

    def __init__(self, max_s: float):
        self.max_s = max_s

    def __call__(self, cut) -> bool:
        return cut.duration <= self.max_s


class _Split:
    def __init__(self, fraction: float, keep_valid: bool):
        self.fraction, self.keep_valid = fraction, keep_valid

    def __call__(self, cut) -> bool:
        return in_valid_split(cut.id, self.fraction) == self.keep_valid
