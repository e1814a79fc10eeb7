"""A speaker-prompt pool from LibriHeavy, for zero-shot TTS (CosyVoice2).

LibriHeavy (k2-fsa/libriheavy) ships Lhotse `MonoCut` manifests
(`libriheavy_cuts_{small,medium,large,dev,test_*}.jsonl.gz`) whose cuts are
slices of long Libri-Light FLAC files (16 kHz). Each supervision has a
`speaker` and `custom.texts = [cased+punctuated, UPPER normalised]`; the
cased text is what a zero-shot TTS wants as `prompt_text`.

Why these choices:

* **Deterministic, order-free picks.** For each speaker we keep the
  `per_speaker` eligible cuts with the smallest stable hash of their id, so
  the pool does not depend on manifest order or on how many shards were
  read, and it streams in O(speakers) memory even over the large manifest.
* **Prompts as files.** A prompt is a 3-10 s slice of a chapter-long FLAC;
  CosyVoice (after 2025-12-08) takes a file path, so `materialize_prompt`
  writes just that slice as a 16 kHz WAV, cached by cut id.
* **Held-out speakers.** `split_speakers` splits by a stable hash of the
  speaker, so eval voices never leak into training, whatever the pool size.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from datagen.backends.tts.base import Speaker

PROMPT_SAMPLE_RATE = 16000
BACKEND = "cosyvoice2"


def stable_hash(text: str) -> int:
    """A process-independent hash (Python's `hash` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def resolve_audio_path(source: str, audio_root: str | Path | None) -> Path:
    """Find a recording's FLAC on this machine.

    Manifests store paths relative to where they were made (for example
    `download/librilight/small/100/...flac`). With `audio_root` we try the
    path under it, then the same path with leading folders dropped one by
    one, so `audio_root` may point at `download/`, at `librilight/` or at
    the split folder. Returns the first existing candidate, else the plain
    join (the caller reports it missing).
    """
    src = Path(source)
    if src.is_absolute() or audio_root is None:
        return src
    root = Path(audio_root)
    parts = src.parts
    for i in range(len(parts)):
        cand = root.joinpath(*parts[i:])
        if cand.is_file():
            return cand
    return root / src


def _prompt_text(sup: Any) -> str:
    texts = (sup.custom or {}).get("texts") or []
    text = texts[0] if texts else (sup.text or "")
    return " ".join(str(text).split())


def _candidates(cuts: Iterable[Any], min_s: float, max_s: float) -> Iterable[tuple[str, Any, Any]]:
    """Yield (speaker, cut, supervision) for cuts usable as a prompt."""
    for cut in cuts:
        if not cut.supervisions or not (min_s <= cut.duration <= max_s):
            continue
        sup = cut.supervisions[0]
        if not sup.speaker or not _prompt_text(sup) or cut.recording is None:
            continue
        yield str(sup.speaker), cut, sup


def _speaker_record(spk: str, k: int, per_speaker: int, cut: Any, sup: Any, root: Any) -> Speaker:
    source = cut.recording.sources[0].source
    path = resolve_audio_path(str(source), root)
    sid = f"libriheavy-{spk}" if per_speaker == 1 else f"libriheavy-{spk}-{k}"
    return Speaker(
        id=sid,
        backend=BACKEND,
        params={
            "prompt_wav": str(path),
            "prompt_text": _prompt_text(sup),
            "start": round(float(cut.start + sup.start), 4),
            "duration": round(float(min(sup.duration, cut.duration)), 4),
            "sampling_rate": int(cut.recording.sampling_rate),
            "lhotse_cut_id": cut.id,
            "speaker": spk,
            # one reader = one timbre: speakers.assign_speakers keeps roles on distinct bases
            "base": f"libriheavy-{spk}",
        },
    )


def load_prompt_pool(
    manifest: str | Path,
    audio_root: str | Path | None = None,
    min_s: float = 3.0,
    max_s: float = 10.0,
    per_speaker: int = 1,
    max_speakers: int | None = None,
) -> list[Speaker]:
    """Read a LibriHeavy cuts manifest lazily and pick prompts per speaker.

    Returns Speakers for the `cosyvoice2` backend, sorted by id. With
    `max_speakers`, the speakers kept are those with the smallest stable
    hash: a deterministic subset not biased towards low speaker numbers.
    """
    from lhotse import CutSet

    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"LibriHeavy manifest not found: {manifest}")
    if per_speaker < 1:
        raise ValueError("per_speaker must be >= 1")
    best: dict[str, list[tuple[int, Any, Any]]] = {}
    for spk, cut, sup in _candidates(CutSet.from_jsonl_lazy(manifest), min_s, max_s):
        kept = best.setdefault(spk, [])
        kept.append((stable_hash(cut.id), cut, sup))
        if len(kept) > per_speaker:
            kept.sort(key=lambda t: (t[0], t[1].id))
            del kept[per_speaker:]
    speakers = sorted(best, key=lambda s: (stable_hash(s), s))
    if max_speakers is not None:
        speakers = speakers[:max_speakers]
    out = []
    for spk in speakers:
        picks = sorted(best[spk], key=lambda t: (t[0], t[1].id))
        for k, (_, cut, sup) in enumerate(picks):
            out.append(_speaker_record(spk, k, per_speaker, cut, sup, audio_root))
    return sorted(out, key=lambda s: s.id)


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (exact rational ratio, no phase drift)."""
    if sr_in == sr_out:
        return audio.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr_in, sr_out)
    return resample_poly(audio, sr_out // g, sr_in // g).astype(np.float32)


def read_prompt(params: dict[str, Any], sample_rate: int = PROMPT_SAMPLE_RATE) -> np.ndarray:
    """Read a prompt (the whole file, or the `start`/`duration` slice) as mono float32."""
    import soundfile as sf

    path = params["prompt_wav"]
    info = sf.info(path)
    start = int(round(float(params.get("start") or 0.0) * info.samplerate))
    frames = -1
    if params.get("duration") is not None:
        frames = int(round(float(params["duration"]) * info.samplerate))
    audio, sr = sf.read(path, start=start, frames=frames, dtype="float32", always_2d=True)
    return resample(audio.mean(axis=1), sr, sample_rate)


def _safe_name(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return f"{keep[-80:]}-{stable_hash(text):016x}"


def materialize_prompt(speaker: Speaker, out_dir: str | Path) -> Path:
    """Write the speaker's prompt slice as a 16 kHz mono WAV and return its path.

    Cached by cut id (or speaker id): a second call is a stat, not a decode.
    Written to a temp file and renamed, so parallel workers never read a
    half-written prompt.
    """
    import soundfile as sf

    p = speaker.params
    key = str(p.get("lhotse_cut_id") or speaker.id)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / f"{_safe_name(key)}.wav"
    if dest.is_file():
        return dest
    audio = read_prompt(p, PROMPT_SAMPLE_RATE)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".wav.tmp")
    os.close(fd)
    try:
        sf.write(tmp, audio, PROMPT_SAMPLE_RATE, format="WAV", subtype="PCM_16")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def split_speakers(speakers: list[Speaker], eval_share: float = 0.2) -> tuple[list[Speaker], list[Speaker]]:
    """Disjoint (train, eval) pools split by the underlying speaker.

    A speaker's side depends only on its own hash, so growing the pool never
    moves a voice between train and eval. Only when the hash leaves a side
    empty (tiny pools) do we move the single extreme speaker across, so
    both sides exist whenever there are two speakers or more.
    """
    if not 0.0 <= eval_share <= 1.0:
        raise ValueError("eval_share must be within [0, 1]")

    def who(s: Speaker) -> str:
        return str(s.params.get("speaker") or s.id)

    names = sorted({who(s) for s in speakers})
    score = {n: (stable_hash(n) % 10_000) / 10_000 for n in names}
    held = {n for n in names if score[n] < eval_share}
    if len(names) >= 2 and 0.0 < eval_share < 1.0:
        if not held:
            held = {min(names, key=lambda n: (score[n], n))}
        elif len(held) == len(names):
            held.discard(max(names, key=lambda n: (score[n], n)))
    train = [s for s in speakers if who(s) not in held]
    ev = [s for s in speakers if who(s) in held]
    return train, ev
