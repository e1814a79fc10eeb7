"""Hand-made voiced dialogues: tone bursts standing in for speech, with exact
word timings, so placement and labels can be checked to the block."""

from __future__ import annotations

import numpy as np

from datagen.config import Recipe, TimelineConfig
from datagen.records import Dialogue, Overlay, Turn, Utterance, VoicedDialogue, Word

SR = 16000


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def utt(key: str, text: str, role: str, seconds: float) -> Utterance:
    words = text.split()
    step = seconds / len(words)
    timed = tuple(Word(w, i * step, (i + 1) * step) for i, w in enumerate(words))
    return Utterance(
        key=key,
        text=text,
        speaker=f"spk-{role}",
        role=role,
        audio=tone(seconds),
        sample_rate=SR,
        words=timed,
        timing_source="aligner",
    )


def quiet_cfg(**kw) -> TimelineConfig:
    """Deterministic layout: fixed gaps, no echo, no noise, no lead-in jitter."""
    base = dict(
        lead_in_s=(0.4, 0.4),
        tail_s=(0.8, 0.8),
        interrupter_gain_db=(0.0, 0.0),
        gap={"median_s": 0.6, "sigma": 0.0, "min_s": 0.2, "max_s": 2.0},
        user_gap={"mean_s": 0.5, "sd_s": 0.0, "min_s": -0.4, "max_s": 2.5},
        pause={"min_s": 1.0, "max_s": 1.0},
        echo={"prob": 0.0},
        noise={"prob": 0.0},
    )
    base.update(kw)
    return Recipe(name="t", timeline=base).timeline


def voiced(turns: list[Turn], durations: dict[str, float], task: str = "qa") -> VoicedDialogue:
    d = Dialogue(id="d1", task=task, turns=tuple(turns), seed=1)
    utts: dict[str, Utterance] = {}
    for i, t in enumerate(turns):
        for k, text in enumerate(t.stretches()):  # a paused or cued turn: t0, t0p1, t0p2, ...
            key = f"t{i}p{k}" if k else f"t{i}"
            utts[key] = utt(key, text, t.role, durations[key])
        for j, ov in enumerate(t.overlays):
            utts[f"t{i}o{j}"] = utt(f"t{i}o{j}", ov.text, ov.role, durations[f"t{i}o{j}"])
    return VoicedDialogue(d, utts)


__all__ = ["Overlay", "Turn", "quiet_cfg", "voiced", "tone", "SR"]
