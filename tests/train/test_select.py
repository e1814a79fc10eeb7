"""Choosing DPO's checkpoint on a dev set: the rule on made-up figures, and a small
DPO run's checkpoints streamed, scored and the chosen one copied to a run folder."""

import json
from pathlib import Path

import pytest
from train_support import tiny_cfg
from typer.testing import CliRunner

from datagen.cli import app
from datagen.train.preference.dpo import train_dpo
from datagen.train.preference.dpo_data import build
from datagen.train.preference.select import choose, select
from datagen.train.preference.simulate import MISTAKES
from datagen.train.training import checkpoint as ckpt
from datagen.train.training.loop import train_sft


def _m(tt, ci_p, ci_r, cd_f1, early):
    f1 = 2 * ci_p * ci_r / (ci_p + ci_r)
    return {
        "turn_taking_success": tt,
        "ci": {"precision": ci_p, "recall": ci_r, "f1": f1},
        "cd": {"f1": cd_f1},
        "early_stop_rate": early,
    }


SFT = _m(0.83, 0.46, 0.93, 0.72, 0.22)
GOOD = _m(0.87, 0.56, 0.91, 0.74, 0.12)  # holds the whole bar
PART = _m(0.80, 0.58, 0.72, 0.68, 0.26)  # precision up; turn-taking and CD F1 down, early stops up
COLLAPSE = _m(0.80, 0.585, 0.24, 0.38, 0.21)  # seed 1's 600-step model after 30 DPO steps


def _rows(*models):
    return [{"step": 10 * i, "model": m} for i, m in enumerate(models)]


def test_the_step_that_holds_the_bar_is_chosen_over_later_ones():
    assert choose(_rows(SFT, GOOD, PART, COLLAPSE))["step"] == 10


def test_the_sft_model_is_kept_when_every_dpo_step_is_worse_on_the_dev_set():
    rows = _rows(SFT, PART, COLLAPSE)
    got = choose(rows)
    assert got["step"] == 0
    assert len(rows[0]["misses"]) == 3 and len(rows[1]["misses"]) == 4 and len(rows[2]["misses"]) == 4


def test_equal_figures_go_to_the_fewer_steps():
    assert choose(_rows(SFT, GOOD, dict(GOOD)))["step"] == 10
    # as many misses as the SFT model and better figures: DPO's step wins
    better = _m(0.84, 0.47, 0.93, 0.73, 0.20)
    assert choose(_rows(SFT, better))["step"] == 10


@pytest.mark.slow
def test_a_dpo_runs_checkpoints_are_scored_and_the_chosen_copied(local_corpus, tmp_path):
    train_sft(tiny_cfg(local_corpus, tmp_path / "sft", optim={"max_steps": 3}), resume=False, progress=False)
    build(None, [str(local_corpus)], tmp_path / "pairs", simulate_mix={m: 1.0 for m in MISTAKES})
    dpo = {
        "init": str(tmp_path / "sft"),
        "pairs": str(tmp_path / "pairs"),
        "pairs_per_step": 2,
        "sft_per_step": 1,
    }
    cfg = tiny_cfg(
        local_corpus, tmp_path / "dpo", dpo=dpo, optim={"max_steps": 2}, save_every=1, keep_checkpoints=3
    )
    train_dpo(cfg, resume=False, progress=False)
    dev = [str(local_corpus)]
    res = select(tmp_path / "dpo", dev, progress=False)
    rows = res["rows"]
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert rows[0]["checkpoint"] == str(ckpt.resolve(tmp_path / "sft"))
    assert len({r["model"]["dialogues"] for r in rows}) == 1  # every candidate streamed the whole dev set
    chosen = ckpt.resolve(res["model"])
    assert chosen.name == Path(res["chosen"]).name and str(chosen).startswith(res["model"])
    assert (chosen / "model.pt").read_bytes() == (Path(res["chosen"]) / "model.pt").read_bytes()
    out = tmp_path / "dpo" / "select"
    assert "(chosen)" in (out / "select.md").read_text() and (out / "select.png").stat().st_size > 0
    logs = {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl")}
    assert sorted(logs) == ["sft.jsonl", "step-00000001.jsonl", "step-00000002.jsonl"]
    again = select(tmp_path / "dpo", dev, progress=False)  # a rerun streams nothing again
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl")} == logs
    assert again["chosen_step"] == res["chosen_step"]
    # DPO trained again into the same folder (one step fewer, other weights): its logs are not reused
    cfg2 = tiny_cfg(
        local_corpus, tmp_path / "dpo", dpo=dpo | {"beta": 0.5}, optim={"max_steps": 2}, save_every=1
    )
    train_dpo(cfg2, resume=False, progress=False)
    select(tmp_path / "dpo", dev, progress=False)
    now = {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl")}
    assert now["sft.jsonl"] == logs["sft.jsonl"]  # the SFT model is the same
    assert now["step-00000002.jsonl"] != logs["step-00000002.jsonl"]
    kept = ckpt.resolve(tmp_path / "dpo" / "select" / "model") / "model.pt"
    chosen_now = Path(json.loads((out / "select.json").read_text())["chosen"]) / "model.pt"
    assert kept.read_bytes() == chosen_now.read_bytes()  # the copy follows the retrained weights
    # the chosen model is a run folder like any other
    log = tmp_path / "after.jsonl"
    r = CliRunner().invoke(app, ["train", "errors", res["model"], "--eval", dev[0], "--out", str(log)])
    assert r.exit_code == 0, r.output
    # an SFT run has nothing to choose from: a clear error, not a traceback
    r = CliRunner().invoke(app, ["train", "select", str(tmp_path / "sft"), "--dev", dev[0]])
    assert r.exit_code != 0 and "not a DPO run" in r.output


def test_a_dev_set_rebuilt_at_the_same_path_is_a_new_one(tmp_path):
    from datagen.train.preference.select import _corpus_id

    (tmp_path / "index.jsonl").write_text('{"id": "a"}\n')
    first = _corpus_id(str(tmp_path))
    (tmp_path / "index.jsonl").write_text('{"id": "b"}\n')
    assert _corpus_id(str(tmp_path)) != first
    with pytest.raises(FileNotFoundError, match="no corpus at"):
        _corpus_id(str(tmp_path / "missing"))
