"""Bad input, case by case: each gives a clear error or a reject with a
reason, and the run carries on wherever it can.

Cases covered elsewhere, by file: row-level question parsing (17 cases) in
sources/test_questions.py; LLM output parsing in backends/test_llm_prompts.py;
speaker prompts missing or over 30 s in backends/test_cosyvoice2.py
(test_bad_prompts_never_touch_the_model); recipe keys/backends in
test_config.py. This file drives the same cases through the pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from e2e_support import small_recipe

from datagen.backends.llm.base import LLMBackend, LLMResponse
from datagen.backends.tts.base import Speaker, TTSBackend, TTSResult
from datagen.config import RecipeError
from datagen.executors.runner import resolve_out, run
from datagen.io.atomic import read_jsonl
from datagen.records import Dialogue, DialoguePlan, Question, Turn
from datagen.stages.speech import SpeechStage
from datagen.stages.text import TextStage

ROWS = [
    '{"id": "ok-1", "question": "What is the largest planet in our solar system?", "answer": "Jupiter"}',
    '{"id": "ok-2", "question": "Which ocean is the deepest on Earth?", "answer": "the Pacific"}',
    '{"id": "ok-3", "question": "Visit https://x.io **now**: what is H2O called? 😀", "answer": "water"}',
    '{"id": "ok-4", "question": "Which\\u0007 metal is liquid at room temperature?", "answer": "mercury"}',
    '{"id": "bad-json", "question": "unterminated',
    '{"id": "no-question", "answer": "x"}',
    '{"id": "wrong-type", "question": 42, "answer": "x"}',
    '{"id": "empty", "question": "   ", "answer": "x"}',
    '{"id": "huge", "question": "' + "why " * 2500 + '?", "answer": "x"}',
    '{"id": "not-english", "question": "Какая самая длинная река в мире?", "answer": "Нил"}',
    '{"id": "dup", "question": "What is the largest planet in our solar system?", "answer": "Jupiter"}',
    "[1, 2, 3]",
]


def test_bad_question_rows_are_rejected_and_the_run_goes_on(tmp_path):
    src = tmp_path / "questions.jsonl"
    src.write_bytes(("\n".join(ROWS) + "\n").encode() + b'{"id": "bad-utf8", "question": "\xff\xfe?"}\n')
    out = tmp_path / "out"
    stats = run(
        small_recipe(
            "dialogues=4",
            "mix={qa: 1}",
            "questions.source=local",
            f"questions.path={src}",
            "questions.format=bundled",
        ),
        out=str(out),
        executor="local",
        quiet=True,
    )
    rejects = {r["id"]: r["reason"] for r in read_jsonl(out / "rejects.jsonl") if r["stage"] == "questions"}
    reasons = set(rejects.values())
    assert {
        "malformed_json",
        "missing_field",
        "wrong_type",
        "empty_text",
        "too_long",
        "non_english",
        "duplicate_question",
        "invalid_utf8",
    } <= reasons, rejects
    assert stats["questions_loaded"] == len(ROWS) + 1
    assert stats["questions_rejected"] == len(rejects)
    assert stats["kept"] + stats["rejected"] == stats["planned"] == 4
    texts = [json.loads(line)["id"] for line in (out / "index.jsonl").read_text().splitlines()]
    assert texts and all(any(q in t for q in ("ok-1", "ok-2", "ok-3", "ok-4")) for t in texts)
    from datagen.report.collect import collect, format_summary

    summary = format_summary(collect(out))  # what `datagen inspect` prints
    assert "vs planned 4: OK" in summary and "MISMATCH" not in summary, summary
    assert f"input rows rejected {len(rejects)} of {len(ROWS) + 1} loaded" in summary


class CannedLLM(LLMBackend):
    """Answers requests of the dialogue `target` with canned raw text per kind;
    every other request gets a good answer."""

    name = "canned"

    def __init__(self, by_kind: dict[str, str], target: str):
        super().__init__()
        self.by_kind, self.target = by_kind, target

    def generate(self, requests):
        good = '{"answer": "' + "Fine, that is a good question. " * 6 + '"}'
        return [
            LLMResponse(r.id, self.by_kind.get(r.kind, good) if r.id.startswith(self.target) else good)
            for r in requests
        ]


def _plan(task: str, n: int = 1) -> DialoguePlan:
    qs = tuple(Question(f"q{i}", f"What is thing number {i} called today?", "x", "t") for i in range(n))
    return DialoguePlan(id=f"d-{task}", task=task, questions=qs, seed=5)


@pytest.mark.parametrize(
    "task, canned, reason",
    [
        ("qa", {"qa_answer": "{not json"}, "llm_not_json"),
        ("qa", {"qa_answer": ""}, "llm_empty"),
        (
            "multi_turn",
            {"dialogue": '{"turns": [{"speaker": "A", "text": "hi"}, {"speaker": "C", "text": "yo"}]}'},
            "llm_bad_speaker_labels",
        ),
        (
            "barge_in_related",
            {"qa_answer": '{"answer": "' + "word " * 80 + '"}', "related_question": "[]"},
            "llm_not_json",
        ),
    ],
)
def test_bad_llm_output_rejects_with_raw_text(task, canned, reason):
    stage = TextStage(small_recipe())
    stage._llm = CannedLLM(canned, target=f"d-{task}/")
    out = stage.process([_plan(task, 2 if task == "multi_turn" else 1), _plan("no_interruption")])
    assert [r.reason for r in out.rejects] == [reason]
    raw = (
        next(iter(canned.values()))
        if reason != "llm_not_json" or task == "qa"
        else canned["related_question"]
    )
    assert out.rejects[0].raw == raw[:2000]
    assert len(out.items) == 1  # the other dialogue goes on


class FlakyTTS(TTSBackend):
    """Voice 'bad' raises/returns broken audio per text; voice 'good' works."""

    name = "flaky"

    def synthesize(self, requests):
        out = []
        for r in requests:
            if r.speaker.id == "bad" and "raise" in r.text:
                out.append(TTSResult(r.key, None, 16000, error="RuntimeError: synthesis crashed"))
            elif r.speaker.id == "bad" and "empty" in r.text:
                out.append(TTSResult(r.key, np.zeros(0, np.float32), 16000))
            elif r.speaker.id == "bad" and "nan" in r.text:
                out.append(TTSResult(r.key, np.full(8000, np.nan, np.float32), 16000))
            else:
                t = np.arange(16000) / 16000
                out.append(TTSResult(r.key, (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000))
        return out


def _speech_stage(max_attempts: int, user_voices: tuple[str, ...]) -> SpeechStage:
    stage = SpeechStage(
        small_recipe(f"tts.max_attempts={max_attempts}", "tts.voices.assistant={backend: espeak}")
    )
    stage._backends["espeak{}"] = FlakyTTS()
    stage._pools = {
        "assistant": [Speaker("good", "espeak", {})],
        "user": [Speaker(v, "espeak", {}) for v in user_voices],
        "third_party": [Speaker("tp", "espeak", {})],
    }
    return stage


def _dialogue(word: str) -> Dialogue:
    return Dialogue(
        id=f"d-{word}",
        task="qa",
        seed=11,
        turns=(Turn("user", f"please {word} this"), Turn("assistant", "sure thing")),
    )


@pytest.mark.parametrize(
    "word, reason", [("raise", "tts_error"), ("empty", "zero_length"), ("nan", "nan_audio")]
)
def test_tts_failures_reject_with_a_reason(word, reason):
    stage = _speech_stage(max_attempts=2, user_voices=("bad",))
    out = stage.process([_dialogue(word), _dialogue("fine")])
    assert [(r.id, r.reason) for r in out.rejects] == [(f"d-{word}", reason)]
    assert "t0 (user, bad)" in out.rejects[0].detail
    assert [v.dialogue.id for v in out.items] == ["d-fine"]  # the rest goes on
    assert out.counters["tts_retries"] == 1


@pytest.mark.parametrize("word", ["raise", "empty", "nan"])
def test_tts_failure_is_retried_with_another_voice(word):
    stage = _speech_stage(max_attempts=3, user_voices=("bad", "good-user"))
    out = stage.process([_dialogue(word)])
    assert not out.rejects and len(out.items) == 1
    utt = out.items[0].utterances["t0"]
    assert np.isfinite(utt.audio).all() and len(utt.audio) > 0
    assert utt.speaker == "good-user" or out.counters["tts_retries"] == 0


def test_output_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RecipeError, match="not writable"):
        run(small_recipe(), out=str(blocker / "sub"), executor="local", quiet=True)


def test_full_disk_is_a_clear_error(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 2**20, 2**20))
    with pytest.raises(RecipeError, match="MiB free"):
        run(small_recipe(), out=str(tmp_path / "o"), executor="local", quiet=True)


@pytest.mark.parametrize("bad", ["../escape", "/etc/evil", "a/../../b"])
def test_recipe_cannot_write_outside_the_output_root(bad, tmp_path, monkeypatch):
    monkeypatch.setenv("DATAGEN_OUTPUT_ROOT", str(tmp_path / "root"))
    with pytest.raises(RecipeError, match="outside the output root"):
        resolve_out(small_recipe(f"out={bad}"), None)
    assert resolve_out(small_recipe("out=fine/sub"), None) == (tmp_path / "root" / "fine" / "sub").resolve()


def test_no_question_at_all_is_a_clear_result(tmp_path):
    src = tmp_path / "q.jsonl"
    src.write_text('{"question": ""}\n{"question": "   "}\n')
    with pytest.raises(RecipeError, match="no usable questions: 2 input rows rejected"):
        run(
            small_recipe("questions.source=local", f"questions.path={src}"),
            out=str(tmp_path / "o"),
            executor="local",
            quiet=True,
        )
    assert {r["reason"] for r in read_jsonl(tmp_path / "o" / "rejects.jsonl")} == {"empty_text"}


def test_missing_question_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        run(
            small_recipe("questions.source=local", f"questions.path={tmp_path / 'nope.jsonl'}"),
            out=str(tmp_path / "o"),
            executor="local",
            quiet=True,
        )


def test_secrets_never_reach_manifests(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FOR_TEST", "sk-live-do-not-leak")
    r = small_recipe("llm.backend=openai_http", "llm.options={model: m, api_key_env: SECRET_KEY_FOR_TEST}")
    from datagen.executors.runner import fingerprint

    assert "sk-live-do-not-leak" not in json.dumps(fingerprint(r))
    assert "SECRET_KEY_FOR_TEST" in json.dumps(fingerprint(r))  # only the variable's name is kept
    Path(tmp_path).mkdir(exist_ok=True)


def test_a_run_whose_llm_answers_nothing_stops_with_a_clear_error(tmp_path):
    """A stopped LLM server: every request is refused on the wire (a real socket, no
    mock). The run must stop and say so, not write a corpus of rejects that a rerun
    would keep."""
    import socket

    from datagen.backends.llm.base import LLMUnavailable
    from datagen.executors.runner import run

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = small_recipe(
        "llm.backend=openai_http",
        f"llm.options={{model: m, base_url: 'http://127.0.0.1:{port}/v1', max_retries: 0}}",
    )
    out = tmp_path / "o"
    with pytest.raises(LLMUnavailable, match=r"all \d+ requests .* openai_http LLM failed.*is it running"):
        run(r, out=str(out), executor="local", quiet=True)
    assert not list((out / "_work").rglob("stats.json"))  # no shard was committed as all-rejects
    assert not (out / "shar").exists()


def test_more_dialogues_than_questions_is_said_once_and_counted(tmp_path, capsys):
    src = tmp_path / "questions.jsonl"
    src.write_text("\n".join(ROWS[:2]) + "\n")
    recipe = small_recipe(
        "dialogues=5",
        "mix={qa: 1}",
        "questions.source=local",
        f"questions.path={src}",
        "questions.format=bundled",
    )
    stats = run(recipe, out=str(tmp_path / "o"), executor="local")
    err = capsys.readouterr().err
    assert stats["questions_reused"] == 3 and stats["planned"] == 5
    assert err.count("reuse a question") == 1 and "5 dialogues from 2 usable questions" in err
