"""Run after run: the per-seed table, the spread of each change and the bar per seed."""

import json

import pytest

from datagen.train.judging.runs import bar, runs


def metrics(turn, p, r, cd, early, cue=None):
    f = 2 * p * r / (p + r)
    return {
        "turn_taking_success": turn,
        "ci": {"precision": p, "recall": r, "f1": round(f, 4), "stop_latency_ms": {"median": 800}},
        "cd": {"f1": cd, "stop_latency_ms": {"median": 900}},
        "early_stop_rate": early,
        "cue_success": cue,
        "turn_latency_ms": {"median": 200},
    }


def test_the_bar():
    before = metrics(0.885, 0.441, 0.930, 0.727, 0.188)
    assert bar(before, metrics(0.956, 0.603, 0.880, 0.767, 0.105)) == []  # issue 25's one run
    miss = bar(before, metrics(0.86, 0.43, 0.99, 0.70, 0.15))
    assert len(miss) == 5 and miss[0].startswith("CI stop F1") and "early stops" in miss[2]


def test_runs_table_and_spread(tmp_path):
    loops = []
    for i, (after_f_p, early) in enumerate([(0.60, 0.10), (0.52, 0.12), (0.70, 0.20)]):
        d = tmp_path / f"loop{i}"
        d.mkdir()
        c = {
            "before": metrics(0.9, 0.44, 0.93, 0.72, 0.19, 0.2),
            "after": metrics(0.9, after_f_p, 0.9, 0.72, early, 0.6),
        }
        (d / "compare.json").write_text(json.dumps(c))
        loops.append(d)
    res = runs(loops, tmp_path / "out")
    text = (tmp_path / "out" / "runs.md").read_text()
    assert text.count("| before |") == 3 and text.count("| change |") == 3
    assert res["held"] == 2  # the third's early stops went up
    assert "misses: early stops" in text.splitlines()[-1]
    assert res["change"]["cue success"]["mean"] == pytest.approx(0.4)
    assert res["change"]["early stops"]["max"] == pytest.approx(0.01)
    png = tmp_path / "out" / "runs.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    with pytest.raises(FileNotFoundError, match="make loop"):
        runs([tmp_path / "nowhere"], tmp_path / "out")
