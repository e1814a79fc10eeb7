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

SHAR_FIELDS = {"recording": "flac", "labels": "numpy", "full_answers": "flac"}


def memory_recording(rec_id: str, audio: np.ndarray, sr: int):
    """A Recording held in memory as 16-bit WAV; `audio` is (channels, samples)."""
    from lhotse.audio.source import AudioSource

    buf = io.BytesIO()
    sf.write(buf, np.clip(audio.T, -1.0, 1.0), sr, format="WAV", subtype="PCM_16")
    channels = list(range(audio.shape[0]))
    return _recording(
        rec_id, audio.shape, sr, AudioSource(type="memory", channels=channels, source=buf.getvalue())
    )


def _shar_recording(rec_id: str, audio: np.ndarray, sr: int):
    """The manifest Shar stores for an audio field: no bytes, a `shar` source
    (what lhotse's `to_shar_placeholder` makes of any recording)."""
    from lhotse.audio.source import AudioSource

    return _recording(
        rec_id, audio.shape, sr, AudioSource(type="shar", channels=list(range(audio.shape[0])), source="")
    )


def _recording(rec_id: str, shape: tuple[int, int], sr: int, source):
    from lhotse import Recording

    channels, n = shape
    return Recording(
        id=rec_id,
        sources=[source],
        sampling_rate=sr,
        num_samples=n,
        duration=n / sr,
        channel_ids=list(range(channels)),
    )


def pcm16(audio: np.ndarray) -> np.ndarray:
    """`audio` (channels, samples) as 16-bit samples, int16 (channels, samples),
    exactly as libsndfile converts floats for a 16-bit WAV: clip to [-1, 1],
    round x * 2^31 to an integer (half to even, as lrintf), shift right by 16
    (floor), saturate. In float32 every step is exact (power-of-two scales;
    rint only matters below 2^23), and numpy does it ~6x faster than a
    libsndfile RAW write; tests/io compare the two on edge and random values.
    Handed to the FLAC writer as ints, the samples are stored as they are."""
    y = np.rint(np.clip(audio, -1.0, 1.0).astype(np.float32, copy=False) * np.float32(2**31))
    y *= np.float32(2**-16)
    np.floor(y, out=y)
    np.clip(y, -32768, 32767, out=y)
    return y.astype(np.int16)


def full_answers_audio(s: DuplexSample) -> tuple[np.ndarray, list[dict]] | None:
    """Each cut-short answer whole, one channel each, aligned with the cut: the
    answer starts where it starts on channel 1 and plays on past its stop, to the
    end of the cut (`custom["full_answers_index"]`: turn, channel). Aligned and
    as long as the cut, so every Lhotse operation (Shar round trips, truncation,
    re-sharding) treats it like the recording."""
    if not s.full_answers:
        return None
    n = s.audio.shape[1]
    starts = {seg.turn: seg.start for seg in s.segments if seg.channel == 1}
    chans = np.zeros((len(s.full_answers), n), dtype=np.float32)
    index = []
    for ch, (turn, audio) in enumerate(s.full_answers):
        a = int(round(starts[turn] * s.sample_rate))
        x = audio[: max(n - a, 0)]
        chans[ch, a : a + len(x)] = x
        index.append({"turn": turn, "channel": ch})
    return chans, index


def _word_alignment(seg) -> dict | None:
    """Lhotse's own alignment field: {"word": [AlignmentItem(word, start, duration)]},
    in cut time (Lhotse's convention), the words actually heard."""
    from lhotse.supervision import AlignmentItem

    if not seg.words:
        return None
    items = [AlignmentItem(w.text, w.start, round(max(w.end - w.start, 0.0), 4)) for w in seg.words]
    return {"word": items}


