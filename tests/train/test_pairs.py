"""DPO pairs: same until the first divergent block, different at it; any model's log; books balance."""

import json

import numpy as np
import pytest

from datagen.text.tokenizer import SHIFT_ID, builtin_tokenizer
from datagen.train.common.config import ScoreConfig
from datagen.train.judging.errlog import make_line, schema_problem, write_log
from datagen.train.judging.judge import CATEGORIES
from datagen.train.preference.dpo_data import build
from datagen.train.preference.pairs import make_pair
from datagen.train.preference.simulate import MISTAKES, PUSHES, candidates, make_mistake
from datagen.train.streaming.errors import dialogues_of, label_encoder


@pytest.fixture(scope="module")
def dialogues(local_corpus):
    return list(dialogues_of(local_corpus, label_encoder(builtin_tokenizer().name, None)))


def _simulated(dialogues):
    """Every applicable simulated mistake on every dialogue, as error-log lines."""
    out = []
    rng = np.random.default_rng(0)
    for d, rec in dialogues:
        tokens = [a.tokens for a in d.answers]
        for mistake, places in candidates(rec).items():
            for where in places:
                track = make_mistake(rec, tokens, mistake, where, rng, late_by=6)
                out.append((make_line(rec, track, f"simulated:{mistake}", ScoreConfig()), tokens, mistake))
    return out


def test_chosen_equals_rejected_before_the_divergent_block_and_differs_at_it(dialogues):
    made = _simulated(dialogues)
    assert {m for _, _, m in made} == set(MISTAKES)
    cats = set()
    for line, tokens, mistake in made:
        pair, why = make_pair(line, tokens, ScoreConfig())
        if pair is None:
            assert why == "no_error_in_the_five_categories", (mistake, why)
            continue
        cats.add(pair["category"])
        f = pair["first_divergent_block"]
        c, r = np.array(pair["chosen"]), np.array(pair["rejected"])
        assert np.array_equal(c[:f], r[:f]) and c[f] != r[f]
        assert (c[f] == SHIFT_ID) != (r[f] == SHIFT_ID)  # a <shift> moved, inserted or removed
        assert r.tolist() == line["predicted"] and schema_problem(pair, "dpo_pair") is None
        assert pair["direction"] == PUSHES[mistake], (mistake, pair["direction"])
        # chosen behaves as gold from there: the judge finds no error at or after f
        fixed = make_line({**line, "gold_shifts": line["gold_shifts"]}, c, "chosen", ScoreConfig())
        assert all(e["block"] is None or e["block"] < f for e in fixed["errors"] if e["category"]), mistake
    assert cats == set(CATEGORIES)


def _hand_written_log(dialogues, path):
    """An error log as another model would write it: only the schema's fields, no outcomes."""
    rows = []
    for _, rec in dialogues:
        pred = np.zeros(rec["num_blocks"], dtype=int)
        a = rec["answers"][0]
        pred[[a["gold_speak"], min(a["gold_speak"] + 5, rec["num_blocks"] - 1)]] = SHIFT_ID  # stops at once
        rows.append(
            {
                "schema": "duplex-error-log/1",
                "cut_id": rec["cut_id"],
                "corpus": rec["corpus"],
                "task": rec["task"],
                "checkpoint": "someone-elses-model",
                "block_s": rec["block_s"],
                "num_blocks": rec["num_blocks"],
                "tokenizer": rec["tokenizer"],
                "answers": [
                    {k: x[k] for k in ("gold_speak", "gold_stop", "natural_blocks", "expect")}
                    for x in rec["answers"]
                ],
                "events": [
                    {k: e[k] for k in ("kind", "who", "time", "end", "expect", "answer")}
                    | {"gold_block": e.get("gold_block")}
                    for e in rec["events"]
                ],
                "gold_shifts": rec["gold_shifts"],
                "predicted_shifts": np.flatnonzero(pred == SHIFT_ID).tolist(),
                "predicted": pred.tolist(),
                "category": "early_stop",
            }
        )
    path.write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + "{broken\n" + json.dumps({"schema": 1}) + "\n"
    )
    return rows


