"""Question sources: the bundled set, local files in every layout, bad rows, mixing."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datagen.config import QuestionsConfig
from datagen.records import Question, Reject
from datagen.sources.bundled import load_bundled
from datagen.sources.local_files import detect_format, read_local_questions
from datagen.sources.questions import load_questions
from datagen.text.normalize import normalize_for_tts, text_problem


def write_jsonl(path: Path, rows: list) -> Path:
    """Rows are dicts (dumped as JSON), str (written as is) or bytes (written raw)."""
    with open(path, "wb") as f:
        for row in rows:
            if isinstance(row, bytes):
                f.write(row + b"\n")
            elif isinstance(row, str):
                f.write(row.encode() + b"\n")
            else:
                f.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
    return path


def reasons(rejects: list[Reject]) -> dict[str, str]:
    return {r.id: r.reason for r in rejects}


# ---------------------------------------------------------------- bundled


def test_bundled_set_size_topics_and_uniqueness():
    qs = load_bundled()
    assert len(qs) >= 330
    topics = Counter(q.topic for q in qs)
    assert len(topics) >= 25
    assert min(topics.values()) >= 10, topics
    assert len({q.id for q in qs}) == len(qs)
    assert len({q.text.lower() for q in qs}) == len(qs)
    assert all(q.source == "bundled" and q.answer and q.id.startswith("bq-") for q in qs)


def test_bundled_questions_are_speakable_as_written():
    for q in load_bundled():
        assert text_problem(q.text, 300) is None, q.id
        assert normalize_for_tts(q.text) == q.text, q.id  # no digits or symbols to respell
        assert q.text.endswith("?"), q.id
        assert len(q.answer.split()) <= 6, q.id


def test_bundled_file_reads_the_same_through_the_local_reader():
    from importlib import resources

    with resources.as_file(resources.files("datagen").joinpath("data", "questions.jsonl")) as path:
        qs, rejects = read_local_questions(path, None, max_chars=300, limit=None)
    assert rejects == []
    bundled = load_bundled()
    assert [(q.id, q.text, q.answer, q.topic, q.aliases) for q in qs] == [
        (q.id, q.text, q.answer, q.topic, q.aliases) for q in bundled
    ]


# ---------------------------------------------------------------- layouts

LAYOUTS = {
    "web_questions": (
        {"url": "http://x", "question": "what is the capital of peru?", "answers": ["Lima", "Lima, Peru"]},
        ("Lima", ("Lima, Peru",), "web:1"),
    ),
    "nq_open": (
        {"question": "who wrote hamlet", "answer": ["William Shakespeare", "Shakespeare"]},
        ("William Shakespeare", ("Shakespeare",), "nq:1"),
    ),
    "trivia_qa": (
        {
            "question": "Which planet is the Red Planet?",
            "question_id": "tc_42",
            "answer": {"value": "Mars", "aliases": ["Mars", "The Red Planet"], "normalized_value": "mars"},
        },
        ("Mars", ("The Red Planet",), "tc_42"),
    ),
    "llama_questions": (
        {"question": "What is the boiling point of water?", "answer": "one hundred degrees"},
        ("one hundred degrees", (), "llama:1"),
    ),
    "alpaca_eval": (
        {"instruction": "Give three tips for staying healthy.", "output": "Eat well.", "dataset": "x"},
        ("", (), "alpaca:1"),
    ),
    "bundled": (
        {"id": "my-1", "question": "What is the capital of Spain?", "answer": "Madrid", "topic": "geo"},
        ("Madrid", (), "my-1"),
    ),
}
STEMS = {"web_questions": "web", "nq_open": "nq", "trivia_qa": "tc", "llama_questions": "llama"}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("explicit", [True, False])
def test_each_layout_jsonl(tmp_path, layout, explicit):
    row, (answer, aliases, qid) = LAYOUTS[layout]
    stem = STEMS.get(layout, layout.split("_")[0])
    path = write_jsonl(tmp_path / f"{stem}.jsonl", [row])
    assert detect_format(row) == layout
    qs, rejects = read_local_questions(path, layout if explicit else None, max_chars=300, limit=None)
    assert rejects == []
    (q,) = qs
    assert q.text == (row.get("question") or row["instruction"])
    assert (q.answer, q.aliases, q.id) == (answer, aliases, qid)
    assert q.topic == ("geo" if layout == "bundled" else "general")
    assert q.source == f"local:{stem}.jsonl"


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_parquet(tmp_path, layout):
    row, (answer, aliases, _) = LAYOUTS[layout]
    second = dict(row)
    key = "instruction" if layout == "alpaca_eval" else "question"
    second[key] = row[key].rstrip("?.") + " again?"
    if "id" in second:
        second["id"] = "my-2"
    if "question_id" in second:
        second["question_id"] = "tc_43"
    path = tmp_path / "set.parquet"
    pq.write_table(pa.Table.from_pylist([row, second]), path)
    qs, rejects = read_local_questions(path, None, max_chars=300, limit=None)
    assert rejects == []
    assert [q.text for q in qs] == [row[key], second[key]]
    assert (qs[0].answer, qs[0].aliases) == (answer, aliases)
    if layout in ("web_questions", "nq_open", "llama_questions", "alpaca_eval"):
        assert [q.id for q in qs] == ["set:1", "set:2"]


def test_hub_style_format_names_are_accepted(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"question": "who are you", "answer": ["me"]}])
    for fmt in ("google-research-datasets/nq_open", "NQ_OPEN", "nq-open"):
        qs, _ = read_local_questions(path, fmt, max_chars=300, limit=None)
        assert qs[0].answer == "me"


# ---------------------------------------------------------------- bad rows


def test_bad_rows_become_rejects_and_never_stop_the_read(tmp_path):
    ok = {"id": "ok-1", "question": "What is the capital of Italy?", "answer": "Rome", "topic": "geo"}
    rows = [
        ok,
        '{"id": "broken", "question": "What is',  # 2 malformed JSON
        {"id": "nofield", "answer": "x"},  # 3 missing field
        {"id": "wrongtype", "question": 42},  # 4 wrong type
        {"id": "empty", "question": ""},  # 5 empty
        {"id": "blank", "question": "   \t "},  # 6 whitespace only
        {"id": "huge", "question": "Why " + "very " * 2000 + "long?"},  # 7 10,000 chars
        {"id": "ctrl", "question": "What\x00 is\x07 a\x1b zebra?"},  # 8 control chars: cleaned
        b'{"id": "badutf", "question": "What is \xff\xfe this?"}',  # 9 invalid UTF-8 bytes
        {"id": "md", "question": "What is **the** [moon](http://x.io) made of? \U0001f315 https://a.b"},  # 10
        {"id": "ru", "question": "Какая самая длинная река в мире?"},  # 11 non-English
        {"id": "dup", "question": "what is the capital of ITALY"},  # 12 duplicate of row 1
        {"id": "emojionly", "question": "\U0001f600\U0001f389"},  # 13 nothing speakable
        "[1, 2, 3]",  # 14 not an object
        {"id": "answertype", "question": "Is this fine?", "answer": ["a", "b"]},  # 15 answer wrong type
        {"id": "ok-1", "question": "Is this a different question with a reused id?"},  # 16 duplicate id
        {"id": "repl", "question": "Bad decode \ufffd here?"},  # 17 replacement char
        "",  # blank line: not a row
        {"id": "last", "question": "Which is the last row?", "answer": "this one"},  # 19
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    qs, rejects = read_local_questions(path, None, max_chars=300, limit=None)
    assert [q.id for q in qs] == ["ok-1", "ctrl", "md", "last"]
    by_id = {q.id: q for q in qs}
    assert by_id["ctrl"].text == "What is a zebra?"
    assert by_id["md"].text == "What is the moon made of?"
    assert reasons(rejects) == {
        "mixed:2": "malformed_json",
        "nofield": "missing_field",
        "wrongtype": "wrong_type",
        "empty": "empty_text",
        "blank": "empty_text",
        "huge": "too_long",
        "mixed:9": "invalid_utf8",
        "ru": "non_english",
        "dup": "duplicate_question",
        "emojionly": "invalid_text",
        "mixed:14": "wrong_type",
        "answertype": "wrong_type",
        "mixed:16": "duplicate_id",
        "repl": "invalid_text",
    }
    assert all(r.stage == "questions" and r.raw and len(r.raw) <= 500 for r in rejects)
    huge = next(r for r in rejects if r.id == "huge")
    assert len(huge.raw) == 500
    bad = next(r for r in rejects if r.reason == "invalid_utf8")
    assert "\ufffd" in bad.raw  # the line is kept, readably, for the rejects log
    assert len(qs) + len(rejects) == 18  # every non-blank line accounted for


def test_gzip_jsonl(tmp_path):
    path = tmp_path / "nq.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(b'{"question": "who painted the mona lisa", "answer": ["Leonardo da Vinci"]}\n')
        f.write(b'{"question": "oops\n')
    qs, rejects = read_local_questions(path, None, max_chars=300, limit=None)
    assert [(q.id, q.answer) for q in qs] == [("nq:1", "Leonardo da Vinci")]
    assert reasons(rejects) == {"nq:2": "malformed_json"}


def test_corrupt_gzip_raises_clearly(tmp_path):
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"question": "a?"}\n' * 50)[:30])
    with pytest.raises(ValueError, match="gzip"):
        read_local_questions(path, None, max_chars=300, limit=None)


def test_unknown_format_name_and_file_type(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"question": "what?"}])
    with pytest.raises(ValueError, match="unknown question format.*web_questions"):
        read_local_questions(path, "squad", max_chars=300, limit=None)
    csv = tmp_path / "q.csv"
    csv.write_text("question\nwhat?\n")
    with pytest.raises(ValueError, match="file type"):
        read_local_questions(csv, None, max_chars=300, limit=None)


def test_undetectable_layout_raises(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"prompt": "hello"}, {"text": "there"}])
    with pytest.raises(ValueError, match="questions.format"):
        read_local_questions(path, None, max_chars=300, limit=None)


def test_detection_waits_for_a_recognisable_row(tmp_path):
    rows = [{"foo": 1}, {"question": "Who wrote Emma?", "answers": ["Jane Austen"]}]
    path = write_jsonl(tmp_path / "wq.jsonl", rows)
    qs, rejects = read_local_questions(path, None, max_chars=300, limit=None)
    assert [q.answer for q in qs] == ["Jane Austen"]
    assert reasons(rejects) == {"wq:1": "missing_field"}


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_local_questions(tmp_path / "nope.jsonl", None, max_chars=300, limit=None)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet at all")
    with pytest.raises(ValueError, match="Parquet"):
        read_local_questions(bad, None, max_chars=300, limit=None)


def test_limit_and_max_chars(tmp_path):
    rows = [{"question": f"Question number {w}?", "answer": "x"} for w in ("one", "two", "three", "four")]
    path = write_jsonl(tmp_path / "l.jsonl", rows)
    qs, _ = read_local_questions(path, None, max_chars=300, limit=2)
    assert [q.text for q in qs] == ["Question number one?", "Question number two?"]
    qs, rejects = read_local_questions(path, None, max_chars=20, limit=None)
    assert [q.text for q in qs] == ["Question number one?", "Question number two?"]
    assert {r.reason for r in rejects} == {"too_long"}


# ---------------------------------------------------------------- load_questions


def test_load_questions_bundled_with_limit():
    qs, rejects = load_questions(QuestionsConfig(limit=25))
    assert len(qs) == 25 and rejects == []
    assert qs == load_bundled("train")[:25]


def test_bundled_splits_are_disjoint_cover_the_set_and_keep_every_topic():
    train, test, every = load_bundled("train"), load_bundled("test"), load_bundled()
    assert {q.id for q in train}.isdisjoint(q.id for q in test)
    assert sorted(q.id for q in train + test) == sorted(q.id for q in every)
    assert 0.28 < len(test) / len(every) < 0.38
    test_topics, train_topics = Counter(q.topic for q in test), Counter(q.topic for q in train)
    assert set(test_topics) == set(train_topics) == {q.topic for q in every}
    assert min(test_topics.values()) >= 3  # multi-turn eval dialogues find topic mates
    qs, _ = load_questions(QuestionsConfig(split="test"))
    assert qs == test
    with pytest.raises(ValueError, match="splits"):
        QuestionsConfig(split="validation")


def test_load_questions_local(tmp_path):
    path = write_jsonl(tmp_path / "tq.jsonl", [LAYOUTS["trivia_qa"][0], "{bad"])
    qs, rejects = load_questions(QuestionsConfig(source="local", path=str(path)))
    assert [q.id for q in qs] == ["tc_42"]
    assert reasons(rejects) == {"tq:2": "malformed_json"}


def test_load_questions_mixes_sources_dedupes_and_keeps_ids_unique(tmp_path):
    rows = [
        {"id": "bq-0001", "question": "What is the capital of France", "answer": "Paris"},  # dup text
        {"id": "bq-0002", "question": "Which colour is the sky on a clear day?", "answer": "blue"},
        {"id": "extra", "question": "How many wheels does a unicycle have?", "answer": "one"},
    ]
    path = write_jsonl(tmp_path / "mine.jsonl", rows)
    cfg = QuestionsConfig(
        sources=[QuestionsConfig(split="all"), QuestionsConfig(source="local", path=str(path))], limit=None
    )
    qs, rejects = load_questions(cfg)
    bundled = load_bundled()
    assert len(qs) == len(bundled) + 2
    assert len({q.id for q in qs}) == len(qs)
    assert [q.id for q in qs[-2:]] == ["mine:bq-0002", "extra"]
    assert reasons(rejects) == {"mine:bq-0001": "duplicate_question"}
    assert bundled[0].text == "What is the capital of France?"


def test_load_questions_total_limit_across_sources(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"question": "Is water wet?", "answer": "yes"}])
    cfg = QuestionsConfig(
        sources=[QuestionsConfig(source="local", path=str(path)), QuestionsConfig(split="all")], limit=3
    )
    qs, _ = load_questions(cfg)
    assert [q.id for q in qs] == ["a:1", "bq-0001", "bq-0002"]


def test_load_questions_hf_dispatches_to_hf_module(monkeypatch):
    import sys
    import types

    seen = {}

    def fake(cfg):
        seen["dataset"] = cfg.dataset
        return [Question("h1", "Who?", source="hf")], []

    module = types.ModuleType("datagen.sources.hf")
    module.load_hf_questions = fake
    monkeypatch.setitem(sys.modules, "datagen.sources.hf", module)
    qs, _ = load_questions(QuestionsConfig(source="hf", dataset="Stanford/web_questions"))
    assert seen == {"dataset": "Stanford/web_questions"} and qs[0].id == "h1"


def test_sources_after_the_limit_are_not_read(tmp_path):
    missing = QuestionsConfig(source="local", path=str(tmp_path / "absent.jsonl"))
    qs, rejects = load_questions(QuestionsConfig(sources=[QuestionsConfig(split="all"), missing], limit=2))
    assert [q.id for q in qs] == ["bq-0001", "bq-0002"] and rejects == []
    with pytest.raises(FileNotFoundError):
        load_questions(QuestionsConfig(sources=[QuestionsConfig(), missing]))
