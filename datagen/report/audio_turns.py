"""Turn-taking statistics from the audio itself: silero-vad on each channel.

The supervision-based figures (`collect`) see an assistant answer as one span
from its first word to its last, so the silences between its sentences never
count as pauses, and nothing TTS or the mix added (a long breath, a trailing
silence) is visible. Here each channel of the *mixed* audio goes through
silero-vad (`datagen.qc.vad.speech_spans`, 16 kHz) and the speech it hears is
turned into IPUs, pauses, gaps and overlaps with the same dGSLM functions
(`turntaking.turn_stats`, >= 200 ms silence), so the two sets of figures
compare like with like and with SALMONN-omni's, which were measured on audio.

Channel 0 is the environment stream: user and third parties, but also
background noise and, in some cuts, the echo of the assistant's own voice.
Echo is speech to silero, and counting it would make every assistant answer
an overlap. The cut's mix metadata says whether echo was added and with what
delay (`custom["mix"]`: `echo`, `echo_delay_s`), so channel-0 speech that lies
in the echo's window (assistant speech shifted by the delay, plus a reverb
tail) and under no channel-0 supervision is dropped as echo. Channel-0
speech under a supervision is kept even if echo runs under it (a barge-in is
real speech). Noise is left to silero, which mostly rejects it; what it does
not is counted, and the report says so.

VAD is the slow part of the report (the tiny corpus, 64 dialogues and 30 min
of 2-channel audio, took ~80 s on 2 shared CPU cores against ~8 s without
it), so only a sample is analysed: `vad_cuts` dialogues (200 by default),
picked by a hash of their ids, so the sample is the same on every run and
does not depend on shard order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from datagen.report.collect import CHANNEL_NAMES, CorpusSummary, CutRow, iter_cuts
from datagen.report.turntaking import empty_stats, merge_stats, turn_stats

Interval = tuple[float, float]
ECHO_TAIL_S = 0.5  # reverb decay (EchoConfig.reverb_s, 0.25 s by default) with margin
ECHO_LEAD_S = 0.1  # silero's onsets on the two channels differ by tens of ms
SUP_PAD_S = 0.1  # channel-0 supervisions are widened by this before deciding what is echo


@dataclass
class AudioTurns:
    """VAD-based turn-taking stats of a sample of the corpus, beside the
    supervision-based stats of the same sample (so the two compare exactly)."""

    stats: dict = field(default_factory=empty_stats)  # 2-party view, from the audio
    sup_stats: dict = field(default_factory=empty_stats)  # 2-party view, supervisions, same cuts
    n_cuts: int = 0  # dialogues analysed
    n_total: int = 0  # dialogues in the corpus
    echo_cuts: int = 0  # analysed dialogues whose channel 0 had echo removed
    echo_seconds: float = 0.0  # channel-0 speech dropped as echo
    note: str = ""  # why no figures, when there are none


def vad_missing() -> str:
    """ "" when silero-vad can be imported, else a sentence saying how to get it."""
    try:
        import silero_vad  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        return (
            f"silero-vad is not installed ({e}); install the qc extra (pip install -e '.[qc]') "
            "for audio-based figures. Only supervision-based figures are shown."
        )
    return ""


def sample_rows(rows: list[CutRow], n: int) -> list[CutRow]:
    """`n` dialogues picked by the SHA-1 of their ids: the same sample on every run."""
    if n <= 0:
        return []
    return sorted(rows, key=lambda r: hashlib.sha1(r.id.encode("utf-8")).hexdigest())[:n]


def subtract(spans: list[Interval], remove: list[Interval]) -> list[Interval]:
    """The parts of `spans` outside every interval of `remove` (both lists in seconds)."""
    out: list[Interval] = []
    cuts = sorted(remove)
    for start, end in sorted(spans):
        pieces = [(start, end)]
        for rs, re_ in cuts:
            nxt = []
            for s, e in pieces:
                if re_ <= s or rs >= e:
                    nxt.append((s, e))
                    continue
                if rs > s:
                    nxt.append((s, rs))
                if re_ < e:
                    nxt.append((re_, e))
            pieces = nxt
        out.extend(p for p in pieces if p[1] - p[0] > 1e-6)
    return out


def echo_window(assistant: list[Interval], mix_meta: dict) -> list[Interval]:
    """Where the echo of the assistant can sound on channel 0; empty when the mix added none."""
    if not mix_meta.get("echo"):
        return []
    delay = float(mix_meta.get("echo_delay_s", 0.0))
    return [(s + delay - ECHO_LEAD_S, e + delay + ECHO_TAIL_S) for s, e in assistant]


def channel_speech(
    audio: np.ndarray, sr: int, env_supervisions: list[Interval], mix_meta: dict
) -> tuple[dict[str, list[Interval]], float]:
    """Speech per channel as silero-vad hears it, echo removed from channel 0.

    Returns ({"environment": spans, "assistant": spans}, seconds dropped as echo).
    """
    from datagen.qc.vad import speech_spans

    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != 2:
        raise ValueError(f"expected 2-channel audio (2, samples), got shape {x.shape}")
    env, assistant = speech_spans(x[0], sr), speech_spans(x[1], sr)
    padded = [(s - SUP_PAD_S, e + SUP_PAD_S) for s, e in env_supervisions]
    echo_only = subtract(echo_window(assistant, mix_meta), padded)
    kept = subtract(env, echo_only)
    dropped = sum(e - s for s, e in env) - sum(e - s for s, e in kept)
    return {CHANNEL_NAMES[0]: kept, CHANNEL_NAMES[1]: assistant}, dropped


def audio_turns(summary: CorpusSummary, vad_cuts: int = 200) -> AudioTurns:
    """VAD-based stats of `vad_cuts` sampled dialogues of a collected corpus.

    Opens only the recording tars of the shards that hold a sampled dialogue.
    When silero-vad is missing, or no dialogue is sampled, the result holds
    only a `note`, and the report falls back to the supervision-based figures.
    """
    result = AudioTurns(n_total=summary.dialogues)
    if vad_cuts <= 0:
        result.note = "Audio-based figures were not computed (--vad-cuts 0)."
        return result
    if missing := vad_missing():
        result.note = missing
        return result
    picked = {r.id: r for r in sample_rows(summary.rows, vad_cuts)}
    if not picked:
        result.note = "No dialogue to analyse."
        return result
    audio_stats, sup_stats = [], []
    shards = {r.shard for r in picked.values()}
    for cut in iter_cuts(summary.out_dir, with_audio=True, shards=shards):
        row = picked.get(cut.id)
        if row is None or not cut.has_recording:
            continue
        spans, dropped = channel_speech(
            cut.load_audio(), cut.sampling_rate, row.channel_intervals[CHANNEL_NAMES[0]],
            dict((cut.custom or {}).get("mix") or {}),
        )  # fmt: skip
        turns = row.n_rounds or None
        audio_stats.append(turn_stats(spans, row.duration, turns=turns))
        sup_stats.append(turn_stats(row.channel_intervals, row.duration, turns=turns))
        result.echo_cuts += dropped > 0
        result.echo_seconds += dropped
    result.n_cuts = len(audio_stats)
    result.stats, result.sup_stats = merge_stats(audio_stats), merge_stats(sup_stats)
    if not result.n_cuts:
        result.note = "No sampled dialogue had its audio in the corpus (recording tars missing?)."
    return result
