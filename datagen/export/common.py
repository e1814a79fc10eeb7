"""What every export shares: one plain view of a cut, streaming, progress, an atomic folder.

Each format reads the corpus one cut at a time through `read_export_cuts`, so an
export's memory does not grow with the corpus, and writes into a temporary
sibling folder that is renamed into place only when the whole export is done:
a killed export leaves the old folder (or none), never a half one.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from datagen.io.atomic import read_jsonl, replace_dir

# Cut fields read into their own attributes, the uncut answers (no export carries
# them), and what Lhotse adds when it reads Shar.
NOT_CUSTOM = frozenset({"labels", "full_answers", "full_answers_index", "shard_origin", "shar_epoch"})


class ExportError(ValueError):
    """An export that cannot start (bad source, folder in the way, wrong options)."""


@dataclass(frozen=True)
class Sup:
    """One supervision in plain terms; times in seconds from the cut start."""

    start: float
    end: float
    channel: int
    role: str  # user, assistant, third_party
    speaker: str
    kind: str  # turn, pause_part, backchannel, barge_in, related_question, distractor, assistant_backchannel
    text: str
    spoken_text: str
    expect: str
    turn: int
    words: tuple[tuple[str, float, float], ...]  # (word, start, end), the words heard

    @property
    def heard_text(self) -> str:
        """What was actually said: the spoken prefix of a turn cut short."""
        return self.spoken_text or self.text


@dataclass
class ExportCut:
    """A corpus dialogue as the exporters see it (channel 0 the environment,
    channel 1 the assistant), read once per cut."""

    id: str
    task: str
    duration: float
    sample_rate: int
    env: np.ndarray
    assistant: np.ndarray
    sups: list[Sup]
    events: list[dict]
    labels: np.ndarray | None
    custom: dict[str, Any] = field(default_factory=dict)

    def of_role(self, *roles: str) -> list[Sup]:
        return [s for s in self.sups if s.role in roles]


def _sup(s) -> Sup:
    c = s.custom or {}
    words = ()
    if s.alignment and "word" in s.alignment:
        words = tuple(
            (a.symbol, round(a.start, 4), round(a.start + a.duration, 4)) for a in s.alignment["word"]
        )
    return Sup(
        start=round(s.start, 4),
        end=round(s.end, 4),
        channel=int(s.channel if not isinstance(s.channel, list) else s.channel[0]),
        role=c.get("role", ""),
        speaker=s.speaker or "",
        kind=c.get("kind", ""),
        text=s.text or "",
        spoken_text=c.get("spoken_text", "") or "",
        expect=c.get("expect", "") or "",
        turn=int(c.get("turn", -1)),
        words=words,
    )


def source_shar(src: Path) -> Path:
    """The Shar folder of a corpus (its run folder or shar/ itself)."""
    shar = src / "shar" if (src / "shar").is_dir() else src
    if not any(shar.glob("cuts.*.jsonl*")):
        raise ExportError(f"{src} is not a corpus: no Shar cuts.*.jsonl.gz in it or in its shar/")
    return shar


def count_cuts(src: Path) -> int | None:
    """How many cuts the corpus holds, from its index (None if it has none)."""
    index = src / "index.jsonl"
    return len(read_jsonl(index)) if index.is_file() else None


def read_export_cuts(src: Path) -> Iterator[ExportCut]:
    """The corpus cut by cut, lazily (Shar is read shard by shard)."""
    from lhotse import CutSet

    for cut in CutSet.from_shar(in_dir=str(source_shar(src))):
        audio = np.atleast_2d(cut.load_audio()).astype(np.float32)
        labels = cut.load_labels() if cut.has_custom("labels") else None
        custom = {k: v for k, v in (cut.custom or {}).items() if k not in NOT_CUSTOM}
        yield ExportCut(
            id=cut.id,
            task=str(custom.get("task", "")),
            duration=float(cut.duration),
            sample_rate=int(cut.sampling_rate),
            env=audio[0],
            assistant=audio[1] if audio.shape[0] > 1 else np.zeros_like(audio[0]),
            sups=sorted((_sup(s) for s in cut.supervisions), key=lambda s: (s.start, s.channel)),
            events=list(custom.get("events", [])),
            labels=None if labels is None else np.asarray(labels),
            custom=custom,
        )


def resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    """Polyphase resampling (scipy): exact length round(len * target / sr)."""
    if sr == target:
        return x.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = gcd(sr, target)
    y = resample_poly(x.astype(np.float64), target // g, sr // g)
    n = int(round(len(x) * target / sr))
    return np.clip(y[:n], -1.0, 1.0).astype(np.float32)


class ExportProgress:
    """A line every few cuts and at the end (stderr), with rate and ETA."""

    def __init__(self, fmt: str, total: int | None, quiet: bool = False, every_s: float = 5.0):
        self.fmt, self.total, self.quiet, self.every_s = fmt, total, quiet, every_s
        self.start = self.last = time.monotonic()
        self.n = 0
        self.audio_s = 0.0

    def tick(self, cut: ExportCut) -> None:
        self.n += 1
        self.audio_s += cut.duration
        now = time.monotonic()
        if not self.quiet and (now - self.last >= self.every_s or self.n == self.total):
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        el = now - self.start
        left = ""
        if self.total:
            left = f", ~{el / self.n * (self.total - self.n):.0f}s left"
        of = f"/{self.total}" if self.total else ""
        print(
            f"export {self.fmt}: {self.n}{of} cuts · {self.audio_s / 60:.1f} min audio · {el:.0f}s{left}",
            file=sys.stderr,
            flush=True,
        )


class OutputFolder:
    """Write into `OUT.partial-<pid>` and rename it to OUT at the end.

    A non-empty OUT is refused unless `force` (then it is replaced, and only
    once the new export is complete). A failed export removes its partial folder.
    """

    def __init__(self, out: Path, force: bool):
        self.out = Path(out)
        if self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())):
            if not force:
                raise ExportError(f"{self.out} exists and is not empty: pass --force to replace it")
        self.tmp = self.out.with_name(f".{self.out.name}.partial-{os.getpid()}")

    def __enter__(self) -> Path:
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            if self.out.exists() and not self.out.is_dir():
                self.out.unlink()
            replace_dir(self.tmp, self.out)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