def test_pairs_from_another_models_log_and_bad_lines(dialogues, local_corpus, tmp_path):
    rows = _hand_written_log(dialogues, tmp_path / "theirs.jsonl")
    stats = build(tmp_path / "theirs.jsonl", [str(local_corpus)], tmp_path / "pairs", seed=1)
    assert stats["lines"] == len(rows) + 2
    assert (
        stats["lines"] == stats["pairs"] + stats["rejected"] + stats["without_error"]
    )  # every line accounted for
    rejected = [json.loads(x) for x in (tmp_path / "pairs" / "rejected.jsonl").read_text().splitlines()]
    bad = [r for r in rejected if r["reason"].startswith("bad line")]
    assert [r["line"] for r in bad] == [len(rows) + 1, len(rows) + 2]
    assert "not JSON" in bad[0]["reason"] and "required property" in bad[1]["reason"]
    pairs = [json.loads(x) for x in (tmp_path / "pairs" / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all(schema_problem(p, "dpo_pair") is None for p in pairs)
    trl = [json.loads(x) for x in (tmp_path / "pairs" / "trl.jsonl").read_text().splitlines()]
    assert len(trl) == len(pairs) and all({"prompt", "chosen", "rejected"} <= set(t) for t in trl)
    assert all(t["chosen"] != t["rejected"] for t in trl)
    sft = [json.loads(x) for x in (tmp_path / "pairs" / "sft.jsonl").read_text().splitlines()]
    assert len(sft) <= len(pairs) and not {s["task"] for s in sft} & {
        "backchannel",
        "barge_in_user",
        "distractor",
    }


def test_the_category_cap_balances_pairs(dialogues, local_corpus, tmp_path):
    lines = [line for line, _, _ in _simulated(dialogues)]
    write_log(tmp_path / "sim.jsonl", lines)
    stats = build(tmp_path / "sim.jsonl", [str(local_corpus)], tmp_path / "capped", per_category=2, seed=3)
    assert all(n <= 2 for n in stats["pairs_by_category"].values())
    for cat, n in stats["errors_by_category"].items():
        assert stats["pairs_by_category"].get(cat, 0) == min(n, 2)
    assert stats["rejected_by_reason"].get("over_category_cap", 0) == sum(
        max(n - 2, 0) for n in stats["errors_by_category"].values()
    )
    again = build(tmp_path / "sim.jsonl", [str(local_corpus)], tmp_path / "again", per_category=2, seed=3)
    assert (tmp_path / "capped" / "pairs.jsonl").read_text() == (
        tmp_path / "again" / "pairs.jsonl"
    ).read_text()
    assert again == stats


def test_simulate_needs_no_model(local_corpus, tmp_path):
    stats = build(None, [str(local_corpus)], tmp_path / "sim", simulate_mix={m: 1.0 for m in MISTAKES})
    assert stats["pairs"] > 0 and stats["source"] == "simulated"
    with pytest.raises(ValueError, match="unknown simulated mistake"):
        build(None, [str(local_corpus)], tmp_path / "x", simulate_mix={"sneeze": 1.0})


def test_pair_ids_are_unique_when_mistakes_on_one_cut_are_pooled(dialogues):
    pairs = [make_pair(line, tokens, ScoreConfig())[0] for line, tokens, _ in _simulated(dialogues)]
    ids = [p["pair_id"] for p in pairs if p is not None]
    assert len(ids) > 1 and len(set(ids)) == len(ids)


def test_balance_directions_evens_stop_and_go_on_with_simulated_pairs(dialogues, local_corpus, tmp_path):
    """A model that only stops too much: its pairs all say "go on"; balancing adds as many
    simulated "stop" pairs, on other dialogues, and the logged lines stay accounted for."""
    lines = [ln for ln, _, m in _simulated(dialogues) if PUSHES[m] == "go_on"]
    write_log(tmp_path / "stopper.jsonl", lines)
    plain = build(tmp_path / "stopper.jsonl", [str(local_corpus)], tmp_path / "plain", per_category=3)
    assert set(plain["pairs_by_direction"]) == {"go_on"} and "directions_topped_up" not in plain
    stats = build(
        tmp_path / "stopper.jsonl",
        [str(local_corpus)],
        tmp_path / "even",
        per_category=3,
        balance_directions="simulate",
    )
    added = stats["directions_topped_up"]
    assert added == {
        "direction": "stop",
        "needed": plain["pairs"],
        "added": added["added"],
        "from": "simulate",
    }
    assert 0 < added["added"] <= plain["pairs"]
    assert stats["pairs_by_direction"] == {"go_on": plain["pairs"], "stop": added["added"]}
    pairs = [json.loads(x) for x in (tmp_path / "even" / "pairs.jsonl").read_text().splitlines()]
    own = [p for p in pairs if p["direction"] == "go_on"]
    extra = [p for p in pairs if p["direction"] == "stop"]
    assert all(
        p["checkpoint"].split(":")[1] in ("ignore_barge_in", "miss_related", "react_late", "cue_takes_floor")
        for p in extra
    )
    assert not {p["cut_id"] for p in extra} & {p["cut_id"] for p in own}
    assert all(schema_problem(p, "dpo_pair") is None for p in pairs)
    assert stats["lines"] == stats["pairs"] - added["added"] + stats["rejected"] + stats["without_error"]
    assert len((tmp_path / "even" / "sft.jsonl").read_text().splitlines()) <= stats["pairs"]

    from typer.testing import CliRunner

    from datagen.cli import app

    args = ["dpo", str(tmp_path / "stopper.jsonl"), "--corpus", str(local_corpus), "--per-category", "3"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "cli"), "--balance-directions", "simulate"])
    assert res.exit_code == 0, res.output
    assert f"+ {added['added']} 'stop' pairs (simulate) to even the directions" in res.output
    assert (tmp_path / "cli" / "pairs.jsonl").read_text() == (tmp_path / "even" / "pairs.jsonl").read_text()


