"""The unit of work of `datagen train errors`: one batch of one corpus, decoded and judged.

A corpus is read in groups of `4 * batch_size` cuts; each group is sorted by length
and cut into batches (so dialogues of a length decode together). A batch is named by
(corpus, group, batch) alone, so any process can decode it: `errors.py` runs them in
this process or spreads them over worker processes (`--workers`), and the error log
is the same either way, line for line (tests/train/test_errors_workers.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datagen.train.judging.errlog import make_line
from datagen.train.judging.events import log_record
from datagen.train.streaming.stream import Dialogue, decode
from datagen.train.training.answers import answers_of
from datagen.train.training.data import open_corpora


@dataclass(frozen=True)
class Job:
    """Batch `batch` of group `group` of `corpus`."""

    corpus: str
    group: int
    batch: int


def dialogue_of(cut, corpus: str | Path, encode: Callable[[str], list[int]]) -> tuple[Dialogue, dict]:
    """(what the decoder needs, the gold record) for one cut."""
    audio = cut.load_audio()
    labels = np.asarray(cut.load_labels())
    answers = answers_of(cut, audio, labels, encode)
    record = log_record(cut, corpus, labels, answers)
    return Dialogue(cut.id, audio[0].astype(np.float32), len(labels), answers, cut.sampling_rate), record


def plan(corpora: list[str], size: int) -> Iterator[Job]:
    """Every batch of every corpus, in the order a single process decodes them."""
    for corpus in corpora:
        n = sum(1 for _ in open_corpora([corpus]))
        for g in range(-(-n // (4 * size))):
            in_group = min(4 * size, n - g * 4 * size)
            for b in range(-(-in_group // size)):
                yield Job(corpus, g, b)


@dataclass
class Decoder:
    """What every batch needs, built once per process: the model and its decision rule."""

    model: Any
    cfg: Any
    meta: dict
    found: str
    tokenizer: str
    encode: Callable[[str], list[int]]
    size: int
    device: torch.device
    autocast: Any
    threshold: float | None
    audio_out: str | Path | None = None
    _group: tuple[str, int, list, list[int]] | None = None  # the last group read: its batches come together

    def group(self, corpus: str, group: int) -> tuple[list, list[int]]:
        """A group's cuts, and their indices shortest first (ties in corpus order)."""
        if self._group is None or self._group[:2] != (corpus, group):
            start = group * 4 * self.size
            cuts = list(itertools.islice(open_corpora([corpus]), start, start + 4 * self.size))
            order = sorted(range(len(cuts)), key=lambda i: len(cuts[i].load_labels()))
            self._group = (corpus, group, cuts, order)
        return self._group[2], self._group[3]

    def run(self, job: Job) -> list[tuple[int, dict]]:
        """(index of the cut in its group, its error-log line) for each dialogue of the batch."""
        cuts, order = self.group(job.corpus, job.group)
        idx = order[job.batch * self.size : (job.batch + 1) * self.size]
        items = [dialogue_of(cuts[i], job.corpus, self.encode) for i in idx]
        batch = [d for d, _ in items]
        tracks, _ = decode(
            self.model,
            batch,
            self.meta["block_s"],
            self.cfg.encoder.assistant_lag_blocks,
            self.device,
            self.autocast,
            own_text=self.cfg.stream.text == "own",
            shift_threshold=self.threshold,
        )
        if self.audio_out is not None:
            from datagen.train.streaming.voice_out import write_voice

            for d, track in zip(batch, tracks, strict=True):
                write_voice(self.audio_out, d, track, self.meta["block_s"])
        rule = {"shift_threshold": self.threshold}
        return [
            (i, make_line(rec, track, self.found, self.cfg.score, rule))
            for i, (_, rec), track in zip(idx, items, tracks, strict=True)
        ]
