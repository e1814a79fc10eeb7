"""The 80 ms-block label track (SALMONN-omni's explicit thinking).

One target token per block:
  <think>  while listening, and while speaking once the text has run out;
  <shift>  in the block where the assistant decides to speak, and in the
           block where it decides to stop (end of its audio, or its reaction
           to a barge-in);
  text     the answer's tokens, one per block, from the block after the
           speak-<shift>, until they run out or it stops.
Ids: 0 <think>, 1 <shift>, 2 + tokenizer id for text (see docs/labels.md).
"""

from __future__ import annotations

import math

import numpy as np

from datagen.text.tokenizer import SHIFT_ID, TEXT_OFFSET, THINK_ID, LabelTokenizer, label_to_text
from datagen.timeline.place import PlacementError, Span


def label_track(spans: tuple[Span, ...], duration: float, block_s: float, tok: LabelTokenizer) -> np.ndarray:
    n = math.ceil(duration / block_s - 1e-9)
    labels = np.full(n, THINK_ID, dtype=np.int32)
    last = -1
    for sp in spans:
        if sp.decide_block <= last or sp.stop_block <= sp.decide_block or sp.stop_block >= n:
            raise PlacementError(
                "label_collision", f"turn {sp.turn}: blocks {sp.decide_block}..{sp.stop_block}"
            )
        ids = tok.encode(sp.text if sp.text.startswith(" ") else " " + sp.text)
        room = sp.stop_block - sp.decide_block - 1  # blocks strictly between the two shifts
        if len(ids) > room and not sp.interrupted:
            raise PlacementError(
                "too_many_tokens", f"turn {sp.turn}: {len(ids)} tokens, {room} speaking blocks"
            )
        ids = ids[:room]
        labels[sp.decide_block] = SHIFT_ID
        labels[sp.decide_block + 1 : sp.decide_block + 1 + len(ids)] = (
            np.asarray(ids, dtype=np.int32) + TEXT_OFFSET
        )
        labels[sp.stop_block] = SHIFT_ID
        last = sp.stop_block
    return labels


def shift_blocks(labels: np.ndarray) -> list[int]:
    return [int(i) for i in np.flatnonzero(labels == SHIFT_ID)]


def labels_as_text(labels: np.ndarray, tok: LabelTokenizer) -> list[str]:
    return [label_to_text(int(i), tok) for i in labels]


def compact(labels: np.ndarray, tok: LabelTokenizer) -> str:
    """Run-length view for humans: `<think>x12 <shift> The capital ... <think>x30 <shift>`."""
    out: list[str] = []
    run = 0
    for i in labels:
        if i == THINK_ID:
            run += 1
            continue
        if run:
            out.append(f"<think>x{run}")
            run = 0
        out.append(label_to_text(int(i), tok))
    if run:
        out.append(f"<think>x{run}")
    return " ".join(out)
