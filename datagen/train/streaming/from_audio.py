"""`datagen errors --from-audio DIR --eval SET`: an error log from any model's output audio.

Other duplex models (Moshi, PersonaPlex, Freeze-Omni, ...) do not write our
token track: they write audio. Given what a model said over each evaluation
dialogue (a WAV as long as the dialogue, time-aligned with it), this finds its
speech with silero-vad (datagen/qc/vad.py), reads each stretch of speech as one
speak decision and its end as a stop decision on the 80 ms block grid, and
writes an ordinary error log (docs/error_log.md), so `datagen score` and
`datagen dpo` work on it unchanged. Text tokens are unknown: every block
between the two `<shift>`s of a span is `<think>`.

Where a model's audio sits on the block grid: our own assistant's audio starts
`synth_delay_s` (label_meta) after its speak block and ends at its stop block,
so an onset at t is a decision in the block holding t - synth_delay_s and an
end at t the block holding t. The corpus's own channel 1, read this way, gives
back the gold decisions (tests/train/test_from_audio.py).

Where the outputs are, per dialogue (the first that exists):
- `DIR/<cut_id>.wav`, or `DIR/<cut_id>/output.wav`;
- an FDB export (datagen/export/fdb.py) with outputs beside each input:
  `DIR/ids.json` maps `<folder>/<n>` to the cut; `DIR/<folder>/<n>/output.wav`
  covers that sample's `input.wav`, which starts where the dialogue starts, and
  the rest of the dialogue counts as silence.

Speech quality (`dnsmos=N`, CLI `--dnsmos N`): DNSMOS (datagen/qc/dnsmos.py) of
the speech found in N dialogues' outputs, a fixed sample by the SHA-1 of their
ids, each stretch of speech of at least a second scored and averaged by its
length, in the line's `speech_quality`; `datagen score` prints it beside the
other figures. Off by default: 1-5 s of CPU per stretch of speech.

Bad input is accounted for, never a crash: each evaluation dialogue is either
a line of the log or a reject, and each file under DIR that is no dialogue's
output is a reject too, with its reason (`missing`, `unreadable`, `empty`,
`silent`, `clipped`, `wrong_rate`, `wrong_length`, `extra`), written beside
the log as `<log>.rejects.jsonl` and counted in the summary.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from datagen.text.tokenizer import SHIFT_ID, THINK_ID
from datagen.train.common.config import ScoreConfig
from datagen.train.judging.errlog import make_line, write_log
from datagen.train.judging.events import log_record
from datagen.train.training.answers import answers_of
from datagen.train.training.data import open_corpora

VAD_SR = 16000
MERGE_GAP_S = 0.8  # a longer silence is a stop (sentence breaks: up to 0.64 s in our corpora)
STOP_GAP_S = 0.3  # a shorter one is a stop only around channel-0 speech (merge_spans); VAD gaps step by 32 ms
REACT_S = 1.0
END_LAG_S = 0.064  # silero's speech end lags the audio's end by up to two 32 ms windows
MIN_SPEECH_S = 0.15  # shorter VAD blips (a click, a breath) are not a decision to speak
MIN_RATE = 8000  # below this a file cannot hold speech the VAD hears: a wrong rate, not a model
CLIP_LEVEL = 0.999  # a sample at full scale
CLIP_FRACTION = 0.01  # more than this share of samples at full scale: clipped, its VAD is not trusted
SILENT_PEAK = 1e-4  # -80 dBFS: nothing was written
LENGTH_TOL_S = 1.0  # a model may pad or trim its output by up to a second (or 5 %) of the dialogue
LENGTH_TOL_FRAC = 0.05
EPS = 1e-9


class Reject(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


# ---- where each dialogue's output is ------------------------------------------------------------


def _fdb_map(audio_dir: Path) -> dict[str, Path]:
    """cut id -> output.wav of an FDB export's sample (ids.json at the top), first sample wins."""
    ids = audio_dir / "ids.json"
    if not ids.is_file():
        return {}
    try:
        table = json.loads(ids.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    out: dict[str, Path] = {}
    for folder, samples in table.items():
        for sid, cut_id in samples.items():
            out.setdefault(cut_id, audio_dir / folder / sid / "output.wav")
    return out


def output_path(audio_dir: Path, cut_id: str, fdb: dict[str, Path]) -> tuple[Path | None, bool]:
    """The dialogue's output file, and whether it covers only the start of it (an FDB sample)."""
    for p in (audio_dir / f"{cut_id}.wav", audio_dir / cut_id / "output.wav"):
        if p.exists():
            return p, False
    p = fdb.get(cut_id)
    return (p, True) if p is not None and p.exists() else (None, False)


def all_wavs(audio_dir: Path) -> set[Path]:
    """Every file that could be an output: WAVs at the top, and every `output.wav` below."""
    return {p for p in audio_dir.rglob("*.wav") if p.name == "output.wav" or p.parent == audio_dir}


# ---- reading one output --------------------------------------------------------------------------


def read_output(path: Path, duration: float, partial: bool = False) -> np.ndarray:
    """The output as mono 16 kHz float32 exactly `duration` long, or a Reject with the reason.
    `partial`: the file is an FDB sample's, which covers the dialogue's start up to its event
    plus 10 s of room to answer: any length (cut or padded with silence), silence allowed."""
    import soundfile as sf

    from datagen.audio import resample

    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001  (soundfile raises several types for a bad file)
        raise Reject("unreadable", f"{type(e).__name__}: {e}") from None
    if x.size == 0:
        raise Reject("empty", "no samples")
    if sr < MIN_RATE:
        raise Reject("wrong_rate", f"{sr} Hz (speech needs at least {MIN_RATE} Hz)")
    x = x.mean(axis=1)
    if not np.all(np.isfinite(x)):
        raise Reject("unreadable", "samples that are not finite numbers")
    got, tol = len(x) / sr, max(LENGTH_TOL_S, LENGTH_TOL_FRAC * duration)
    if not partial and abs(got - duration) > tol:
        raise Reject("wrong_length", f"{got:.2f} s for a {duration:.2f} s dialogue (tolerance {tol:.2f} s)")
    peak = float(np.max(np.abs(x)))
    if peak < SILENT_PEAK and not partial:  # an FDB sample may rightly be silent (pause handling)
        raise Reject("silent", f"peak {20 * math.log10(peak + 1e-12):.0f} dBFS")
    clipped = float(np.mean(np.abs(x) >= CLIP_LEVEL))
    if clipped > CLIP_FRACTION:
        raise Reject("clipped", f"{100 * clipped:.1f}% of samples at full scale")
    y = resample(x, sr, VAD_SR)
    n = int(round(duration * VAD_SR))
    return np.pad(y[:n], (0, max(0, n - len(y))))


# ---- speech -> decisions -------------------------------------------------------------------------


def merge_spans(
    spans: list[tuple[float, float]], heard: list[tuple[float, float]] = ()
) -> list[tuple[float, float]]:
    """VAD spans with their pauses closed, blips under MIN_SPEECH_S dropped. A pause is a
    stop when it is longer than MERGE_GAP_S; or longer than STOP_GAP_S, begun while someone
    in `heard` (channel-0 speech, (s, e), begun after the model began) talks or within REACT_S
    of their end, and the model speaks again only once they are done: it fell silent as they
    talked and waited for them.
    Sentence breaks are as long as the shortest stop-and-answer gaps (0.3-0.6 s), so the gap
    alone cannot tell them apart; a model resuming over the speaker has not given the floor."""

    def stops(start: float, a: float, b: float) -> bool:
        if b - a > MERGE_GAP_S:
            return True
        # only speech that began while the model spoke: the turn it is answering ended before it
        # began, and a sentence break in the answer's first second is not a reaction to that turn
        return b - a > STOP_GAP_S and any(start < s <= a <= e + REACT_S and b >= e for s, e in heard)

    out: list[list[float]] = []
    for s, e in sorted(spans):
        if out and not stops(out[-1][0], out[-1][1], s):
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out if e - s >= MIN_SPEECH_S]


