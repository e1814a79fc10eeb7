"""A small offline recipe (every task, few dialogues) and its session-wide run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datagen.config import load_recipe

ROOT = Path(__file__).resolve().parents[1]

# Every task, few dialogues: an end-to-end run takes seconds, not minutes.
SMALL = [
    "dialogues=12",
    "executor.shard_size=4",
    "multi_turn_rounds=[2, 3]",
    "qc.asr=none",  # the ASR round trip has its own end-to-end test
    "qc.trim=energy",
    "mix={qa: 1, multi_turn: 1, pause: 1, backchannel: 2, barge_in_user: 1, barge_in_third_party: 1, "
    "barge_in_related: 2, distractor: 1, no_interruption: 1, assistant_backchannel: 1}",
]


def small_recipe(*extra: str):
    return load_recipe(ROOT / "recipes" / "tiny.yaml", SMALL + list(extra))


@pytest.fixture(scope="session")
def ray_tmp(tmp_path_factory) -> Path:
    d = Path("/tmp") / f"datagen-ray-test-{os.getpid()}"  # short: Ray's socket paths have a length limit
    os.environ["DATAGEN_RAY_TMP"] = str(d)
    return d


@pytest.fixture(scope="session")
def local_corpus(tmp_path_factory) -> Path:
    from datagen.executors.runner import run

    out = tmp_path_factory.mktemp("corpus") / "local"
    run(small_recipe(), out=str(out), executor="local", quiet=True)
    return out


def same_corpus_as(reference: Path, out: Path) -> None:
    """Same dialogues, labels, texts and audio (bit for bit) in two corpus folders."""
    import numpy as np

    from datagen.io.shar import load_cuts

    a = sorted(load_cuts(reference), key=lambda c: c.id)
    b = sorted(load_cuts(out), key=lambda c: c.id)
    assert [c.id for c in a] == [c.id for c in b]
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.load_labels(), y.load_labels())
        assert [s.text for s in x.supervisions] == [s.text for s in y.supervisions]
        assert np.array_equal(x.load_audio(), y.load_audio())  # seeded Piper: bit-identical
