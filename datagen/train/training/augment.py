"""Late decisions: teaching a model what to do once it has missed its moment.

Teacher forcing only ever shows the model states on the gold path: in the
block after the gold speak-`<shift>` it is always already speaking. A model
that streams its own tokens and misses that block by one finds itself in a
state it never saw in training (still listening, the user long finished;
still talking, its own voice gone silent) and drifts. SFT on the corpus alone
gave exactly that: no turn taken on time, then nonsense.

So, for a share of the dialogues in each batch, one decision of the gold
track (a speak or a stop) is moved k blocks later (1 <= k <= `max_blocks`),
and the assistant stream follows the moved decision as it would at inference
(datagen/train/training/answers.py). The fed-back track waits those k blocks; the
*targets* in them are the decision itself: at every state the late track
visits, what an expert does is "now" (DAgger's relabelling, on the states a
late model actually reaches). One exception: the first `min_finish_blocks`
after an answer's audio has ended are not learned from at all, since a model
taught to end its turn after so short a silence would end it at the pause
between two sentences (up to ~0.4 s in our voices). The corpus's labels are
unchanged: this lives in the trainer (`data.late_decisions`), and the judge
still scores against gold.

The assistant's own cues ("mm-hmm" in a dip of the user's turn) get their own
draw (`cue_share`): the cue's stop is the decision made late, and the state it
teaches (still holding the floor, own voice silent, the user talking again) is
exactly where a model that has not learned it goes on talking. Its wait is its
own (`cue_finish_blocks`): a cue is short, but one with a comma ("uh-huh, yeah")
has 0.16-0.25 s of silence inside it in our voices. Learned from the first
silent block, a model stopped at that comma and then, the dip still silent,
took the turn (docs/trainer.md, "Teaching the hand-back", has both runs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from datagen.text.tokenizer import SHIFT_ID
from datagen.train.common.tracks import SpeakSpan, render, spans_of, speaking_at

IGNORE = -1  # a block nothing is learned from


def late_decision(
    labels: np.ndarray,
    interrupted: list[bool],
    rng: np.random.Generator,
    max_blocks: int,
    min_finish_blocks: int = 1,
    cue_stops: Sequence[int] = (),
    cue_finish_blocks: int = 1,
) -> tuple[np.ndarray, list[SpeakSpan], np.ndarray] | None:
    """(fed-back track, voice spans, targets) with one decision moved later; None if
    none can move. Targets are label ids, IGNORE where nothing is learned.

    `interrupted[k]` says whether answer k's stop is a reaction (it stays put when
    the answer starts late) or the natural end of its audio (it moves with it).
    `cue_stops`: the spans that are the assistant's cues; when given, one of their
    stops is the decision moved, with a wait of `cue_finish_blocks` instead of
    `min_finish_blocks`."""
    n = len(labels)
    spans = spans_of(labels)
    if not spans or len(interrupted) != len(spans):
        return None
    options = [
        (k, what) for k in range(len(spans)) for what in ("speak", "stop") if spans[k].stop is not None
    ]
    if cue_stops:
        options = [(k, "stop") for k in cue_stops if k < len(spans) and spans[k].stop is not None]
        if not options:
            return None
    k, what = options[int(rng.integers(len(options)))]
    finish = what == "stop" and not interrupted[k]
    wait = cue_finish_blocks if k in cue_stops else min_finish_blocks
    lowest = wait if finish else 1
    delay = int(rng.integers(min(lowest, max_blocks), max_blocks + 1))
    sp = spans[k]
    nxt = spans[k + 1].speak if k + 1 < len(spans) else n
    if what == "speak":
        stop = sp.stop if interrupted[k] else sp.stop + delay
        if sp.speak + delay >= stop - 1 or stop >= nxt:
            return None
        moved = SpeakSpan(sp.speak + delay, stop, sp.tokens)
        skip = (sp.speak, sp.speak + delay)
    else:
        if sp.stop + delay >= nxt:
            return None
        moved = SpeakSpan(sp.speak, sp.stop + delay, sp.tokens)
        skip = (sp.stop, sp.stop + delay)
    new = spans[:k] + [moved] + spans[k + 1 :]
    track = render(n, new)
    targets = track.copy()
    targets[skip[0] : skip[1]] = SHIFT_ID  # "now", at every block it waited
    if finish:
        targets[skip[0] + 1 : skip[0] + wait] = IGNORE
    voice = [SpeakSpan(s.speak, s.stop if interrupted[i] else None) for i, s in enumerate(new)]
    return track, voice, targets


def react_sooner(
    fed: np.ndarray, targets: np.ndarray, events: list[dict], block_s: float, from_s: float
) -> np.ndarray:
    """Targets where a barge-in's stop is learned at every block from `from_s` after its
    onset up to the stop, not at the stop's block alone.

    Why: the corpus puts the stop `reaction_s` after the barge-in was heard (up to
    1 s of it), and the judge accepts a stop anywhere from its onset on. Learned at
    that one block, the stop is a timing puzzle (how long has this voice been
    talking over me?) with one positive among hundreds of blocks; a small model
    spreads a few percent of probability over the neighbouring blocks and, decoding
    greedily, never stops (docs/trainer.md, "Learning to stop"). Every block after
    `from_s` of speech over its answer is a right moment to stop, so each is taught
    as one. `from_s` is kept above most backchannels' length, so "speech over me
    that goes on" is the cue, not "any sound over me". Other events keep their
    gold block; the fed-back track is unchanged (the blocks before the stop are
    states the model reaches while it has not stopped yet)."""
    out = targets.copy()
    spans = spans_of(fed)
    for ev in events:
        if ev["kind"] != "barge_in" or ev.get("expect") != "stop":
            continue
        sp = speaking_at(spans, int(ev["time"] / block_s + 1e-9))
        if sp is None or sp.stop is None:
            continue
        first = max(int(np.ceil((ev["time"] + from_s) / block_s - 1e-9)), sp.speak + 1)
        window = out[first : sp.stop]
        window[window >= 0] = SHIFT_ID
    return out