def to_cut(s: DuplexSample, shar: bool = False):
    """The dialogue as a MultiCut. Audio is held in memory as 16-bit WAV, or, with
    `shar`, left out: the cut then carries the manifests Shar stores (`shar`
    sources and arrays) and `write_samples` hands the samples to the writers."""
    from lhotse import MultiCut, SupervisionSegment
    from lhotse.shar.utils import to_shar_placeholder

    n = s.audio.shape[1]
    recording = _shar_recording if shar else memory_recording
    rec = recording(s.id, s.audio, s.sample_rate)
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
                "word_timing": seg.word_timing,
                **({"dnsmos": seg.dnsmos} if seg.dnsmos is not None else {}),  # qc.dnsmos_min_ovrl on
            },
            alignment=_word_alignment(seg),
        )
        for seg in s.segments
    ]
    custom = dict(s.meta)
    custom["events"] = [
        {"kind": e.kind, "time": round(e.time, 4), "role": e.role, "expect": e.expect, "detail": e.detail}
        for e in s.events
    ]
    full = full_answers_audio(s)
    if full is not None:
        custom["full_answers"] = recording(f"{s.id}-full_answers", full[0], s.sample_rate)
        custom["full_answers_index"] = full[1]
    cut = MultiCut(
        id=s.id,
        start=0.0,
        duration=n / s.sample_rate,
        channel=[0, 1],
        recording=rec,
        supervisions=sups,
        custom=custom,
    )
    cut = cut.attach_tensor(
        "labels", s.labels.astype(np.int32), frame_shift=s.meta["label_meta"]["block_s"], temporal_dim=0
    )
    if shar:
        cut.custom["labels"] = to_shar_placeholder(cut.custom["labels"])
    return cut


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
            _write_cut(w.writers, s)
    names = sorted(p.name for p in out_dir.iterdir() if f".{shard_index:06d}." in p.name)
    for name in names:
        if name.endswith(".gz"):
            _zero_gzip_mtime(out_dir / name)
    return names


def _write_cut(writers: dict, s: DuplexSample) -> None:
    """What `SharWriter.write(to_cut(s))` writes, from the arrays we already hold.

    Lhotse's writer takes audio only through a Recording it loads, so it would
    encode our samples to WAV, decode them, then encode FLAC; here the same
    16-bit values (`pcm16`) go straight to its FLAC tar writer, and the cut
    carries the same placeholders it would have made. Same bytes, with one FLAC
    encode and no WAV encode/decode (tests/io check the bytes against
    `SharWriter.write`)."""
    from lhotse.utils import fastcopy

    cut = to_cut(s, shar=True)
    sr = s.sample_rate
    writers["recording"].write(cut.id, pcm16(s.audio), sr, manifest=cut.recording, original_format="wav")
    writers["labels"].write(cut.id, s.labels.astype(np.int32), manifest=cut.custom["labels"])
    full = full_answers_audio(s)
    if full is None:
        writers["full_answers"].write_placeholder(cut.id)
    else:
        writers["full_answers"].write(
            cut.id, pcm16(full[0]), manifest=cut.custom["full_answers"], sampling_rate=sr
        )
    writers["cuts"].write(fastcopy(cut, start=0))  # SharWriter's int 0, byte for byte


def _zero_gzip_mtime(path: Path) -> None:
    """Zero the write time a gzip header carries (RFC 1952 MTIME, bytes 4-7), so the same
    recipe and seed give the same bytes, not just the same content. The field is outside
    every checksum (the trailer's CRC covers the data; Python writes no header CRC)."""
    with open(path, "r+b") as f:
        head = f.read(4)
        if head[:2] == b"\x1f\x8b" and not head[3] & 0x02:  # gzip, no FHCRC
            f.write(b"\0\0\0\0")


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


def load_full_answers(cut) -> dict[int, np.ndarray]:
    """{turn: mono audio} of each assistant turn the cut holds cut short: the whole
    answer from its start on channel 1 to the end of the cut (empty for a cut with
    none, or a corpus written before they were kept)."""
    if not cut.has_custom("full_answers"):
        return {}
    audio = np.atleast_2d(cut.load_full_answers())
    starts = {s.custom.get("turn"): s.start for s in cut.supervisions if s.channel == 1}
    sr = cut.sampling_rate
    return {
        e["turn"]: audio[e["channel"], int(round(starts[e["turn"]] * sr)) :]
        for e in cut.custom["full_answers_index"]
    }


def load_cuts(out_dir: Path | str):
    """The corpus as a lazy CutSet (out_dir is the run folder or its shar/, or a URL of either)."""
    from lhotse import CutSet

    from datagen.io.store import is_url, shar_fields

    if is_url(str(out_dir)):
        return CutSet.from_shar(fields=shar_fields(str(out_dir)))
    out_dir = Path(out_dir)
    shar = out_dir / "shar" if (out_dir / "shar").is_dir() else out_dir
    return CutSet.from_shar(in_dir=str(shar))
