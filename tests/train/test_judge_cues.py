"""The judge and the scorer on assistant_backchannel dialogues: a cue in the dip of the
user's long turn, then the answer after the last stretch."""

from datagen.train.common.config import ScoreConfig
from datagen.train.common.tracks import SpeakSpan, render
from datagen.train.judging.errlog import consistency_problem, schema_problem
from datagen.train.judging.judge import judge
from datagen.train.judging.score import metrics, table

B = 0.08
CFG = ScoreConfig()


def record(n=250):
    """User stretches 0.4-2.0 s and 3.2-5.0 s; the dip 2.0-3.2 s holds the gold cue
    (speak 28, stop 36); the answer speaks at block 70 (after 5.0 s), 80 blocks long."""
    answers = [
        {"turn": 0, "gold_speak": 28, "gold_stop": 36, "natural_blocks": 8, "expect": "finish"},
        {"turn": 1, "gold_speak": 70, "gold_stop": 150, "natural_blocks": 80, "expect": "finish"},
    ]
    events = [
        {
            "kind": "assistant_backchannel",
            "who": "user",
            "time": 2.0,
            "end": 3.2,
            "expect": "speak",
            "answer": 0,
            "gold_block": 28,
        },
        {
            "kind": "turn",
            "who": "user",
            "time": 3.2,
            "end": 5.0,
            "expect": "speak",
            "answer": 1,
            "gold_block": 70,
            "pauses": [],
        },
    ]
    task = "assistant_backchannel"
    return {"block_s": B, "num_blocks": n, "task": task, "answers": answers, "events": events}


def spans(*pairs):
    return render(250, [SpeakSpan(a, b, (5, 6)) for a, b in pairs])


def outcomes(track):
    return [v["outcome"] for v in judge(record(), track, CFG)["verdicts"]]


def test_gold_track_is_right_everywhere():
    v = judge(record(), spans((28, 36), (70, 150)), CFG)
    assert [x["outcome"] for x in v["verdicts"]] == ["ok", "ok"] and v["errors"] == []
    assert v["verdicts"][0]["latency_ms"] == round((29 * B - 2.0) * 1000)


def test_no_cue_took_floor_and_a_cut_in():
    assert outcomes(spans((70, 150))) == ["no_cue", "ok"]  # answered fine, never cued
    assert outcomes(spans((28, None))) == ["took_floor", "no_response"]  # talked on through the user
    # a flicker: speak and stop at once, 1 block of an 8-block cue
    assert outcomes(spans((28, 29), (70, 150))) == ["cut_short", "ok"]
    assert judge(record(), spans((28, 29), (70, 150)), CFG)["category"] == "assistant_backchannel"
    assert outcomes(spans((28, 34), (70, 150))) == ["ok", "ok"]  # within early_blocks of its end
    # a cue, then the answer started while the user was still speaking
    assert outcomes(spans((28, 36), (50, 130))) == ["ok", "cut_in"]


def test_scored_as_cue_success_beside_the_rest():
    lines = [record(), record(), record()]
    tracks = [spans((28, 36), (70, 150)), spans((70, 150)), spans((28, None))]
    m = metrics(lines, tracks, CFG)
    assert m["cue_success"] == round(1 / 3, 4) and m["cues"] == {"ok": 1, "no_cue": 1, "took_floor": 1}
    assert m["turns"] == 3 and m["turn_taking_success"] == round(2 / 3, 4)
    assert "cue success (assistant backchannel) | 0.333" in table({"model": m})
    assert metrics([record()], [spans((70, 150))], CFG)["ci"]["tp"] == 0  # not a stop event


def test_error_log_schema_accepts_the_event():
    rec = record()
    track = spans((28, 36), (70, 150))
    line = {
        "schema": "duplex-error-log/1",
        "cut_id": "c",
        "checkpoint": "gold",
        "tokenizer": "builtin",
        "gold_shifts": [28, 36, 70, 150],
        "predicted_shifts": [28, 36, 70, 150],
        "predicted": [int(x) for x in track],
        "category": None,
        **rec,
    }
    assert schema_problem(line) is None and consistency_problem(line) is None