def spans_to_track(
    spans: list[tuple[float, float]], n_blocks: int, block_s: float, synth_delay_s: float
) -> np.ndarray:
    """The label track of a model whose audio is speech over `spans` (seconds): a speak
    `<shift>` in the block holding onset - synth_delay_s, a stop `<shift>` in the block
    holding the end (none if it speaks to the end of the dialogue); `<think>` elsewhere."""
    track = np.full(n_blocks, THINK_ID, dtype=np.int32)
    last = -1
    for s, e in spans:
        speak = max(int(math.floor((s - synth_delay_s) / block_s + EPS)), last + 1, 0)
        if speak >= n_blocks:
            break
        stop = max(int(math.floor((e - END_LAG_S) / block_s + EPS)), speak + 1)
        track[speak] = SHIFT_ID
        if stop >= n_blocks:
            return track
        track[stop] = SHIFT_ID
        last = stop
    return track


def heard_speech(record: dict) -> list[tuple[float, float]]:
    """When someone spoke on channel 0 (the events' spans), as the model heard it."""
    return [(ev["time"], ev["end"]) for ev in record["events"] if ev.get("who")]


def speech_of(
    waves: list[np.ndarray], heard: list[list[tuple[float, float]]]
) -> list[list[tuple[float, float]]]:
    from datagen.qc.vad import speech_spans_many

    raw = speech_spans_many([(w, VAD_SR) for w in waves])
    return [merge_spans(sp, h) for sp, h in zip(raw, heard, strict=True)]


# ---- speech quality ------------------------------------------------------------------------------


def dnsmos_sample(eval_dirs: list[str], n: int) -> set[str]:
    """The ids of `n` evaluation dialogues, picked by the SHA-1 of their ids (the same on every
    run); read from the cut manifests alone, so no audio is decoded to choose them."""
    if n <= 0:
        return set()
    from lhotse import CutSet

    from datagen.qc.dnsmos import missing
    from datagen.train.training.data import shar_dir

    if why := missing():  # before any work, not after the VAD pass
        raise ValueError(f"--dnsmos: {why}")
    ids = []
    for corpus in eval_dirs:
        files = sorted(str(f) for f in shar_dir(corpus).glob("cuts.*jsonl*"))
        ids += [c.id for c in CutSet.from_shar(fields={"cuts": files})]
    return set(sorted(ids, key=lambda i: hashlib.sha1(i.encode("utf-8")).hexdigest())[:n])


