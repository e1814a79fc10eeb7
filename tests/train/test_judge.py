"""The judge, on hand-made dialogues whose right answers are known."""

import numpy as np
import pytest

from datagen.text.tokenizer import SHIFT_ID
from datagen.train.common.config import ScoreConfig
from datagen.train.common.tracks import SpeakSpan, render
from datagen.train.judging.judge import judge
from datagen.train.judging.score import metrics

B = 0.08
CFG = ScoreConfig()


def record(overlay=None, pause=None, task="qa", n=200, natural=100):
    """User asks 0.4-2.0 s (pause inside if given); gold speaks at block 27, stops at
    27 + natural, or at the overlay's gold stop."""
    events = [
        {
            "kind": "turn",
            "who": "user",
            "time": 0.4,
            "end": 2.0,
            "expect": "speak",
            "answer": 0,
            "gold_block": 27,
            "pauses": [pause] if pause else [],
        }
    ]
    stop = 27 + natural
    if overlay:
        kind, who, onset, end = overlay
        expect = "stop" if kind in ("barge_in", "related_question") else "continue"
        gold = int((onset + min(end - onset, 1.0) + 0.16) / B) + 1 if expect == "stop" else None
        if gold:
            stop = gold
        events.append(
            {
                "kind": kind,
                "who": who,
                "time": onset,
                "end": end,
                "expect": expect,
                "answer": 0,
                "gold_block": gold,
            }
        )
    if task == "no_interruption":
        events.append(
            {
                "kind": "silence",
                "who": None,
                "time": 27 * B,
                "end": stop * B,
                "expect": "continue",
                "answer": 0,
                "gold_block": None,
            }
        )
    answers = [
        {
            "turn": 1,
            "gold_speak": 27,
            "gold_stop": stop,
            "natural_blocks": natural,
            "expect": "stop" if stop != 27 + natural else "finish",
        }
    ]
    return {"block_s": B, "num_blocks": n, "task": task, "answers": answers, "events": events}


def gold_track(rec):
    a = rec["answers"][0]
    return render(rec["num_blocks"], [SpeakSpan(a["gold_speak"], a["gold_stop"], (5, 6, 7))])


def track(speak, stop, n=200):
    return render(n, [SpeakSpan(speak, stop, (5, 6))])


@pytest.mark.parametrize(
    "rec",
    [
        record(),
        record(("barge_in", "user", 4.0, 6.0)),
        record(("barge_in", "third_party", 4.0, 4.5)),
        record(("backchannel", "user", 4.0, 4.5)),
        record(("related_question", "user", 4.0, 5.2)),
        record(("distractor", "third_party", 4.0, 5.0)),
        record(pause=[1.0, 1.6]),
        record(task="no_interruption"),
    ],
)
def test_the_gold_track_is_judged_perfect(rec):
    v = judge(rec, gold_track(rec), CFG)
    assert v["errors"] == [] and v["category"] is None
    assert all(x["outcome"] == "ok" for x in v["verdicts"])


def test_missed_barge_ins_by_who():
    user = record(("barge_in", "user", 4.0, 6.0))
    third = record(("barge_in", "third_party", 4.0, 6.0))
    for rec, cat in ((user, "ci_barge_in_user"), (third, "ci_barge_in_third_party")):
        v = judge(rec, track(27, 127), CFG)  # talks to its natural end
        assert v["verdicts"][1]["outcome"] == "missed" and v["category"] == cat
        assert v["errors"][0]["block"] == rec["events"][1]["gold_block"]


def test_stopping_at_a_backchannel_is_its_category_not_an_early_stop():
    rec = record(("backchannel", "user", 4.0, 4.5))
    v = judge(rec, track(27, 60), CFG)  # stops at 4.8 s, in the backchannel's window
    assert v["verdicts"][1] == {"outcome": "false_stop", "predicted_stop": True, "block": 60}
    assert v["category"] == "backchannel" and [e["outcome"] for e in v["errors"]] == ["false_stop"]


def test_an_early_stop_with_nothing_said():
    v = judge(record(), track(27, 80), CFG)
    assert v["category"] == "early_stop" and v["errors"][0]["block"] == 80
    # within the tolerance of the audio's end it is a normal finish
    assert judge(record(), track(27, 127 - CFG.early_blocks), CFG)["errors"] == []


def test_late_reaction_is_an_error_but_still_a_stop():
    rec = record(("barge_in", "user", 4.0, 6.0))
    gold = rec["events"][1]["gold_block"]
    v = judge(rec, track(27, gold + CFG.late_blocks + 2), CFG)
    assert v["verdicts"][1]["outcome"] == "late" and v["verdicts"][1]["predicted_stop"]
    assert v["category"] == "ci_barge_in_user"
    assert judge(rec, track(27, gold + CFG.late_blocks), CFG)["errors"] == []


def test_turn_taking_outcomes():
    rec = record(pause=[1.0, 1.6])
    assert judge(rec, track(15, 115), CFG)["verdicts"][0]["outcome"] == "spoke_in_pause"
    assert judge(rec, track(21, 121), CFG)["verdicts"][0]["outcome"] == "cut_in"
    none = judge(rec, np.zeros(200, dtype=np.int32), CFG)
    assert none["verdicts"][0]["outcome"] == "no_response" and none["category"] is None
    ok = judge(rec, track(25, 125), CFG)["verdicts"][0]  # decided in the block where speech ended
    assert ok["outcome"] == "ok" and ok["latency_ms"] == round((26 * B - 2.0) * 1000)


def test_scores_of_a_perfect_and_a_wrong_set():
    recs = [
        record(("barge_in", "user", 4.0, 6.0)),
        record(("barge_in", "third_party", 4.0, 6.0)),
        record(("backchannel", "user", 4.0, 4.5)),
        record(("backchannel", "user", 5.0, 5.5)),
        record(task="no_interruption"),
    ]
    perfect = metrics(recs, [gold_track(r) for r in recs], CFG)
    assert perfect["turn_taking_success"] == 1.0 and perfect["ci"]["f1"] == 1.0
    assert perfect["early_stop_rate"] == 0.0 and perfect["cd"]["fp"] == 0
    # always stop at once when anyone speaks (like baseline b): recall 1, precision 0.5
    stops = [
        track(27, int(4.0 / B) + 1),
        track(27, int(4.0 / B) + 1),
        track(27, int(4.0 / B) + 1),
        track(27, int(5.0 / B) + 1),
        gold_track(recs[4]),
    ]
    m = metrics(recs, stops, CFG)
    assert (m["ci"]["precision"], m["ci"]["recall"]) == (0.5, 1.0) and m["ci"]["f1"] == pytest.approx(
        2 / 3, abs=1e-3
    )
    # never speak: no turn taken, nothing stopped
    silent = metrics(recs, [np.zeros(200, dtype=np.int32)] * 5, CFG)
    assert silent["turn_taking_success"] == 0.0 and silent["ci"]["f1"] == 0.0
    assert silent["categories"] == {"none": 5}


def test_shift_parity_makes_spans():
    t = np.zeros(50, dtype=np.int32)
    t[[3, 10, 20]] = SHIFT_ID
    v = judge(record(n=50, natural=20), t, CFG)
    assert v["spans"] == [[3, 10], [20, None]]
