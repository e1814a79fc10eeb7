"""Anchor pairs: a model's own right decisions, held against the mistake it did not make.

`datagen dpo --balance-directions own` evens `stop` and `go_on` pairs (pairs.py)
with these rather than with simulated mistakes. Where the model stopped in time
for a barge-in or a related question, *chosen* is its own track and *rejected*
the same track talking on through it to the answer's natural end; where it
talked on through a backchannel or a distractor, *rejected* stops there (as
simulate.py's `stop_at_*` mistakes do, but on the model's own track).

Why try them: a simulated pair's chosen side is the corpus's stop, not where
this model stops; an anchor's chosen side is what the model already does (its
log-probability is high to start with), so APO-zero mostly lowers the rejected
side, talking through a barge-in it already stops for. Measured on seed 1's
600-step model (92 "go on" pairs evened with 88 "stop" ones): both fills kept its
CI recall where the unbalanced run lost it, neither held the bar, and anchors did
no better than simulated stops (CI F1 0.570 against 0.607, early stops 0.334
against 0.371; docs/trainer.md, "Stop, or go on").

`datagen dpo --turn-anchors N` adds anchors of a third kind, `speak`: where the
model took its turn in time (the judge said `ok`), *chosen* is its own track and
*rejected* the same track silent for that answer. Why: no error category is a
missed turn, so a pool's pairs push the `<shift>` down in listening blocks
(`wait`) and, in a model that cannot yet tell its states apart, everywhere
(`go_on`); nothing holds up the turn-taking the SFT model already had. These
pairs have the category `turn_taking` (no error category: the model made no
mistake there).
"""

from __future__ import annotations

import numpy as np

from datagen.train.common.config import ScoreConfig
from datagen.train.common.tracks import SpeakSpan, render, spans_of, speaking_at
from datagen.train.judging.judge import category_of, judge
from datagen.train.preference.pairs import direction, first_divergence, pair_record

STOP_KINDS = ("barge_in", "related_question")  # a right stop: its anchor's rejected side talks on
GO_ON_KINDS = ("backchannel", "distractor")  # a right go-on: its anchor's rejected side stops
TURN_CATEGORY = "turn_taking"  # a `speak` anchor's category: a turn taken in time


def _talks_on(line: dict, spans: list[SpeakSpan], stop: int, answer: int, tokens) -> np.ndarray | None:
    """The track with the span that stopped at `stop` running to its answer's natural end:
    what it said, then the rest of the answer's text."""
    k = next((i for i, sp in enumerate(spans) if sp.stop == stop), None)
    if k is None:
        return None
    end = spans[k].speak + line["answers"][answer]["natural_blocks"]
    if end <= stop:
        return None
    n = line["num_blocks"]
    said = spans[k].tokens
    out = spans[:k] + [SpeakSpan(spans[k].speak, end if end < n else None, said + tuple(tokens[len(said) :]))]
    out += [sp for sp in spans[k + 1 :] if end < n and sp.speak > end]
    return render(n, out)


def _stops_at(line: dict, spans: list[SpeakSpan], ev: dict) -> np.ndarray | None:
    """The track stopping for the overlay it rightly talked through (simulate.py's reaction point)."""
    b = line["block_s"]
    sp = speaking_at(spans, int(ev["time"] / b + 1e-9))
    if sp is None:
        return None
    stop = int(np.ceil((ev["time"] + min(ev["end"] - ev["time"], 1.0) + 0.16) / b - 1e-9))
    if stop <= sp.speak or (sp.stop is not None and stop >= sp.stop) or stop >= line["num_blocks"]:
        return None
    return render(line["num_blocks"], [SpeakSpan(s.speak, stop, s.tokens) if s is sp else s for s in spans])


def _stays_silent(line: dict, spans: list[SpeakSpan], speak: int) -> np.ndarray | None:
    """The track without the span the model began at `speak`: it never took that turn."""
    if not any(sp.speak == speak for sp in spans):
        return None
    return render(line["num_blocks"], [sp for sp in spans if sp.speak != speak])


def anchor_pairs(line: dict, answer_tokens, want: str, cfg: ScoreConfig) -> list[dict]:
    """Anchors of direction `want` (`stop`, `go_on` or `speak`) from one logged dialogue's
    right decisions."""
    predicted = np.asarray(line["predicted"], dtype=np.int32)
    spans = spans_of(predicted)
    verdict = judge(line, predicted, cfg)
    out = []
    for ev, v in zip(line["events"], verdict["verdicts"], strict=True):
        if v["outcome"] != "ok":
            continue
        if want == "stop" and ev["kind"] in STOP_KINDS:
            rejected = _talks_on(line, spans, v["block"], ev["answer"], answer_tokens[ev["answer"]])
        elif want == "go_on" and ev["kind"] in GO_ON_KINDS:
            rejected = _stops_at(line, spans, ev)
        elif want == "speak" and ev["kind"] == "turn":
            rejected = _stays_silent(line, spans, v["block"])
        else:
            continue
        f = None if rejected is None else first_divergence(predicted, rejected)
        if f is None or direction(predicted, f) != want or not np.array_equal(predicted[:f], rejected[:f]):
            continue
        category = TURN_CATEGORY if ev["kind"] == "turn" else category_of(ev)
        pair = pair_record(line, category, f, predicted, rejected, id_salt=":anchor")
        out.append({**pair, "anchor": True})
    return out
