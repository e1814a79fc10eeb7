"""Token tracks as speaking spans, and back.

A track is one label id per block (0 `<think>`, 1 `<shift>`, 2+ text; see
docs/labels.md). Its `<shift>`s toggle listening and speaking, so a track is
equally a list of speaking spans: (speak block, stop block or None if it is
still speaking when the dialogue ends). The judge reads tracks as spans, and
the DPO pairs and simulated errors write spans back as tracks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from datagen.text.tokenizer import SHIFT_ID, THINK_ID


@dataclass(frozen=True)
class SpeakSpan:
    speak: int  # block of the speak-<shift>
    stop: int | None  # block of the stop-<shift>; None = still speaking at the end
    tokens: tuple[int, ...] = ()  # text label ids said from speak + 1 (cut at the stop)


def spans_of(track: Sequence[int] | np.ndarray) -> list[SpeakSpan]:
    """Speaking spans of a track, with the text ids each one emitted."""
    t = np.asarray(track)
    shifts = np.flatnonzero(t == SHIFT_ID).tolist()
    out = []
    for i in range(0, len(shifts), 2):
        a = shifts[i]
        b = shifts[i + 1] if i + 1 < len(shifts) else None
        body = t[a + 1 : b if b is not None else len(t)]
        out.append(SpeakSpan(a, b, tuple(int(x) for x in body if x > SHIFT_ID)))
    return out


def render(n_blocks: int, spans: Sequence[SpeakSpan]) -> np.ndarray:
    """The track of `spans`: <shift> at each speak and stop, the span's text ids
    from the block after its speak (as many as fit), <think> everywhere else."""
    t = np.full(n_blocks, THINK_ID, dtype=np.int32)
    last = -1
    for sp in spans:
        if sp.speak <= last or sp.speak >= n_blocks or (sp.stop is not None and sp.stop <= sp.speak):
            raise ValueError(f"spans overlap or run backwards: {sp} after block {last}")
        end = n_blocks if sp.stop is None else min(sp.stop, n_blocks)
        t[sp.speak] = SHIFT_ID
        ids = np.asarray(sp.tokens[: max(end - sp.speak - 1, 0)], dtype=np.int32)
        t[sp.speak + 1 : sp.speak + 1 + len(ids)] = ids
        if sp.stop is not None and sp.stop < n_blocks:
            t[sp.stop] = SHIFT_ID
        last = end
    return t


def shift_blocks(track: Sequence[int] | np.ndarray) -> list[int]:
    return np.flatnonzero(np.asarray(track) == SHIFT_ID).tolist()


def speaking_at(spans: Sequence[SpeakSpan], block: int) -> SpeakSpan | None:
    """The span the model is speaking in during `block` (decided before it, not stopped yet)."""
    for sp in spans:
        if sp.speak < block and (sp.stop is None or sp.stop >= block):
            return sp
    return None
