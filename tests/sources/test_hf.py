"""Hub question sets: field mapping on in-memory rows, and fast offline failure.

The hub is unreachable here, so `load_dataset` is exercised only for its
failure: with HF_HUB_OFFLINE=1 (in a fresh process, as a user would run it)
and with an unreachable endpoint; both must fail in seconds and name the
local-file alternative. The mapping is tested on rows shaped like each set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from datagen.config import QuestionsConfig
from datagen.sources.hf import HF_SETS, HFUnavailable, load_hf_questions, rows_to_questions

ROWS = {
    "Stanford/web_questions": {
        "url": "http://www.freebase.com/view/en/justin_bieber",
        "question": "what is the name of justin bieber brother?",
        "answers": ["Jazmyn Bieber", "Jaxon Bieber"],
    },
    "google-research-datasets/nq_open": {
        "question": "where is zimbabwe located in africa",
        "answer": ["south"],
    },
    "mandarjoshi/trivia_qa": {
        "question": "Which Lloyd Webber musical premiered in the US on 10th December 1993?",
        "question_id": "tc_33",
        "question_source": "http://www.triviacountry.com/",
        "answer": {
            "value": "Sunset Boulevard",
            "aliases": ["Sunset Boulevard", "Sunset Blvd"],
            "type": "WikipediaEntity",
        },
    },
    "fixie-ai/llama-questions": {"question": "What is the capital of France?", "answer": "Paris"},
    "tatsu-lab/alpaca_eval": {
        "instruction": "What are the names of some famous actors that started their careers on Broadway?",
        "output": "Some famous actors ...",
        "generator": "gpt4_1106_preview",
        "dataset": "helpful_base",
    },
}


@pytest.mark.parametrize("dataset", sorted(ROWS))
def test_field_mapping(dataset: str) -> None:
    spec = HF_SETS[dataset]
    (q,), rejects = rows_to_questions(spec, [ROWS[dataset]], spec.default_split, max_chars=300)
    assert rejects == []
    assert q.source == f"hf:{spec.format}" and q.text == " ".join(q.text.split()) and q.text
    expected = {
        "Stanford/web_questions": (
            "Jazmyn Bieber",
            ("Jaxon Bieber",),
            "justin bieber",
            "web_questions-train:1",
        ),
        "google-research-datasets/nq_open": ("south", (), "general", "nq_open-train:1"),
        "mandarjoshi/trivia_qa": ("Sunset Boulevard", ("Sunset Blvd",), "general", "tc_33"),
        "fixie-ai/llama-questions": ("Paris", (), "general", "llama_questions-test:1"),
        "tatsu-lab/alpaca_eval": ("", (), "helpful_base", "alpaca_eval-eval:1"),
    }[dataset]
    assert (q.answer, q.aliases, q.topic, q.id) == expected


def test_rejects_dedupe_limit() -> None:
    spec = HF_SETS["google-research-datasets/nq_open"]
    rows = [
        {"question": "who wrote  hamlet", "answer": ["Shakespeare"]},
        {"question": "Who wrote Hamlet?", "answer": ["Shakespeare"]},  # duplicate after normalising
        {"question": "   ", "answer": []},
        {"question": "x" * 400, "answer": ["y"]},
        {"question": None, "answer": ["y"]},
        {"question": "what is the boiling point of water", "answer": ["100 C"]},
        {"question": "never read", "answer": ["-"]},
    ]
    kept, rejects = rows_to_questions(spec, rows, "train", max_chars=300, limit=2)
    assert [q.text for q in kept] == ["who wrote hamlet", "what is the boiling point of water"]
    assert [(r.id, r.reason) for r in rejects] == [
        ("nq_open-train:2", "duplicate_question"),
        ("nq_open-train:3", "empty_text"),
        ("nq_open-train:4", "too_long"),
        ("nq_open-train:5", "missing_field"),
    ]
    assert "nq_open-train:1" in rejects[0].detail and "Hamlet" in rejects[0].raw


def test_same_question_from_hub_and_local_file(tmp_path) -> None:
    """A hub row and the same row exported to JSONL become the same Question (up to id/source)."""
    import json

    from datagen.sources.local_files import read_local_questions

    row = ROWS["mandarjoshi/trivia_qa"]
    (tmp_path / "tqa.jsonl").write_text(json.dumps(row) + "\n")
    (local,), _ = read_local_questions(tmp_path / "tqa.jsonl", "trivia_qa")
    (hub,), _ = rows_to_questions(HF_SETS["mandarjoshi/trivia_qa"], [row], "train", 300)
    assert (hub.id, hub.text, hub.answer, hub.aliases, hub.topic) == (
        local.id,
        local.text,
        local.answer,
        local.aliases,
        local.topic,
    )


def test_unknown_dataset() -> None:
    with pytest.raises(ValueError, match="supported"):
        load_hf_questions(QuestionsConfig(source="hf", dataset="someone/else"))


def test_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("datasets")
    for var in (
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    t0 = time.monotonic()
    with pytest.raises(HFUnavailable, match="questions.source: local") as e:
        load_hf_questions(QuestionsConfig(source="hf", dataset="Stanford/web_questions"))
    assert time.monotonic() - t0 < 5
    assert "questions.format: web_questions" in str(e.value) and "HF_HUB_OFFLINE=1" in str(e.value)


def test_offline_env_fails_fast_in_a_fresh_process(tmp_path) -> None:
    pytest.importorskip("datasets")
    code = (
        "from datagen.config import QuestionsConfig\n"
        "from datagen.sources.hf import load_hf_questions\n"
        "load_hf_questions(QuestionsConfig(source='hf', dataset='mandarjoshi/trivia_qa', limit=5))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf_home"),
    }
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    assert p.returncode != 0
    assert "HFUnavailable" in p.stderr and "offline mode" in p.stderr
    assert "questions.format: trivia_qa" in p.stderr
    assert elapsed < 30, f"took {elapsed:.1f} s"  # includes interpreter + datasets import


def test_missing_datasets_package_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"duplex-datagen\[hf\]"):
        load_hf_questions(QuestionsConfig(source="hf", dataset="Stanford/web_questions"))
