"""tools/early_stops.py: where inside its answers a model stopped early, and whether a pause
in its own voice came just before."""

import json

import numpy as np
from train_support import load_tool

from datagen.train.common.tracks import SpeakSpan, render


def _tool():
    return load_tool("early_stops")


def _line(cut: str, spans: list[SpeakSpan], early: list[int]) -> dict:
    answers = [{"natural_blocks": 100, "expect": "finish"} for _ in spans]
    errors = [{"outcome": "early_stop", "answer": k, "block": spans[k].stop} for k in early]
    errors.append({"outcome": "missed", "answer": 0, "block": 1})  # not an early stop: left out
    return {
        "cut_id": cut,
        "block_s": 0.08,
        "answers": answers,
        "errors": errors,
        "predicted": render(400, spans).tolist(),
    }


def test_early_stops_are_placed_in_their_answers(tmp_path):
    log = tmp_path / "errors.jsonl"
    lines = [
        _line("a", [SpeakSpan(10, 16, (5,)), SpeakSpan(100, 150, (6,))], [0, 1]),  # 6 and 50 blocks in
        _line("b", [SpeakSpan(20, 110, (5,))], [0]),  # 90 blocks in
    ]
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    tool = _tool()
    stops = tool.stops(str(log))
    assert [(s["cut"], s["answer"], s["spoken"]) for s in stops] == [("a", 0, 6), ("a", 1, 50), ("b", 0, 90)]
    assert np.isclose(stops[2]["share"], 0.9)
    row = tool.table(["run"], [stops], None, start_blocks=16).splitlines()[2]
    assert row == "| run | 3 | 1 (0.33) | 50 | 0.50 |"


def test_a_pause_counts_only_when_it_ended_just_before_the_stop():
    tool = _tool()
    db = np.zeros(300)
    db[100:120] = -60.0  # a 200 ms pause ending at frame 120
    runs = tool._quiet_run_ends(db)
    assert tool.paused_before(runs, 125)  # 50 ms after it
    assert not tool.paused_before(runs, 170)  # 500 ms after: outside the 0.4 s look-back
    assert not tool.paused_before(runs, 110)  # inside it, only 100 ms of it so far
    db[200:205] = -60.0  # 50 ms: a gap between words, not a pause
    assert not tool.paused_before(tool._quiet_run_ends(db), 207)