def _logged(track):
    from datagen.train.judging.errlog import make_line

    rec = record() | {"cut_id": "c", "corpus": None, "tokenizer": "builtin", "gold_shifts": [28, 36, 70, 150]}
    return make_line(rec, track, "model", CFG)


def test_a_cue_mistake_is_its_own_error_category():
    assert _logged(spans((70, 150)))["category"] == "assistant_backchannel"  # no cue in the dip
    assert _logged(spans((28, None)))["category"] == "assistant_backchannel"  # the cue took the floor
    assert _logged(spans((28, 36), (70, 150)))["category"] is None


def test_a_cue_mistake_becomes_a_pair_whose_chosen_track_cues_in_the_dip_and_hands_back():
    import numpy as np

    from datagen.text.tokenizer import SHIFT_ID
    from datagen.train.common.tracks import spans_of
    from datagen.train.preference.pairs import make_pair

    tokens = [(5, 6), (7, 8, 9)]
    dip, back = (int(2.0 / B), int(3.2 / B)), int((3.2 + CFG.react_window_s) / B)
    # no cue; a cue that talks on; a cue cut short (a flicker)
    for track, speak in ((spans((70, 150)), 28), (spans((31, None)), 31), (spans((30, 31), (70, 150)), 30)):
        line = _logged(track)
        pair, why = make_pair(line, tokens, CFG)
        assert why == "ok" and pair["category"] == "assistant_backchannel"
        chosen, rejected = np.array(pair["chosen"]), np.array(pair["rejected"])
        f = pair["first_divergent_block"]
        assert np.array_equal(chosen[:f], rejected[:f]) and (chosen[f] == SHIFT_ID) != (
            rejected[f] == SHIFT_ID
        )
        cue, answer = spans_of(chosen)
        # the cue is said in the dip (the model's own block where it had cued), then ends with
        # its audio (natural_blocks 8), back before the user goes on: the floor handed back
        assert dip[0] <= cue.speak <= dip[1] and cue.speak == speak and cue.stop == speak + 8 <= back
        assert cue.tokens == tokens[0] and answer.speak == 70
        assert outcomes(chosen) == ["ok", "ok"] and judge(line, chosen, CFG)["category"] is None
        assert pair["chosen_voice"][0] == [0, speak, speak + 8]


def test_score_takes_cue_success_from_the_cue_sets_log(tmp_path):
    from datagen.train.judging.compare import compare
    from datagen.train.judging.errlog import write_log
    from datagen.train.judging.score import score_log

    plain = record() | {"events": record()["events"][1:], "answers": record()["answers"]}
    main = [_logged(spans((70, 150))) | {"events": plain["events"], "category": None, "errors": []}]
    write_log(tmp_path / "main.jsonl", main)
    write_log(tmp_path / "cues_before.jsonl", [_logged(spans((70, 150)))])  # no cue
    write_log(tmp_path / "cues_after.jsonl", [_logged(spans((28, 36), (70, 150)))])  # the cue
    alone = score_log(tmp_path / "main.jsonl", baselines=False)["model"]
    both = score_log(tmp_path / "main.jsonl", baselines=False, cues=tmp_path / "cues_before.jsonl")
    assert alone["cue_success"] is None and both["model"]["cue_success"] == 0.0
    assert both["model"]["turns"] == alone["turns"] == 1  # the other figures are the main log's
    assert both["cue_log"]["scored"] == 1
    res = compare(
        tmp_path / "main.jsonl",
        tmp_path / "main.jsonl",
        tmp_path / "cmp",
        cues=(tmp_path / "cues_before.jsonl", tmp_path / "cues_after.jsonl"),
    )
    assert "| cue success (assistant backchannel) | 0.000 | 1.000 |" in res["table"]
