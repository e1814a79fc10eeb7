"""`moshi`: kyutai moshi-finetune's layout.

- `data/<id>.wav`: stereo, **left (channel 0) = the assistant** (Moshi's own
  stream), right = everything the assistant hears (our channel 0: user, third
  parties, echo, noise). 24 kHz by default, Mimi's rate.
- `data/<id>.json`: `{"alignments": [[word, [start, end], "SPEAKER_MAIN"], ...]}`
  for the assistant's words actually spoken (a turn cut short ends at its stop),
  which is all moshi-finetune trains its text stream on. Other speakers' words
  are written under their role (`SPEAKER_USER`, `SPEAKER_THIRD_PARTY`) and
  ignored by it; `"text_conditions"` is left out.
- `index.jsonl`: one `{"path": "data/<id>.wav", "duration": s}` per file,
  paths relative to the index (moshi-finetune's `train_data` points at it).

Our dialogues are at most a few minutes, so they are not chunked; moshi-finetune
takes `duration_sec` windows from each file itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from datagen.export.common import ExportCut, ExportError, resample

SPEAKERS = {"assistant": "SPEAKER_MAIN", "user": "SPEAKER_USER", "third_party": "SPEAKER_THIRD_PARTY"}


def alignments(c: ExportCut) -> list:
    """[[word, [start, end], speaker]] in time order; the assistant's are SPEAKER_MAIN."""
    rows = [
        [w, [a, b], SPEAKERS.get(s.role, "SPEAKER_OTHER")] for s in c.sups for (w, a, b) in s.words if b > a
    ]
    return sorted(rows, key=lambda r: (r[1][0], r[2]))


class Exporter:
    def __init__(self, src: Path, sample_rate: int = 24000):
        if sample_rate < 8000:
            raise ExportError(f"--sample-rate {sample_rate} Hz is too low for speech")
        self.sr = int(sample_rate)
        self.out: Path | None = None
        self.index = None
        self.n = 0
        self.seconds = 0.0
        self.main_words = 0

    def begin(self, tmp: Path) -> None:
        self.out = tmp
        (tmp / "data").mkdir()
        self.index = open(tmp / "index.jsonl", "w", encoding="utf-8")  # noqa: SIM115 (closed in end())

    def add(self, c: ExportCut) -> None:
        stereo = np.stack(
            [resample(c.assistant, c.sample_rate, self.sr), resample(c.env, c.sample_rate, self.sr)]
        )
        rel = f"data/{c.id}.wav"
        sf.write(self.out / rel, stereo.T, self.sr, subtype="PCM_16")
        rows = alignments(c)
        self.main_words += sum(1 for r in rows if r[2] == "SPEAKER_MAIN")
        with open(self.out / f"data/{c.id}.json", "w", encoding="utf-8") as f:
            json.dump({"alignments": rows}, f, ensure_ascii=False)
        duration = stereo.shape[1] / self.sr
        self.index.write(json.dumps({"path": rel, "duration": round(duration, 4)}) + "\n")
        self.n += 1
        self.seconds += duration

    def end(self) -> dict:
        self.index.close()
        return {
            "sample_rate": self.sr,
            "files": self.n,
            "hours": round(self.seconds / 3600, 4),
            "assistant_words": self.main_words,
        }
