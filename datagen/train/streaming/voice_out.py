"""Our streamed model's output audio: the answers its decisions play, as a WAV per dialogue.

`datagen train errors CKPT --eval SET --audio-out DIR` writes `DIR/<cut_id>.wav`,
the assistant stream the model's own track implies (datagen/train/answers.py:
the n-th speak-`<shift>` plays the n-th answer `synth_delay_s` later, a stop
silences it), time-aligned with the dialogue. So the model's output is audio like
any other duplex model's: `datagen errors --from-audio DIR` reads it back, and an
FDB export's samples can take it as their output.wav (FDB's own scripts then score it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datagen.train.common.tracks import spans_of
from datagen.train.training.answers import assistant_wave


def write_voice(folder: str | Path, dialogue, track, block_s: float) -> Path:
    """Write one dialogue's assistant stream (mono, 16-bit, the corpus rate) and return its path."""
    import soundfile as sf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wave = assistant_wave(
        spans_of(np.asarray(track)), dialogue.answers, len(dialogue.env), block_s, dialogue.sampling_rate
    )
    path = folder / f"{dialogue.id}.wav"
    sf.write(path, np.clip(wave, -1.0, 1.0), dialogue.sampling_rate, subtype="PCM_16")
    return path
