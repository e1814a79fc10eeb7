"""Error logs: our lines validate against the shipped schema; bad lines are rejected with reasons."""

import json

import numpy as np
import pytest

from datagen.train.common.config import ScoreConfig
from datagen.train.judging.errlog import make_line, read_log, schema_problem, write_log
from datagen.train.judging.score import score_log
from datagen.train.streaming.errors import dialogues_of, label_encoder


@pytest.fixture(scope="module")
def records(local_corpus):
    from datagen.text.tokenizer import builtin_tokenizer

    encode = label_encoder(builtin_tokenizer().name, None)
    return [rec for _, rec in dialogues_of(local_corpus, encode)]


def _gold(rec):
    from datagen.train.common.tracks import SpeakSpan, render

    spans = [SpeakSpan(a["gold_speak"], a["gold_stop"]) for a in rec["answers"]]
    return render(rec["num_blocks"], spans)


def test_lines_from_every_task_validate_and_read_back(records, tmp_path):
    lines = [make_line(r, _gold(r), "gold", ScoreConfig()) for r in records]
    assert {r["task"] for r in records} >= {
        "qa",
        "pause",
        "backchannel",
        "barge_in_user",
        "barge_in_related",
        "assistant_backchannel",
    }
    for line in lines:
        assert schema_problem(line) is None
        assert line["category"] is None and line["predicted_shifts"] == line["gold_shifts"]
    write_log(tmp_path / "log.jsonl", lines)
    log = read_log(tmp_path / "log.jsonl")
    assert len(log.lines) == len(lines) and not log.rejected


def test_the_decoding_rule_is_recorded_and_checked(records):
    line = make_line(records[0], _gold(records[0]), "ckpt", ScoreConfig(), {"shift_threshold": 0.3})
    assert line["decoding"] == {"shift_threshold": 0.3} and schema_problem(line) is None
    assert "decoding" not in make_line(records[0], _gold(records[0]), "other model", ScoreConfig())
    assert schema_problem(line | {"decoding": "greedy"}) is not None  # an object, if given


def test_the_gold_log_scores_perfectly(records, tmp_path):
    lines = [make_line(r, _gold(r), "gold", ScoreConfig()) for r in records]
    write_log(tmp_path / "log.jsonl", lines)
    res = score_log(tmp_path / "log.jsonl", tmp_path / "score.json", baselines=True)
    m = res["model"]
    assert m["turn_taking_success"] == 1.0 and m["ci"]["f1"] == 1.0 and m["cd"]["f1"] == 1.0
    assert m["early_stop_rate"] == 0.0
    assert m["cue_success"] == 1.0 and m["cues"]["ok"] >= 1  # its cues, in the dips, handed back
    assert json.loads((tmp_path / "score.json").read_text())["model"] == m
    # the rule baselines are scored on the same dialogues, with the audio found via the log
    for name in ("baseline_a", "baseline_b"):
        assert res[name]["dialogues"] == len(lines)
    a, b = res["baseline_a"]["ci"], res["baseline_b"]["ci"]
    assert a["tp"] + a["fp"] == 0  # (a) never stops while speaking
    # (b) stops at speech onsets: at barge-ins, backchannels, or earlier at echo or noise
    assert b["tp"] + b["fp"] > 0


def test_malformed_lines_are_rejected_with_reasons(records, tmp_path):
    good = make_line(records[0], _gold(records[0]), "gold", ScoreConfig())
    short = dict(good, predicted=good["predicted"][:-3])
    bad_kind = json.loads(json.dumps(good))
    bad_kind["events"][0]["kind"] = "yelling"
    bad_answer = json.loads(json.dumps(good))
    bad_answer["events"][0]["answer"] = 9
    no_cat = {k: v for k, v in good.items() if k != "category"}
    rows = [
        json.dumps(good),
        "{not json",
        json.dumps([1, 2]),
        json.dumps(short),
        json.dumps(bad_kind),
        json.dumps(bad_answer),
        json.dumps(no_cat),
        json.dumps(dict(good, predicted_shifts=[1])),
    ]
    (tmp_path / "log.jsonl").write_text("\n".join(rows) + "\n")
    log = read_log(tmp_path / "log.jsonl")
    assert len(log.lines) == 1 and log.total == len(rows)
    reasons = {r["line"]: r["reason"] for r in log.rejected}
    assert reasons[2].startswith("not JSON") and reasons[3] == "not a JSON object"
    assert "blocks" in reasons[4] and "yelling" in reasons[5] and "answer 9" in reasons[6]
    assert "category" in reasons[7] and "predicted_shifts" in reasons[8]


def test_a_log_with_only_bad_lines_says_so(tmp_path):
    (tmp_path / "log.jsonl").write_text("nope\n")
    with pytest.raises(ValueError, match="no valid error-log lines"):
        score_log(tmp_path / "log.jsonl")


def test_no_response_is_logged_with_its_reason(records):
    line = make_line(records[0], np.zeros(records[0]["num_blocks"], dtype=np.int32), "silent", ScoreConfig())
    assert line["events"][0]["outcome"] == "no_response" and line["predicted_shifts"] == []
