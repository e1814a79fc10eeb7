"""One entry point for questions, whatever their source.

Stages and the planner ask for questions through `load_questions(cfg)` and
never care whether they came from the packaged set, a local export or the
hub. Mixing sets (`questions.sources`) is where ids can collide and the same
question can appear twice (NQ and TriviaQA share many), so uniqueness of ids
and texts is enforced here, once, across all sources.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from datagen.config import QuestionsConfig
from datagen.records import Question, Reject
from datagen.sources.bundled import load_bundled
from datagen.sources.local_files import STAGE, question_key, read_local_questions

__all__ = ["load_questions", "source_label"]


def source_label(cfg: QuestionsConfig) -> str:
    """A short name for a source, used to prefix ids that would collide."""
    if cfg.source == "local" and cfg.path:
        return Path(cfg.path).name.split(".")[0]
    if cfg.source == "hf" and cfg.dataset:
        return cfg.dataset.rsplit("/", 1)[-1]
    return cfg.source


def _load_one(cfg: QuestionsConfig) -> tuple[list[Question], list[Reject]]:
    if cfg.source == "bundled":
        questions = load_bundled(cfg.split)
        if cfg.limit is not None:
            questions = questions[: cfg.limit]
        return questions, []
    if cfg.source == "local":
        assert cfg.path is not None  # the config validator guarantees it
        return read_local_questions(cfg.path, cfg.format, cfg.max_chars, cfg.limit)
    if cfg.source == "hf":
        from datagen.sources.hf import load_hf_questions  # optional extra: `datasets`

        return load_hf_questions(cfg)
    raise ValueError(f"unknown questions.source {cfg.source!r}")


def _unique_id(qid: str, label: str, used: set[str]) -> str:
    if qid not in used:
        return qid
    base = f"{label}:{qid}"
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}#{n}"
    return candidate


def load_questions(cfg: QuestionsConfig) -> tuple[list[Question], list[Reject]]:
    """Questions and rejects of the configured source(s), in order.

    With `sources` set, those sub-configs are read and concatenated and the
    top-level `source` is not read as well (its default would otherwise add
    the bundled set to every mix). Later duplicates of a question text are
    rejected as duplicate_question; a colliding id is prefixed with its
    source's label. `limit` caps the total kept.
    """
    questions: list[Question] = []
    rejects: list[Reject] = []
    ids: set[str] = set()
    texts: dict[str, str] = {}
    for sub in cfg.sources or [cfg]:
        if cfg.limit is not None and len(questions) >= cfg.limit:
            break  # later sources are not read at all, so their rows are neither kept nor rejected
        qs, rs = _load_one(sub)
        rejects.extend(rs)
        label = source_label(sub)
        for q in qs:
            if cfg.limit is not None and len(questions) >= cfg.limit:
                break
            key = question_key(q.text)
            if key in texts:
                detail = f"same question as {texts[key]} (from {label})"
                # An id a kept question already holds is prefixed, so the rejects log stays unambiguous.
                rid = f"{label}:{q.id}" if q.id in ids else q.id
                rejects.append(Reject(rid, STAGE, "duplicate_question", detail, raw=q.text[:500]))
                continue
            qid = _unique_id(q.id, label, ids)
            ids.add(qid)
            texts[key] = qid
            questions.append(q if qid == q.id else replace(q, id=qid))
    return questions, rejects
