"""Simulated stage-2 errors, from a corpus alone (`datagen dpo --simulate`).

For users with no stage-2 model yet: each dialogue of a barge-in, backchannel,
distractor or plain-answer task gets a rejected track made from its gold
track with one typical mistake, in a configurable mix:

- `stop_at_backchannel` / `stop_at_distractor`: treats a keep-talking cue as
  a barge-in (stops as it would for one);
- `ignore_barge_in` / `miss_related`: talks through an interruption or a
  related question to the end of its answer;
- `react_late`: stops `late_by` blocks after the gold stop;
- `early_stop`: ends an uninterrupted answer 30-70 % of the way through;
- `skip_cue`: says nothing in a dip of the user's long turn where a cue
  (assistant_backchannel) belongs;
- `cue_takes_floor`: says the cue, then keeps the floor past the user's
  resumption (no stop until 2 s after it, or never).

The result is an ordinary error log (checkpoint `simulated:<mistake>`), so
pairs are built from it exactly as from a real model's log.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from datagen.text.tokenizer import SHIFT_ID
from datagen.train.common.tracks import SpeakSpan, render

MISTAKES = (
    "stop_at_backchannel",
    "stop_at_distractor",
    "ignore_barge_in",
    "miss_related",
    "react_late",
    "early_stop",
    "skip_cue",
    "cue_takes_floor",
)
PUSHES = {  # the direction of the pair each mistake makes (pairs.direction): what chosen does
    "stop_at_backchannel": "go_on",
    "stop_at_distractor": "go_on",
    "ignore_barge_in": "stop",
    "miss_related": "stop",
    "react_late": "stop",
    "early_stop": "go_on",
    "skip_cue": "speak",
    "cue_takes_floor": "stop",
}
APPLIES = {  # which gold events a mistake can be made on
    "stop_at_backchannel": ("backchannel",),
    "stop_at_distractor": ("distractor",),
    "ignore_barge_in": ("barge_in",),
    "miss_related": ("related_question",),
    "react_late": ("barge_in", "related_question"),
    "early_stop": ("finish",),
    "skip_cue": ("assistant_backchannel",),
    "cue_takes_floor": ("assistant_backchannel",),
}


def gold_spans(record: dict, tokens: list[tuple[int, ...]]) -> list[SpeakSpan]:
    return [SpeakSpan(a["gold_speak"], a["gold_stop"], tokens[k]) for k, a in enumerate(record["answers"])]


def _with_answer_changed(record: dict, spans: list[SpeakSpan], k: int, stop: int) -> np.ndarray:
    """The gold track with answer k stopping at `stop` instead; later answers that would
    start before it stops are dropped (the model was still talking, or never heard them)."""
    out = spans[:k] + [SpeakSpan(spans[k].speak, stop, spans[k].tokens)]
    out += [sp for sp in spans[k + 1 :] if sp.speak > stop]
    n = record["num_blocks"]
    if stop >= n:
        out[k] = SpeakSpan(spans[k].speak, None, spans[k].tokens)
        out = out[: k + 1]
    return render(n, out)


def candidates(record: dict) -> dict[str, list]:
    """For each mistake, the (answer, event) places in this dialogue where it can be made."""
    got: dict[str, list] = {m: [] for m in MISTAKES}
    for ev in record["events"]:
        for m in MISTAKES:
            if ev["kind"] in APPLIES[m]:
                got[m].append((ev["answer"], ev))
    for k, a in enumerate(record["answers"]):
        spoken_over = [
            e for e in record["events"] if e["answer"] == k and e["kind"] not in ("turn", "silence")
        ]
        if a["expect"] == "finish" and not spoken_over:
            got["early_stop"].append((k, None))
    return got


def make_mistake(
    record: dict,
    tokens: list[tuple[int, ...]],
    mistake: str,
    where: tuple,
    rng: np.random.Generator,
    late_by: int,
) -> np.ndarray:
    k, ev = where
    spans = gold_spans(record, tokens)
    a = record["answers"][k]
    b = record["block_s"]
    if mistake in ("stop_at_backchannel", "stop_at_distractor"):
        heard = min(ev["end"] - ev["time"], 1.0)
        stop = int(np.ceil((ev["time"] + heard + 0.16) / b - 1e-9))
    elif mistake in ("ignore_barge_in", "miss_related"):
        stop = a["gold_speak"] + a["natural_blocks"]
    elif mistake == "react_late":
        stop = a["gold_stop"] + late_by
    elif mistake == "skip_cue":
        kept = [sp for i, sp in enumerate(spans) if i != k]
        return render(record["num_blocks"], kept)
    elif mistake == "cue_takes_floor":
        stop = int(np.ceil((ev["end"] + 2.0) / b - 1e-9))
    else:  # early_stop
        stop = a["gold_speak"] + max(1, int(a["natural_blocks"] * rng.uniform(0.3, 0.7)))
    return _with_answer_changed(record, spans, k, stop)


def simulate(
    records: list[dict],
    tokens: Callable[[dict], list[tuple[int, ...]]],
    mix: dict[str, float],
    seed: int,
    late_by: int = 6,
) -> list[tuple[dict, np.ndarray, str]]:
    """(record, rejected track, mistake) for each dialogue where a mistake of the mix applies."""
    unknown = set(mix) - set(MISTAKES)
    if unknown:
        raise ValueError(f"unknown simulated mistake(s) {sorted(unknown)}; choose from {list(MISTAKES)}")
    out = []
    for rec in records:
        rng = np.random.default_rng([seed, zlib.crc32(rec["cut_id"].encode())])
        places = candidates(rec)
        usable = [m for m in MISTAKES if mix.get(m, 0) > 0 and places[m]]
        if not usable:
            continue
        w = np.array([mix[m] for m in usable], dtype=float)
        mistake = usable[int(rng.choice(len(usable), p=w / w.sum()))]
        where = places[mistake][int(rng.integers(len(places[mistake])))]
        track = make_mistake(rec, tokens(rec), mistake, where, rng, late_by)
        if (track == SHIFT_ID).sum() == 0:
            continue
        out.append((rec, track, mistake))
    return out
