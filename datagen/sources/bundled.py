"""The question set that ships with the package.

The offline recipes must run with no network and no downloads, so a small
hand-written set (a few hundred short factual questions, grouped in topics of
a dozen or more so multi-turn dialogues can chain questions on one theme) is
packaged as data. It is our own text, not rows of a licensed dataset.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from datagen.records import Question

__all__ = ["load_bundled"]

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


def load_bundled() -> list[Question]:
    """All bundled questions, in file order (topics are contiguous)."""
    return list(_read())