def speech_quality(wave: np.ndarray, spans: list[tuple[float, float]]) -> dict:
    """DNSMOS of the model's speech: each span (seconds, of the 16 kHz `wave`) of at least
    dnsmos.MIN_SECONDS scored alone (a span is one answer; silence between answers is not
    speech to rate), their mean weighted by length. `dnsmos` is None when no span was long enough."""
    from datagen.qc.dnsmos import MIN_SECONDS, score, weighted_mean

    parts = []
    for s, e in spans:
        clip = wave[int(round(s * VAD_SR)) : int(round(e * VAD_SR))]
        if len(clip) >= MIN_SECONDS * VAD_SR:
            parts.append((score(clip, VAD_SR), round(len(clip) / VAD_SR, 3)))
    seconds = round(sum(w for _, w in parts), 3)
    return {"dnsmos": weighted_mean(parts), "segments": len(parts), "seconds": seconds}


# ---- the log -------------------------------------------------------------------------------------


def gold_of(cut, corpus: str) -> tuple[dict, dict]:
    """The error-log gold record of a cut (text tokens not needed) and its label_meta."""
    labels = np.asarray(cut.load_labels())
    meta = cut.custom["label_meta"]
    answers = answers_of(cut, cut.load_audio(), labels, None)
    record = log_record(cut, corpus, labels, answers)
    return record, meta


def errors_from_audio(
    audio_dir: str | Path,
    eval_dirs: list[str],
    out: str | Path,
    name: str | None = None,
    cfg: ScoreConfig | None = None,
    batch: int = 64,
    dnsmos: int = 0,
) -> dict:
    """Write the error log of the outputs under `audio_dir` over the eval corpora, and its
    rejects beside it (`<out>.rejects.jsonl`); returns the summary. `dnsmos`: how many
    dialogues' speech gets a DNSMOS score (a fixed sample; 0: none)."""
    audio_dir, out, cfg = Path(audio_dir), Path(out), cfg or ScoreConfig()
    if not audio_dir.is_dir():
        raise FileNotFoundError(f"no output folder at {audio_dir}")
    rated = dnsmos_sample(eval_dirs, dnsmos)
    fdb = _fdb_map(audio_dir)
    checkpoint = name or str(audio_dir)
    lines: list[dict] = []
    rejects: list[dict] = []
    used: set[Path] = set()
    pending: list[tuple[dict, dict, np.ndarray]] = []

    def flush() -> None:
        spans_all = speech_of([w for _, _, w in pending], [heard_speech(r) for r, _, _ in pending])
        for (rec, meta, wave), spans in zip(pending, spans_all, strict=True):
            track = spans_to_track(spans, rec["num_blocks"], meta["block_s"], meta.get("synth_delay_s", 0.0))
            how = {"from_audio": "silero-vad", "synth_delay_s": meta.get("synth_delay_s", 0.0)}
            lines.append(make_line(rec, track, checkpoint, cfg, how))
            if rec["cut_id"] in rated:
                lines[-1]["speech_quality"] = speech_quality(wave, spans)
        pending.clear()

    for corpus in eval_dirs:
        for cut in open_corpora([corpus]):
            path, partial = output_path(audio_dir, cut.id, fdb)
            if path is None:
                rejects.append({"cut_id": cut.id, "reason": "missing", "detail": "no output WAV for it"})
                continue
            used.add(path.resolve())
            try:
                wave = read_output(path, float(cut.duration), partial)
                rec, meta = gold_of(cut, corpus)
            except Reject as r:
                rejects.append({"cut_id": cut.id, "file": str(path), "reason": r.reason, "detail": r.detail})
                continue
            pending.append((rec, meta, wave))
            if len(pending) >= batch:
                flush()
    flush()
    for p in sorted(all_wavs(audio_dir)):
        if p.resolve() not in used:
            rejects.append(
                {"cut_id": None, "file": str(p), "reason": "extra", "detail": "no eval dialogue of that id"}
            )
    write_log(out, lines)
    from datagen.io.atomic import write_text

    write_text(rejects_path(out), "".join(json.dumps(r) + "\n" for r in rejects))
    return {
        "dialogues": len(lines),
        "rejected": len(rejects),
        "rejects_by_reason": dict(Counter(r["reason"] for r in rejects)),
        "categories": dict(Counter(line["category"] or "none" for line in lines)),
        "dnsmos_dialogues": sum("speech_quality" in line for line in lines),
        "out": str(out),
        "rejects": str(rejects_path(out)),
    }


def rejects_path(log: str | Path) -> Path:
    log = Path(log)
    return log.with_name(log.stem + ".rejects.jsonl")
