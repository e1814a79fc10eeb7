"""The question set that ships with the package.

The offline recipes must run with no network and no downloads, so a small
hand-written set (a few hundred short factual questions, grouped in topics of
a dozen or more so multi-turn dialogues can chain questions on one theme) is
packaged as data. It is our own text, not rows of a licensed dataset.

It has a held-out split like a hub dataset: a third of each topic (chosen by a
hash of the id, so adding a question never moves another) is `test`, for the
evaluation recipes, and the rest `train`. Split within topics, so both halves
keep every theme and multi-turn dialogues still find topic mates.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources

from datagen.records import Question

__all__ = ["BUNDLED_SPLITS", "bundled_split", "load_bundled"]

BUNDLED_SPLITS = ("train", "test", "all")
TEST_SHARE = 1 / 3

_RESOURCE = ("data", "questions.jsonl")


@lru_cache(maxsize=1)
def _read() -> tuple[Question, ...]:
    text = resources.files("datagen").joinpath(*_RESOURCE).read_text(encoding="utf-8")
    out = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(
                Question(
                    id=row["id"],
                    text=row["question"],
                    answer=row["answer"],
                    topic=row["topic"],
                    source="bundled",
                    aliases=tuple(row.get("aliases", ())),
                )
            )
        except (ValueError, KeyError, TypeError) as e:
            # Our own packaged file: a broken line is a packaging bug, not bad input.
            raise ValueError(f"bundled questions.jsonl line {line_no} is broken: {e!r}") from None
    return tuple(out)


def _rank(qid: str) -> str:
    return hashlib.sha256(f"bundled-split:{qid}".encode()).hexdigest()


@lru_cache(maxsize=1)
def _test_ids() -> frozenset[str]:
    by_topic: dict[str, list[str]] = {}
    for q in _read():
        by_topic.setdefault(q.topic or "general", []).append(q.id)
    held = set()
    for ids in by_topic.values():
        n = max(1, round(len(ids) * TEST_SHARE))
        held.update(sorted(ids, key=_rank)[:n])
    return frozenset(held)


def bundled_split(qid: str) -> str:
    """`test` or `train`: which half a bundled question belongs to."""
    return "test" if qid in _test_ids() else "train"


def load_bundled(split: str = "all") -> list[Question]:
    """Bundled questions of one split (`train`, `test`, or `all`), in file order
    (topics are contiguous)."""
    if split not in BUNDLED_SPLITS:
        raise ValueError(f"bundled questions have splits {BUNDLED_SPLITS}, not {split!r}")
    qs = _read()
    return list(qs) if split == "all" else [q for q in qs if bundled_split(q.id) == split]