def test_balance_directions_own_holds_the_models_right_stops(dialogues, local_corpus, tmp_path):
    """Anchors: where the model stopped right for a barge-in, chosen is its own track and
    rejected the same track talking on: a real mistake, the tracks equal before it."""
    from datagen.train.common.tracks import render
    from datagen.train.preference.simulate import gold_spans

    wrong = {}
    for line, _, m in _simulated(dialogues):
        if m in ("stop_at_backchannel", "stop_at_distractor"):
            wrong.setdefault(line["cut_id"], line)
    records = {rec["cut_id"]: rec for _, rec in dialogues}
    right = []
    for d, rec in dialogues:
        if rec["cut_id"] not in wrong and any(e["kind"] == "barge_in" for e in rec["events"]):
            gold = render(rec["num_blocks"], gold_spans(rec, [a.tokens for a in d.answers]))
            right.append(make_line(rec, gold, "my-model", ScoreConfig()))
    assert wrong and right
    write_log(tmp_path / "log.jsonl", [*wrong.values(), *right])
    stats = build(tmp_path / "log.jsonl", [str(local_corpus)], tmp_path / "own", balance_directions="own")
    topped = stats["directions_topped_up"]
    assert topped["from"] == "own" and topped["direction"] == "stop" and topped["added"] > 0
    assert topped["added"] == min(topped["needed"], len(right))  # one right stop in each
    pairs = [json.loads(x) for x in (tmp_path / "own" / "pairs.jsonl").read_text().splitlines()]
    anchors = [p for p in pairs if p.get("anchor")]
    assert len(anchors) == topped["added"] and all(schema_problem(p, "dpo_pair") is None for p in anchors)
    logged = {line["cut_id"]: line for line in right}
    for p in anchors:
        c, r, f = np.array(p["chosen"]), np.array(p["rejected"]), p["first_divergent_block"]
        assert p["chosen"] == logged[p["cut_id"]]["predicted"] and p["direction"] == "stop"
        assert np.array_equal(c[:f], r[:f]) and c[f] == SHIFT_ID and r[f] != SHIFT_ID
        assert p["category"] in ("ci_barge_in_user", "ci_barge_in_third_party")
        talked_on = make_line(records[p["cut_id"]], r, "rejected", ScoreConfig())
        assert [e["outcome"] for e in talked_on["errors"]] == ["missed"]
    with pytest.raises(ValueError, match="unknown way to balance"):
        build(tmp_path / "log.jsonl", [str(local_corpus)], tmp_path / "x", balance_directions="louder")


