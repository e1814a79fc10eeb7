"""Two rule baselines, scored on the same dialogues as the model.

(a) speak after 0.6 s of silence on channel 0, never stop while speaking;
(b) the same, and stop at any channel-0 speech onset while speaking.

Both hear channel 0 through a causal voice-activity detector: silero-vad run
chunk by chunk (its recurrent state carried forward, no look-ahead, no
smoothing), or frame energy when silero-vad is not installed. Like the model,
a baseline's n-th turn plays the n-th answer and ends where that answer's
audio ends (its `natural_blocks`). The tracks they produce are ordinary label
tracks, judged by the same judge as any model's.
"""

from __future__ import annotations

import math

import numpy as np

from datagen.text.tokenizer import SHIFT_ID, THINK_ID

SILENCE_S = 0.6
CHUNK = 512  # silero-vad's window at 16 kHz (32 ms)
ENERGY_DB = -45.0  # fallback detector: a 10 ms frame louder than this is speech


def _silero():
    try:
        from silero_vad import load_silero_vad
    except ImportError:
        return None
    return load_silero_vad()


def block_vad(
    waves: list[np.ndarray], sr: int, block_s: float, n_blocks: list[int]
) -> tuple[list[np.ndarray], str]:
    """Per dialogue, whether each block holds speech on channel 0; and which detector said so."""
    model = _silero() if sr == 16000 else None
    if model is None:
        return [_energy_vad(w, sr, block_s, n) for w, n in zip(waves, n_blocks, strict=True)], "energy"
    import torch

    spb = int(round(block_s * sr))
    out = [np.zeros(n, dtype=bool) for n in n_blocks]
    for lo in range(0, len(waves), 64):
        group = list(range(lo, min(lo + 64, len(waves))))
        n_chunks = max(math.ceil(n_blocks[i] * spb / CHUNK) for i in group)
        x = np.zeros((len(group), n_chunks * CHUNK), dtype=np.float32)
        for r, i in enumerate(group):
            w = waves[i][: n_blocks[i] * spb]
            x[r, : len(w)] = w
        model.reset_states()
        with torch.no_grad():
            for c in range(n_chunks):
                prob = model(torch.from_numpy(x[:, c * CHUNK : (c + 1) * CHUNK]), sr)[:, 0].numpy()
                b = ((c + 1) * CHUNK - 1) // spb  # the block in which this chunk ends
                for r, i in enumerate(group):
                    if b < n_blocks[i] and prob[r] > 0.5:
                        out[i][b] = True
    return out, "silero-vad"


def _energy_vad(wave: np.ndarray, sr: int, block_s: float, n: int) -> np.ndarray:
    hop = int(sr * 0.01)
    per = int(round(block_s / 0.01))
    w = np.pad(wave[: n * per * hop], (0, max(0, n * per * hop - len(wave))))
    frames = w.reshape(n * per, hop).astype(np.float64)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return (db > ENERGY_DB).reshape(n, per).any(axis=1)


def rule_track(vad: np.ndarray, answers: list[dict], block_s: float, stop_on_speech: bool) -> np.ndarray:
    """The label track baseline (a) (stop_on_speech False) or (b) produces."""
    n = len(vad)
    track = np.full(n, THINK_ID, dtype=np.int32)
    need = math.ceil(SILENCE_S / block_s - 1e-9)
    heard, quiet, said, b = False, 0, 0, 0
    while b < n:
        if vad[b]:
            heard, quiet = True, 0
        else:
            quiet += 1
        if heard and quiet >= need and said < len(answers):
            track[b] = SHIFT_ID
            end = b + answers[said]["natural_blocks"]
            said += 1
            s = b + 1
            while s < min(end, n):
                if stop_on_speech and vad[s] and not vad[s - 1]:
                    break
                s += 1
            if s < n:
                track[s] = SHIFT_ID
            heard, quiet, b = False, 0, s + 1
            continue
        b += 1
    return track
