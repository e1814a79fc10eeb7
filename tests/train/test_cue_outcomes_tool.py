"""tools/cue_outcomes.py: the judge's `cut_short` split by when the span stopped (before or
after its voice could start) and whether the model spoke again at once."""

import json

import numpy as np
from train_support import load_tool

from datagen.train.common.tracks import SpeakSpan, render


def _tool():
    return load_tool("cue_outcomes")


def _line(cut: str, spans: list[SpeakSpan], outcome: str) -> dict:
    ev = {"kind": "assistant_backchannel", "time": 1.6, "end": 3.2, "outcome": outcome}  # blocks 20-40
    return {"cut_id": cut, "block_s": 0.08, "events": [ev], "predicted": render(100, spans).tolist()}


def test_cut_short_is_split_by_when_it_stopped_and_what_came_next(tmp_path):
    log = tmp_path / "cues.jsonl"
    lines = [
        _line("a", [SpeakSpan(22, 24, (5,)), SpeakSpan(25, 90, (6,))], "cut_short"),  # stop before voice
        _line("b", [SpeakSpan(22, 29, (5,)), SpeakSpan(40, 90, (6,))], "cut_short"),  # at a pause inside
        _line("c", [SpeakSpan(22, 36, (5,))], "ok"),
    ]
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    tool = _tool()
    dips = tool.dips(str(log), synth_delay_s=0.32)  # its voice starts 4 blocks after the decision
    assert [(d["cut"], d["outcome"], d["again"]) for d in dips] == [
        ("a", "blip before voice", True),
        ("b", "blip after voice", False),
        ("c", "ok", None),
    ]
    text = tool.table(["run"], [dips], {"a": ["uh-huh, yeah"], "b": ["right"], "c": ["mm-hmm"]})
    rows = {r.split(" | ")[0].lstrip("| "): r for r in text.splitlines()[2:]}
    assert rows["run"].endswith("| 1 of 2 |") and "| 3 |" in rows["run"]
    assert "| 1 (1.00) |" in rows["run, cue with a comma"] and "| 2 |" in rows["run, cue without"]
    assert np.isclose(sum(float(c.split("(")[1][:4]) for c in rows["run"].split(" | ")[2:7]), 1.0, atol=0.02)
