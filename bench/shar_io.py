"""Shar write + read against a bare FLAC encode + decode of the same audio.

The pipeline stores each dialogue as a Lhotse Shar cut: the 2-channel
recording and the cut-short answers as FLAC, the label track as numpy, the
manifest as gzipped JSON (datagen/io/shar.py). The bare alternative a user
could write by hand is `soundfile` FLAC of the same arrays: each dialogue's
2-channel mix and, for a dialogue with answers cut short, the cut-aligned
full-answer channels Shar stores beside it. Both are timed on the same
dialogues, in memory-to-disk-to-memory round trips.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def composed_samples(recipe):
    """Dialogues through every stage but the writer, in this process."""
    from datagen.sources.questions import load_questions
    from datagen.stages import build_stages
    from datagen.stages.plan import plan_dialogues

    qs, _ = load_questions(recipe.questions)
    items = plan_dialogues(qs, recipe)
    for st in build_stages(recipe):
        items = st.process(items).items
    return items


def shar_vs_flac(recipe) -> dict:
    from lhotse import CutSet

    from datagen.io.shar import full_answers_audio, write_samples

    samples = composed_samples(recipe)
    full = [full_answers_audio(s) for s in samples]
    arrays = [s.audio for s in samples] + [f[0] for f in full if f is not None]
    audio_s = sum(x.shape[-1] for x in arrays) / samples[0].sample_rate
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        write_samples(samples, Path(d) / "shar", 0)
        for cut in CutSet.from_shar(in_dir=str(Path(d) / "shar")):
            cut.load_audio()
            cut.load_labels()
            if "full_answers" in cut.custom:
                cut.load_full_answers()
        shar = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i, x in enumerate(arrays):
            path = Path(d) / f"{i}.flac"
            sf.write(path, np.clip(np.atleast_2d(x).T, -1, 1), samples[0].sample_rate, format="FLAC")
            sf.read(path, dtype="float32")
        flac = time.perf_counter() - t0
    return {"shar_s": shar, "flac_s": flac, "dialogues": len(samples), "audio_s": audio_s}