def test_turn_anchors_hold_up_the_models_timely_turns(dialogues, local_corpus, tmp_path):
    """`--turn-anchors N`: where the model took its turn in time, chosen is its own track and
    rejected the same track silent for that answer; N of them, on dialogues without a pair,
    category `turn_taking`; the rejected side, judged, misses that turn."""
    from datagen.train.common.tracks import render
    from datagen.train.preference.simulate import gold_spans

    CFG = ScoreConfig()
    wrong = {}
    for line, _, m in _simulated(dialogues):
        if m == "early_stop":
            wrong.setdefault(line["cut_id"], line)
    records = {rec["cut_id"]: rec for _, rec in dialogues}
    right = [
        make_line(rec, render(rec["num_blocks"], gold_spans(rec, [a.tokens for a in d.answers])), "m", CFG)
        for d, rec in dialogues
        if rec["cut_id"] not in wrong and any(e["kind"] == "turn" for e in rec["events"])
    ]
    assert wrong and len(right) >= 3
    write_log(tmp_path / "log.jsonl", [*wrong.values(), *right])
    plain = build(tmp_path / "log.jsonl", [str(local_corpus)], tmp_path / "plain")
    assert "speak" not in plain["pairs_by_direction"] and "turn_anchors" not in plain
    stats = build(tmp_path / "log.jsonl", [str(local_corpus)], tmp_path / "turns", turn_anchors=2)
    assert stats["turn_anchors"] == {"asked": 2, "added": 2}
    assert stats["pairs"] == plain["pairs"] + 2 and stats["pairs_by_direction"]["speak"] == 2
    pairs = [json.loads(x) for x in (tmp_path / "turns" / "pairs.jsonl").read_text().splitlines()]
    anchors = [p for p in pairs if p["category"] == "turn_taking"]
    assert len(anchors) == 2 and len({p["cut_id"] for p in anchors}) == 2
    logged = {line["cut_id"]: line for line in right}
    for p in anchors:
        c, r, f = np.array(p["chosen"]), np.array(p["rejected"]), p["first_divergent_block"]
        assert p["anchor"] and p["direction"] == "speak" and schema_problem(p, "dpo_pair") is None
        assert p["chosen"] == logged[p["cut_id"]]["predicted"]
        assert np.array_equal(c[:f], r[:f]) and c[f] == SHIFT_ID and r[f] != SHIFT_ID
        silent = make_line(records[p["cut_id"]], r, "rejected", ScoreConfig())
        assert any(e["kind"] == "turn" and e["outcome"] == "no_response" for e in silent["events"])
    everyone = build(tmp_path / "log.jsonl", [str(local_corpus)], tmp_path / "all", turn_anchors=10**6)
    assert everyone["turn_anchors"]["added"] == len(right)  # one a dialogue, all there are
    with pytest.raises(ValueError, match="need its error log"):
        build(None, [str(local_corpus)], tmp_path / "x", simulate_mix={"early_stop": 1.0}, turn_anchors=1)
