"""`nemo`: Lhotse Shar that NeMo speechlm2's `DuplexS2SDataset` reads as it is.

What that dataset expects (docs/exports.md has the sources):
- a **mono** source cut at 16 kHz (a 2-channel cut would collate to (B, C, T),
  which its encoder cannot take): our channel 0, the environment stream;
- the assistant's audio as `cut.custom["target_audio"]`, a mono Recording at the
  codec's rate (22,050 Hz by default). `CutSet.resample()` does not touch custom
  recordings, so it is stored at that rate already;
- supervisions whose speaker is `User` or `Assistant` (its role-swap augmentation
  hard-codes them, and its token channels know only those two: the duplex dataset
  ignores a supervision of any other speaker; only `s2s_as_conversation` drops
  the whole cut). Third-party speech therefore has no supervision: it stays
  audible in the source audio, and its segments ride along in `custom["third_party"]`;
- one `User` supervision per user turn: a turn with designed pauses is one
  supervision over its parts (`whole_turns`), or NeMo's user text channel would
  end the turn in each pause;
- an assistant supervision that ends where its audio really stops, with the text
  that was spoken: its text channel puts `eos` at the supervision's end frame.

Our 80 ms label track travels as the `labels` field (numpy), which NeMo ignores.
Written with Lhotse's own `SharWriter` (fields recording/target_audio as FLAC),
shard by shard, so memory stays flat.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datagen.export.common import ExportCut, ExportError, Sup, resample
from datagen.io.shar import memory_recording

SOURCE_RATE = 16000
ROLES = {"user": "User", "assistant": "Assistant"}
FIELDS = {"recording": "flac", "target_audio": "flac", "labels": "numpy"}


def _supervision(cut_id: str, i: int, s: Sup):
    from lhotse import SupervisionSegment
    from lhotse.supervision import AlignmentItem

    words = [AlignmentItem(w, a, round(b - a, 4)) for w, a, b in s.words]
    return SupervisionSegment(
        id=f"{cut_id}-{i:03d}",
        recording_id=cut_id,
        start=s.start,
        duration=round(s.end - s.start, 4),
        channel=0,
        text=s.heard_text,
        speaker=ROLES[s.role],
        language="en",
        alignment={"word": words} if words else None,
        custom={"kind": s.kind, "expect": s.expect, "turn": s.turn, "full_text": s.text},
    )


def whole_turns(sups: list[Sup]) -> list[Sup]:
    """The parts of a user turn with designed pauses (`pause_part`s of one turn) as one
    supervision: NeMo's text channel puts an end-of-turn at every user supervision's end,
    so a part each would end the user's turn in each of its pauses."""
    from dataclasses import replace

    out: list[Sup] = []
    first: dict[int, int] = {}  # turn -> index in out of its merged supervision
    for s in sups:
        k = first.get(s.turn) if s.kind == "pause_part" and s.role == "user" else None
        if k is None:
            if s.kind == "pause_part" and s.role == "user":
                first[s.turn] = len(out)
            out.append(s)
            continue
        prev = out[k]
        out[k] = replace(
            prev,
            end=max(prev.end, s.end),
            text=f"{prev.text.strip()} {s.text.strip()}".strip(),
            spoken_text=" ".join(t for t in (prev.spoken_text.strip(), s.spoken_text.strip()) if t),
            words=prev.words + s.words,
        )
    return out


def to_nemo_cut(c: ExportCut, target_rate: int):
    """One NeMo duplex cut: mono environment source, assistant as target_audio."""
    from lhotse import MonoCut

    env = resample(c.env, c.sample_rate, SOURCE_RATE)
    rec = memory_recording(c.id, env[None, :], SOURCE_RATE)
    target = resample(c.assistant, c.sample_rate, target_rate)
    sups = [_supervision(c.id, i, s) for i, s in enumerate(whole_turns(c.sups)) if s.role in ROLES]
    third = [
        {"start": s.start, "end": s.end, "text": s.heard_text, "kind": s.kind, "speaker": s.speaker}
        for s in c.sups
        if s.role not in ROLES
    ]
    cut = MonoCut(
        id=c.id,
        start=0.0,
        duration=rec.duration,
        channel=0,
        recording=rec,
        supervisions=sups,
        custom={
            **c.custom,
            "target_audio": memory_recording(f"{c.id}-target", target[None, :], target_rate),
            "third_party": third,
        },
    )
    if c.labels is not None:
        block_s = float(c.custom["label_meta"]["block_s"])
        cut = cut.attach_tensor("labels", c.labels.astype(np.int32), frame_shift=block_s, temporal_dim=0)
    return cut


class Exporter:
    """Streams cuts into a Lhotse SharWriter under OUT (`shard_size` cuts a shard)."""

    def __init__(self, src: Path, target_rate: int = 22050, shard_size: int = 100):
        if target_rate < 8000:
            raise ExportError(f"--target-rate {target_rate} Hz is too low for speech")
        self.target_rate, self.shard_size = int(target_rate), int(shard_size)
        self.writer = None
        self.n = 0
        self.dropped_third_party = 0

    def begin(self, tmp: Path) -> None:
        from lhotse.shar import SharWriter

        self.writer = SharWriter(str(tmp), fields=FIELDS, shard_size=self.shard_size)
        self.writer.__enter__()

    def add(self, cut: ExportCut) -> None:
        self.writer.write(to_nemo_cut(cut, self.target_rate))
        self.dropped_third_party += sum(1 for s in cut.sups if s.role not in ROLES)
        self.n += 1

    def end(self) -> dict:
        self.writer.__exit__(None, None, None)
        return {
            "source_rate": SOURCE_RATE,
            "target_rate": self.target_rate,
            "third_party_segments_without_supervision": self.dropped_third_party,
            "input_cfg": {"type": "lhotse_shar", "shar_path": "<OUT>"},
        }
