"""The pair sweep: an even, nested draw over categories, and one small sweep end to end."""

import json

import pytest
from train_support import tiny_cfg

from datagen.train.preference.dpo_data import balanced
from datagen.train.preference.sweep import sweep
from datagen.train.training.loop import train_sft


def _pairs(counts):
    return [{"pair_id": f"{c}:{i}", "category": c} for c, n in counts.items() for i in range(n)]


def test_the_draw_is_even_over_categories_and_nested():
    pool = _pairs({"a": 50, "b": 3, "c": 40})
    got = balanced(pool, 30, seed=1)
    cats = [p["category"] for p in got]
    assert len(got) == 30 and cats.count("b") == 3 and abs(cats.count("a") - cats.count("c")) <= 1
    assert balanced(pool, 12, seed=1) == got[:12]  # a smaller draw is a prefix of a larger one
    assert len(balanced(pool, 1000, seed=1)) == 93 and balanced(pool, 30, seed=2) != got


@pytest.mark.slow
def test_a_small_sweep_end_to_end(local_corpus, tmp_path):
    train_sft(tiny_cfg(local_corpus, tmp_path / "sft", optim={"max_steps": 2}), resume=False, progress=False)
    c = str(local_corpus)
    over = [
        "optim.max_steps=1",
        "threads=2",
        "tensorboard=false",
        "dpo.pairs_per_step=2",
        "dpo.sft_per_step=1",
    ]
    kw = dict(pairs=[4], sources=["mixed"], overrides=over, progress=False)
    res = sweep(tmp_path / "sft", c, [c], tmp_path / "sweep", **kw)
    rows = res["rows"]
    assert [(r["source"], r["pairs"]) for r in rows] == [("SFT (before)", 0), ("mixed", 4)]
    assert all(r["model"]["dialogues"] == rows[0]["model"]["dialogues"] for r in rows)
    assert all(r["steps"] == 1 for r in rows[1:])

    def rows_of(name):
        return [json.loads(x) for x in (tmp_path / "sweep" / name / "pairs.jsonl").read_text().splitlines()]

    own = rows_of("pairs_own")
    mixed = rows_of("mixed_4/pairs")
    simulated = [p for p in mixed if p["checkpoint"].startswith("simulated:")]
    assert len(mixed) == 4 and len(mixed) - len(simulated) == min(2, len(own))  # half its own, half simulated
    assert (tmp_path / "sweep" / "errors_pool.jsonl").is_file()  # mixed needs the model's own errors
    assert "| mixed | 4 |" in (tmp_path / "sweep" / "sweep.md").read_text()
    again = sweep(tmp_path / "sft", c, [c], tmp_path / "sweep", **kw)  # resumes: nothing redone
    assert again["rows"] == rows
    # a later call for another point adds its row to the folder's table, in source order
    more = sweep(
        tmp_path / "sft", c, [c], tmp_path / "sweep", **(kw | {"pairs": [2], "sources": ["simulate"]})
    )
    assert [(r["source"], r["pairs"]) for r in more["rows"]] == [
        ("SFT (before)", 0),
        ("simulate", 2),
        ("mixed", 4),
    ]
    assert more["rows"][2] == rows[1] and (tmp_path / "sweep" / "sweep.png").stat().st_size > 0
