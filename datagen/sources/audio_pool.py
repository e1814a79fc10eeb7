"""Pools of local audio clips: noise, babble speech, measured room responses.

A recipe names folders of audio files or Lhotse RecordingSet manifests (the
`*.jsonl.gz` that `lhotse.recipes.prepare_musan` and friends write, or a
folder holding them). The pool lists every clip once, in a sorted order, so
that a dialogue's seeded draw picks the same clip on any machine; it is
checked at run start (`check_pool`) so a missing path, an empty folder or an
unreadable file stops the run before any work, naming the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from datagen.audio import resample
from datagen.config import RecipeError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".sph")
MANIFEST_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")


@dataclass(frozen=True)
class Clip:
    """One clip: `path` is an audio file, or a manifest with `id` in it."""

    id: str
    path: str
    in_manifest: bool


def _is_manifest(p: Path) -> bool:
    return p.name.endswith(MANIFEST_SUFFIXES)


def _manifests_in(folder: Path, part: str | None) -> list[Path]:
    """The recordings manifests of a Lhotse corpus folder; `part` (e.g. 'speech')
    keeps those whose name holds it, when any does."""
    found = sorted(p for p in folder.iterdir() if _is_manifest(p) and "recordings" in p.name)
    if part:
        wanted = [p for p in found if part in p.name]
        found = wanted or found
    return found


def _from_manifest(path: Path, key: str) -> list[Clip]:
    from lhotse import RecordingSet

    try:
        recs = RecordingSet.from_file(path)
    except Exception as e:  # not JSON, not recordings, truncated gzip
        raise RecipeError(f"{key}: {path} is not a Lhotse RecordingSet manifest: {e}") from None
    return [Clip(r.id, str(path), True) for r in recs]


def _list(path_str: str, key: str, part: str | None) -> list[Clip]:
    p = Path(path_str).expanduser()
    if not p.exists():
        raise RecipeError(f"{key}: {p} does not exist")
    if p.is_file():
        if _is_manifest(p):
            return _from_manifest(p, key)
        return [Clip(p.stem, str(p), False)]
    manifests = _manifests_in(p, part)
    if manifests:
        return [c for m in manifests for c in _from_manifest(m, key)]
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(AUDIO_SUFFIXES))
    root = p.resolve()
    return [Clip(str(f.resolve().relative_to(root).with_suffix("")), str(f), False) for f in files]


@lru_cache(maxsize=16)
def load_pool(paths: tuple[str, ...], key: str, part: str | None = None) -> tuple[Clip, ...]:
    """Every clip under `paths`, sorted by id (then path) for a stable draw order."""
    clips = [c for p in paths for c in _list(p, key, part)]
    if not clips:
        raise RecipeError(f"{key}: no audio files or RecordingSet manifests with recordings in {list(paths)}")
    return tuple(sorted(clips, key=lambda c: (c.id, c.path)))


def check_pool(paths: list[str], key: str, part: str | None = None) -> int:
    """Run-start check: the pool is not empty and every audio file can be opened
    (headers only; manifests are trusted as Lhotse wrote them). Returns its size."""
    clips = load_pool(tuple(paths), key, part)
    for c in clips:
        if not c.in_manifest:
            try:
                info = sf.info(c.path)
            except Exception as e:
                raise RecipeError(f"{key}: cannot read audio file {c.path}: {e}") from None
            if info.frames == 0:
                raise RecipeError(f"{key}: audio file {c.path} is empty")
    return len(clips)


@lru_cache(maxsize=8)
def _recordings(path: str):
    from lhotse import RecordingSet

    return RecordingSet.from_file(path).to_eager()


@lru_cache(maxsize=8)  # float32: a 5-minute 16 kHz MUSAN clip is 19 MB, so <= ~150 MB per worker
def load_clip(clip: Clip, sr: int) -> np.ndarray:
    """The clip as mono float32 at `sr` (channels averaged); cached, so read-only."""
    if clip.in_manifest:
        rec = _recordings(clip.path)[clip.id]
        x, sr_in = rec.load_audio().astype(np.float64), rec.sampling_rate
        x = x.mean(axis=0) if x.ndim == 2 else x
    else:
        try:
            x, sr_in = sf.read(clip.path, dtype="float64", always_2d=True)
        except Exception as e:
            raise RecipeError(f"cannot read audio file {clip.path}: {e}") from None
        x = x.mean(axis=1)
    x = resample(x, sr_in, sr)
    if len(x) == 0 or not np.isfinite(x).all():
        raise RecipeError(f"audio clip {clip.id} ({clip.path}) is empty or not finite")
    x.flags.writeable = False
    return x
