"""Compose one hand-made dialogue through the real ComposeStage."""

from __future__ import annotations

import numpy as np

from datagen.config import Recipe
from datagen.records import Dialogue, Turn, Utterance, VoicedDialogue, Word
from datagen.stages.compose import ComposeStage

SR = 16000


def _utt(key, text, role, seconds):
    t = np.arange(int(seconds * SR)) / SR
    words = text.split()
    step = seconds / len(words)
    return Utterance(
        key,
        text,
        f"s-{role}",
        role,
        (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32),
        SR,
        tuple(Word(w, i * step, (i + 1) * step) for i, w in enumerate(words)),
        "aligner",
    )


def compose_one(labels_tokenizer: str = "builtin"):
    d = Dialogue(
        "d1",
        "qa",
        (Turn("user", "where is the great wall"), Turn("assistant", "the great wall of china")),
        seed=3,
    )
    vd = VoicedDialogue(
        d,
        {
            "t0": _utt("t0", "where is the great wall", "user", 1.5),
            "t1": _utt("t1", "the great wall of china", "assistant", 2.0),
        },
    )
    recipe = Recipe(name="x", labels={"tokenizer": labels_tokenizer}, timeline={"noise": {"prob": 0}})
    out = ComposeStage(recipe).process([vd])
    assert not out.rejects, out.rejects
    return out.items[0]
