"""DPO preference pairs from an error log (SALMONN-omni's stage 3).

For a logged dialogue whose judge verdict falls in one of the error
categories (SALMONN-omni's five and the assistant's cue): *rejected* is the
model's own token track; *chosen* is the same track up to the first block
where its `<shift>`s part from the gold behaviour, then the gold behaviour
from there (a `<shift>` moved, inserted or removed; text tokens from the gold
answer).

"The gold behaviour" is aligned to what the model already did right: where
it took a turn acceptably (the judge said `ok`), the gold answer starts at
the model's own decision rather than the corpus's; where it reacted to a
barge-in acceptably, the stop stays where it put it; where it said a cue in
the dip and talked on (`took_floor`) or stopped at once (`cut_short`), the
cue stays and ends where its audio does, handing the floor back. So the two
tracks are identical up to the first real mistake, and differ at it. A missed
cue (`no_cue`) gets the gold one.

Each pair also says which way it pushes (`direction`): at the divergent block
the chosen track stops (`stop`), talks on where the model stopped (`go_on`),
starts speaking (`speak`) or stays silent where the model spoke (`wait`). A
model biased towards stopping makes mostly `go_on` pairs, and DPO on those
alone pushes it past its balance (docs/trainer.md, "Stop, or go on").
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from datagen.train.common.config import ScoreConfig
from datagen.train.common.tracks import SpeakSpan, render, spans_of
from datagen.train.judging.judge import judge

PAIR_SCHEMA = "duplex-dpo-pair/1"


def target_spans(line: dict, verdict: dict, answer_tokens: Sequence[Sequence[int]]) -> list[SpeakSpan]:
    """The gold spans, each decision moved to the model's own where the model's was acceptable."""
    speak_ok: dict[int, int] = {}
    stop_ok: dict[int, int] = {}
    for ev, v in zip(line["events"], verdict["verdicts"], strict=True):
        if ev["kind"] == "assistant_backchannel" and v["outcome"] in ("took_floor", "cut_short"):
            # the cue came in the dip: keep it, end it with its audio
            speak_ok.setdefault(ev["answer"], v.get("speak", v["block"]))
        if v["outcome"] != "ok":
            continue
        if ev["kind"] in ("turn", "assistant_backchannel"):  # both judge a speak decision
            speak_ok.setdefault(ev["answer"], v["block"])
        elif ev["expect"] == "stop" and v.get("block") is not None:
            stop_ok.setdefault(ev["answer"], v["block"])
    spans: list[SpeakSpan] = []
    after = -1
    for k, a in enumerate(line["answers"]):
        speak = max(speak_ok.get(k, a["gold_speak"]), after + 1)
        if a["expect"] == "finish":
            stop = speak + a["natural_blocks"]
        else:
            stop = stop_ok.get(k, a["gold_stop"])
        stop = max(stop, speak + 1)
        if speak >= line["num_blocks"]:
            break
        spans.append(SpeakSpan(speak, stop if stop < line["num_blocks"] else None, tuple(answer_tokens[k])))
        after = stop
    return spans


def first_divergence(a: np.ndarray, b: np.ndarray) -> int | None:
    """The first block where one track has a <shift> and the other does not."""
    from datagen.text.tokenizer import SHIFT_ID

    diff = np.flatnonzero((a == SHIFT_ID) != (b == SHIFT_ID))
    return int(diff[0]) if len(diff) else None


def direction(chosen: np.ndarray, f: int) -> str:
    """Which way the chosen track turns at block f, where it and the rejected one part:
    the tracks agree before f, so whether the assistant is speaking there is one fact."""
    from datagen.text.tokenizer import SHIFT_ID

    speaking = int((chosen[:f] == SHIFT_ID).sum()) % 2 == 1
    if chosen[f] == SHIFT_ID:
        return "stop" if speaking else "speak"
    return "go_on" if speaking else "wait"


def voice(track: np.ndarray, n_answers: int) -> list[list]:
    """[answer, speak block, stop block or None] for each span: where that side's voice plays."""
    return [[k, sp.speak, sp.stop] for k, sp in enumerate(spans_of(track)) if k < n_answers]


def _crc(text) -> str:
    return f"{zlib.crc32(str(text).encode()):08x}"


def make_pair(
    line: dict, answer_tokens: Sequence[Sequence[int]], cfg: ScoreConfig
) -> tuple[dict | None, str]:
    """A pair for one logged dialogue, or None and why not."""
    verdict = judge(line, line["predicted"], cfg)
    if verdict["category"] is None:
        return None, "no_error_in_the_five_categories"
    rejected = np.asarray(line["predicted"], dtype=np.int32)
    target = render(line["num_blocks"], target_spans(line, verdict, answer_tokens))
    f = first_divergence(rejected, target)
    if f is None:
        return None, "no_divergence_from_gold"
    chosen = np.concatenate([rejected[:f], target[f:]])
    return pair_record(line, verdict["category"], f, chosen, rejected), "ok"


def pair_record(
    line: dict, category: str, f: int, chosen: np.ndarray, rejected: np.ndarray, id_salt: str = ""
) -> dict:
    """The pair's line in pairs.jsonl (schemas/dpo_pair.schema.json), for a logged dialogue."""
    n = len(line["answers"])
    return {
        "schema": PAIR_SCHEMA,
        # The checkpoint's hash keeps ids unique when logs of several models (or several
        # simulated mistakes) on one cut are pooled: two can diverge at the same block.
        "pair_id": f"{line['cut_id']}:{category}:{f}:{_crc(line['checkpoint'] + id_salt)}",
        "cut_id": line["cut_id"],
        "corpus": line.get("corpus"),
        "task": line["task"],
        "category": category,
        "direction": direction(chosen, f),
        "first_divergent_block": f,
        "block_s": line["block_s"],
        "tokenizer": line["tokenizer"],
        "checkpoint": line["checkpoint"],
        "chosen": chosen.tolist(),
        "rejected": rejected.tolist(),
        "chosen_voice": voice(chosen, n),
        "rejected_voice": voice(rejected, n),
    }
