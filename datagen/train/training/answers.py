"""The assistant's answers in a cut, and the assistant stream a token track implies.

A duplex model hears its own voice: the assistant stream is part of its input,
and it must follow the decisions of whoever is deciding: the gold track in
SFT, each side of a DPO pair, the model itself when streaming. So the trainer
builds that stream from a track, one way for all three:

- the n-th speak-`<shift>` plays the n-th answer, starting `synth_delay_s`
  after it exactly as in the corpus (the answer's audio moves rigidly with the
  decision);
- a stop-`<shift>` in block s silences it from the end of block s: in block s
  the model heard its own voice, then decided; the voice cannot be unsaid.
  (The corpus cuts a barge-in's answer at the start of block s, with a 20 ms
  fade. Trained on that, a model would learn to stop when it hears its voice
  fade, a cue no live model ever gets, because its voice fades after, not
  before, it decides.)

Answers the corpus cut short come whole from the cut's `full_answers` field,
so a model that talks through a barge-in goes on talking.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from datagen.io.shar import load_full_answers
from datagen.timeline.checks import voiced_runs
from datagen.train.common.tracks import SpeakSpan, spans_of

EPS = 1e-9
CUE_KIND = "assistant_backchannel"  # the corpus's kind for the assistant's own cue (datagen.records.CUE_KIND)


@dataclass(frozen=True, eq=False)
class Answer:
    turn: int
    lead_s: float  # its audio starts this long after the start of its speak block
    audio: np.ndarray  # the whole answer, mono float32
    natural_blocks: int  # speak-<shift> to stop-<shift> had it not been interrupted
    tokens: tuple[int, ...]  # label ids of the whole answer's text
    gold_speak: int
    gold_stop: int
    interrupted: bool
    cue: bool = False  # the assistant's own short cue in a dip of the user's turn


def assistant_turns(cut) -> list:
    """The cut's assistant supervisions (channel 1), in order."""
    return sorted((s for s in cut.supervisions if s.channel == 1), key=lambda s: s.start)


def answer_tokens(cut, encode: Callable[[str], list[int]] | None) -> list[tuple[int, ...]]:
    """Label ids of each whole answer's text (what the label track would say, uncut);
    empty without an encoder."""
    turns = assistant_turns(cut)
    if encode is None:
        return [()] * len(turns)
    return [tuple(encode(s.text if s.text.startswith(" ") else " " + s.text)) for s in turns]


def answers_of(
    cut, audio: np.ndarray, labels: np.ndarray, encode: Callable[[str], list[int]] | None = None
) -> list[Answer]:
    """Every assistant turn of a cut, in order, paired with the gold spans of its label track.

    `audio` is the cut's (2, T) audio and `encode` the corpus tokenizer's encoder
    (text -> label ids, offset included)."""
    meta = cut.custom["label_meta"]
    block, sr = meta["block_s"], cut.sampling_rate
    sups = assistant_turns(cut)
    gold = spans_of(labels)
    if len(gold) != len(sups):
        raise ValueError(
            f"{cut.id}: {len(sups)} assistant turns but {len(gold)} speaking spans in its labels"
        )
    whole = load_full_answers(cut)
    out = []
    for sup, span, tokens in zip(sups, gold, answer_tokens(cut, encode), strict=True):
        turn = int(sup.custom.get("turn", -1))
        interrupted = sup.custom.get("expect") == "stop"
        if interrupted and turn in whole:
            x = np.asarray(whole[turn], dtype=np.float32)
        else:
            a = int(round(sup.start * sr))
            x = np.asarray(audio[1, a : a + int(round(sup.duration * sr))], dtype=np.float32)
        runs = voiced_runs(x, sr)
        last_voice = runs[-1][1] if runs else len(x) / sr
        natural_stop = int((sup.start + last_voice) / block + EPS)
        if not interrupted and span.stop is not None:
            natural_stop = span.stop  # the corpus's own block for it (identical by construction)
        out.append(
            Answer(
                turn=turn,
                lead_s=sup.start - span.speak * block,
                audio=x,
                natural_blocks=natural_stop - span.speak,
                tokens=tokens,
                gold_speak=span.speak,
                gold_stop=span.stop if span.stop is not None else len(labels),
                interrupted=interrupted,
                cue=sup.custom.get("kind") == CUE_KIND,
            )
        )
    return out


def place_answer(
    wave: np.ndarray, answer: Answer, speak: int, stop: int | None, block_s: float, sr: int
) -> None:
    """Write one answer into an assistant-stream buffer as a decision at `speak` (and a
    stop at `stop`) would play it. Nothing is written into the decision's own block or
    before it (the model had already heard that block when it decided)."""
    start = int(round((speak * block_s + answer.lead_s) * sr))
    x = answer.audio
    floor = int(round((speak + 1) * block_s * sr))
    if start < floor:  # leading silence longer than the synthesis delay: drop it
        x, start = x[floor - start :], floor
    end = len(wave) if stop is None else min(len(wave), int(round((stop + 1) * block_s * sr)))
    n = max(min(len(x), end - start), 0)
    wave[start : start + n] = x[:n]
    if stop is not None:
        wave[max(end, start) : start + len(x)] = 0.0


def gold_voice(answers: Sequence[Answer]) -> list[SpeakSpan]:
    """The gold decisions as spans; an uninterrupted answer plays to its own end."""
    return [SpeakSpan(a.gold_speak, a.gold_stop if a.interrupted else None) for a in answers]


def assistant_wave(
    spans: Sequence[SpeakSpan], answers: Sequence[Answer], n_samples: int, block_s: float, sr: int
) -> np.ndarray:
    """The assistant stream of a whole track: the n-th span plays the n-th answer."""
    wave = np.zeros(n_samples, dtype=np.float32)
    for sp, ans in zip(spans, answers, strict=False):
        place_answer(wave, ans, sp.speak, sp.stop, block_s, sr)
    return wave
