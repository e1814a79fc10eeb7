"""`datagen validate`: prove a written corpus is whole and self-consistent.

Reads only what is on disk (Shar shards, index, rejects, stats) and checks
what a trainer relies on: every cut loads with 2 channels; supervisions lie
inside the cut on their role's channel and cover audible speech there;
channel 1 carries voice only inside the assistant's labelled spans and every
<shift> agrees with it within one block; every event is audible; and the
books balance: planned = kept + rejected, with every id accounted for.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datagen.io.atomic import parse_jsonl
from datagen.timeline.checks import check_assistant_channel, check_audible, voiced_runs

ROLE_CHANNEL = {"assistant": 1, "user": 0, "third_party": 0}


@dataclass
class ValidationReport:
    cuts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_cut(cut) -> list[str]:
    p: list[str] = []
    try:
        audio = cut.load_audio()
    except Exception as e:  # a broken tar member or missing file: report, keep going
        return [f"{cut.id}: audio does not load: {e}"]
    sr = cut.sampling_rate
    if audio.ndim != 2 or audio.shape[0] != 2:
        return [f"{cut.id}: expected 2 channels, got shape {audio.shape}"]
    if not np.isfinite(audio).all():
        p.append(f"{cut.id}: audio has NaN/inf")
    meta = (cut.custom or {}).get("label_meta", {})
    block, delay = meta.get("block_s", 0.08), meta.get("synth_delay_s", 0.32)
    try:
        labels = np.asarray(cut.load_labels())
    except Exception as e:
        return p + [f"{cut.id}: labels do not load: {e}"]
    if len(labels) != math.ceil(cut.duration / block - 1e-9):
        p.append(f"{cut.id}: {len(labels)} label blocks for {cut.duration:.2f}s of audio")
    for sup in cut.supervisions:
        role = (sup.custom or {}).get("role", "")
        where = f"{cut.id}/{sup.id}"
        if sup.start < -1e-3 or sup.end > cut.duration + 1e-3:
            p.append(f"{where}: outside the cut ({sup.start:.2f}-{sup.end:.2f}s)")
        if ROLE_CHANNEL.get(role) != sup.channel:
            p.append(f"{where}: role {role!r} on channel {sup.channel}")
            continue
        a, b = int(sup.start * sr), int(sup.end * sr)
        if sup.channel == 1:
            if not voiced_runs(audio[1, a:b], sr):
                p.append(f"{where}: no speech on channel 1 under the supervision")
        elif problem := check_audible(audio[0], sr, sup.start, sup.end):
            p.append(f"{where}: {problem}")
    p += [f"{cut.id}: {m}" for m in check_assistant_channel(audio[1], sr, labels, block, delay)]
    p += [f"{cut.id}: mix: {m}" for m in check_mix_meta((cut.custom or {}).get("mix", {}))]
    for ev in (cut.custom or {}).get("events", []):
        if ev["kind"] in ("backchannel", "barge_in", "related_question", "distractor"):
            end = ev["detail"].get("end", ev["time"] + 0.3)
            if problem := check_audible(audio[0], sr, ev["time"], end):
                p.append(f"{cut.id}: {ev['kind']} event: {problem}")
    return p


def check_mix_meta(mix: dict) -> list[str]:
    """What the cut says about its room and noise is well formed: a known noise
    kind with a finite SNR and, for recorded noise, its source ids; a known room
    kind with its parameters (positions inside the room, or the measured RIR ids)."""
    from datagen.config import NOISE_KINDS

    p: list[str] = []
    if mix.get("noise"):
        kind, snr = mix.get("noise_kind"), mix.get("snr_db")
        if kind not in NOISE_KINDS:
            p.append(f"unknown noise kind {kind!r}")
        if not isinstance(snr, (int, float)) or not math.isfinite(snr):
            p.append(f"noise SNR {snr!r} is not a number")
        if kind in ("file", "babble") and not mix.get("noise_ids"):
            p.append(f"{kind} noise without its source ids")
    room = mix.get("room")
    if room is None:  # no echo and dry speech, or a corpus written before rooms were recorded
        return p
    kind = room.get("kind")
    if kind == "simulated":
        dims = np.asarray(room.get("dims_m", []), dtype=float)
        if dims.shape != (3,) or not (dims > 0).all() or not 0 < room.get("rt60_s", 0) < 10:
            return p + [f"simulated room with bad dims/rt60: {room.get('dims_m')}, {room.get('rt60_s')}"]
        for name, pos in room.get("positions_m", {}).items():
            q = np.asarray(pos, dtype=float)
            if q.shape != (3,) or (q < 0).any() or (q > dims).any():
                p.append(f"room position of {name} {pos} is outside the room {room['dims_m']}")
    elif kind == "measured":
        if not room.get("rir_ids"):
            p.append("measured room without its RIR ids")
    elif kind != "exponential":
        p.append(f"unknown room kind {kind!r}")
    return p


def _reader(out: Path | str):
    """read(name) -> the text of a corpus-level file, or None; for a folder or a URL."""
    from datagen.io.store import ObjectStore, is_url

    if is_url(str(out)):
        return ObjectStore(str(out)).read_text
    folder = Path(out)
    return lambda name: (folder / name).read_text(encoding="utf-8") if (folder / name).is_file() else None


def _accounting(out: Path | str, seen: list[str]) -> list[str]:
    p: list[str] = []
    read = _reader(out)
    stats_text = read("stats.json")
    if stats_text is None:
        return [f"{out}/stats.json is missing"]
    stats = json.loads(stats_text)
    if not stats.get("complete", False):
        p.append(f"run is incomplete: {stats.get('shards_done')}/{stats.get('shards')} shards committed")
    index = parse_jsonl(read("index.jsonl"))
    rejects = [r for r in parse_jsonl(read("rejects.jsonl")) if r.get("stage") != "questions"]
    if sorted(r["id"] for r in index) != sorted(seen):
        missing = set(r["id"] for r in index) - set(seen)
        extra = set(seen) - set(r["id"] for r in index)
        p.append(
            f"index.jsonl and the shards disagree: missing from shards {sorted(missing)[:5]}, "
            f"not in index {sorted(extra)[:5]}"
        )
    if len(set(seen)) != len(seen):
        p.append("duplicate cut ids in the shards")
    planned, kept, rejected = stats.get("planned", 0), stats.get("kept", 0), stats.get("rejected", 0)
    if kept != len(seen):
        p.append(f"stats.json says {kept} kept, the shards hold {len(seen)}")
    if planned != kept + rejected or rejected != len(rejects):
        p.append(
            f"accounting does not add up: planned {planned} != kept {kept} + rejected {rejected} "
            f"({len(rejects)} in rejects.jsonl)"
        )
    if set(seen) & {r["id"] for r in rejects}:
        p.append("some ids are both kept and rejected")
    return p


def _has_shards(out: Path | str) -> bool:
    from datagen.io.store import ObjectStore, is_url

    if is_url(str(out)):
        return bool(ObjectStore(str(out)).names("shar"))
    shar = Path(out) / "shar"
    return shar.is_dir() and any(shar.iterdir())


def validate(out: Path | str, max_problems: int = 50) -> ValidationReport:
    """`out` is a corpus folder or its URL (s3://...): a URL is read where it is,
    through lhotse and smart_open, as a trainer would read it."""
    from datagen.io.shar import load_cuts

    rep = ValidationReport()
    if not _has_shards(out):
        rep.problems.append(f"no Shar shards in {out}/shar")
        return rep
    seen: list[str] = []
    try:
        for cut in load_cuts(out):
            rep.cuts += 1
            seen.append(cut.id)
            if len(rep.problems) < max_problems:
                rep.problems += check_cut(cut)
    except Exception as e:  # truncated tar, missing shard file, corrupt jsonl
        rep.problems.append(f"corpus does not load after {rep.cuts} cuts: {type(e).__name__}: {e}")
        return rep
    rep.problems += _accounting(out, seen)
    return rep
