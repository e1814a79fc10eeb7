"""Lhotse Shar: duplex samples -> MultiCuts with audio and label tracks.

One MultiCut per dialogue over a 2-channel recording (channel 0 the
environment stream, channel 1 the assistant). Supervisions carry channel,
speaker, text and, in `custom`, role, kind, expected behaviour and (for
turns cut short) the text actually spoken. The label track is attached as a
tensor with frame_shift = block_s, so it travels with the cut and is cut
along with it.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf

from datagen.records import DuplexSample

SHAR_FIELDS = {"recording": "flac", "labels": "numpy"}


def to_cut(s: DuplexSample):
    from lhotse import MultiCut, Recording, SupervisionSegment
    from lhotse.audio.source import AudioSource

    buf = io.BytesIO()
    sf.write(buf, np.clip(s.audio.T, -1.0, 1.0), s.sample_rate, format="WAV", subtype="PCM_16")
    n = s.audio.shape[1]
    rec = Recording(
        id=s.id,
        sources=[AudioSource(type="memory", channels=[0, 1], source=buf.getvalue())],
        sampling_rate=s.sample_rate,
        num_samples=n,
        duration=n / s.sample_rate,
        channel_ids=[0, 1],
    )
    sups = [
        SupervisionSegment(
            id=seg.id,
            recording_id=s.id,
            start=round(seg.start, 4),
            duration=round(seg.end - seg.start, 4),
            channel=seg.channel,
            text=seg.text,
            speaker=seg.speaker,
            language="en",
            custom={
                "role": seg.role,
                "kind": seg.kind,
                "expect": seg.expect,
                "spoken_text": seg.spoken_text,
                "turn": seg.turn,
            },
        )
        for seg in s.segments
    ]
    custom = dict(s.meta)
    custom["events"] = [
        {"kind": e.kind, "time": round(e.time, 4), "role": e.role, "expect": e.expect, "detail": e.detail}
        for e in s.events
    ]
    cut = MultiCut(
        id=s.id,
        start=0.0,
        duration=n / s.sample_rate,
        channel=[0, 1],
        recording=rec,
        supervisions=sups,
        custom=custom,
    )
    return cut.attach_tensor(
        "labels", s.labels.astype(np.int32), frame_shift=s.meta["label_meta"]["block_s"], temporal_dim=0
    )


def write_samples(samples: list[DuplexSample], out_dir: Path, shard_index: int) -> list[str]:
    """Write samples as one Shar shard numbered `shard_index`; returns the files written."""
    from lhotse.shar import SharWriter

    out_dir.mkdir(parents=True, exist_ok=True)
    if not samples:
        return []
    with SharWriter(
        str(out_dir), fields=SHAR_FIELDS, shard_size=len(samples) + 1, shard_offset=shard_index
    ) as w:
        for s in samples:
            w.write(to_cut(s))
    return sorted(p.name for p in out_dir.iterdir() if f".{shard_index:06d}." in p.name)


def index_row(s: DuplexSample, shard: int) -> dict:
    return {
        "id": s.id,
        "task": s.task,
        "shard": shard,
        "duration": round(s.duration, 4),
        "segments": len(s.segments),
        "events": [e.kind for e in s.events],
    }


def reject_row(r) -> dict:
    return asdict(r)


def load_cuts(out_dir: Path):
    """The corpus as a lazy CutSet (out_dir is the run folder or its shar/)."""
    from lhotse import CutSet

    shar = out_dir / "shar" if (out_dir / "shar").is_dir() else out_dir
    return CutSet.from_shar(in_dir=str(shar))
