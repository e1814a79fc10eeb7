"""Streaming inference: block by block, KV cache, batched across dialogues, greedy
(or, with a `<shift>` threshold, greedy on everything but the decision).

Each block the model reads its environment embeddings (the dialogue's channel
0, which does not depend on the model), its assistant-stream embeddings (its
own voice, which does), and emits one token that is fed back. Its decisions
drive its voice: a speak-`<shift>` starts the next answer `synth_delay_s`
later, a stop-`<shift>` silences it (datagen/train/training/answers.py), and the
assistant stream is re-encoded block by block from that audio.

Equivalences this relies on (each has a test): causal fbank of a block with
15 ms of history equals the whole-signal fbank; the conv subsampler on the
previous block's frames plus this block's equals the whole-sequence conv; the
KV-cached decoder equals a full forward. So the tokens streamed here are the
tokens a full forward pass gives over the same blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from transformers.cache_utils import Cache

from datagen.text.tokenizer import SHIFT_ID, THINK_ID
from datagen.train.streaming.kv_cache import growing_cache
from datagen.train.training.answers import Answer, place_answer
from datagen.train.training.data import fit
from datagen.train.training.features import CausalFbank
from datagen.train.training.model import EMB_PER_BLOCK, DuplexModel, cache_kwarg


@dataclass
class Dialogue:
    """One dialogue to decode: its environment audio, length and answers."""

    id: str
    env: np.ndarray  # channel 0, float32
    n_blocks: int
    answers: list[Answer]
    sampling_rate: int


class _Voice:
    """A dialogue's assistant stream as its own decisions make it."""

    def __init__(self, d: Dialogue, spb: int, block_s: float, sr: int):
        self.d, self.block_s, self.sr = d, block_s, sr
        self.wave = np.zeros(d.n_blocks * spb, dtype=np.float32)
        self.speaking, self.said, self.speak_block = False, 0, -1

    def says(self, b: int, label: int, own_text: bool) -> int:
        """The token block b feeds back: the model's `<shift>` decisions always; its other
        tokens as they are (`own_text`), or as the answer its voice is playing lays them
        out (the answer's text from the block after the speak-`<shift>`, then `<think>`)."""
        if label == SHIFT_ID or own_text:
            return label
        k, offset = self.said - 1, b - self.speak_block - 1
        if not self.speaking or k >= len(self.d.answers) or offset >= len(self.d.answers[k].tokens):
            return THINK_ID
        return self.d.answers[k].tokens[offset]

    def decide(self, b: int, label: int) -> None:
        if label != SHIFT_ID or b >= self.d.n_blocks:
            return
        if not self.speaking:
            self.speaking, self.speak_block = True, b
            if self.said < len(self.d.answers):
                place_answer(self.wave, self.d.answers[self.said], b, None, self.block_s, self.sr)
            self.said += 1
        else:
            self.speaking = False
            k = self.said - 1
            if k < len(self.d.answers):
                place_answer(self.wave, self.d.answers[k], self.speak_block, b, self.block_s, self.sr)


@torch.no_grad()
def decode(
    model: DuplexModel,
    dialogues: list[Dialogue],
    block_s: float,
    lag_blocks: int,
    device: torch.device,
    autocast=None,
    own_text: bool = False,
    shift_threshold: float | None = None,
    new_cache: Callable[[], Cache] = growing_cache,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Greedy streaming decode of a batch. Returns each dialogue's label track (as fed
    back) and the assistant stream its decisions made.

    The `<shift>`s are the model's: when it speaks, when it stops. What it *says* is
    the answer the voice plays (the stream is the gold answer's audio, wherever the
    model puts it), so by default the text fed back is that answer's, laid out as the
    corpus lays it out; `own_text` feeds back the model's own text tokens instead (a
    model that writes its own answers: a real LLM backbone with its own TTS).
    `shift_threshold`: see `choose`. `new_cache`: the KV cache each stream gets
    (streaming/kv_cache.py; `make bench` times it against transformers' DynamicCache)."""
    model.eval()
    sr = dialogues[0].sampling_rate
    fbank = CausalFbank(sr, model.encoder.sub.conv1.in_channels).to(device)
    spb = int(round(block_s * sr))
    n_max = max(d.n_blocks for d in dialogues)
    ctx = autocast if autocast is not None else torch.autocast(device.type, enabled=False)
    env = torch.from_numpy(np.stack([fit(d.env, n_max * spb) for d in dialogues])).to(device)
    with ctx:
        env_emb = model.connect(model.encoder(fbank(env)), 0)  # causal: the whole stream at once
    voices = [_Voice(d, spb, block_s, sr) for d in dialogues]
    enc_cache = new_cache() if model.encoder.layers is not None else None
    llm_cache, llm_kw = new_cache(), cache_kwarg(model.decoder())
    hist = fbank.history
    prev_frames = None
    prev_tok = None
    pos = 0
    tracks = np.zeros((len(dialogues), n_max), dtype=np.int32)
    for b in range(n_max):
        src = b - lag_blocks  # the assistant block heard now
        chunk = np.zeros((len(dialogues), hist + spb), dtype=np.float32)
        if src >= 0:
            for i, v in enumerate(voices):
                a = src * spb - hist
                seg = v.wave[max(a, 0) : (src + 1) * spb]
                chunk[i, hist + spb - len(seg) :] = seg
        frames = fbank.chunk(
            torch.from_numpy(chunk[:, hist:]).to(device), torch.from_numpy(chunk[:, :hist]).to(device)
        )
        with ctx:
            x = frames if prev_frames is None else torch.cat([prev_frames, frames], dim=1)
            sub = model.encoder.subsample(x)[:, -EMB_PER_BLOCK:]
            asst_emb = model.connect(model.encoder.transform(sub, enc_cache, EMB_PER_BLOCK * b), 1)
            audio = torch.cat([env_emb[:, EMB_PER_BLOCK * b : EMB_PER_BLOCK * (b + 1)], asst_emb], dim=1)
            state = [[model.state_now(v.speaking, b - v.speak_block)] for v in voices]
            parts = [model.with_state(audio[:, None], torch.tensor(state, device=device))[:, 0]]
            if prev_tok is not None:
                parts.insert(0, model.embed(prev_tok)[:, None].to(asst_emb.dtype))
            seq = torch.cat(parts, dim=1)
            ids = torch.arange(pos, pos + seq.shape[1], device=device)[None].expand(seq.shape[0], -1)
            out = model.decoder()(inputs_embeds=seq, position_ids=ids, use_cache=True, **{llm_kw: llm_cache})
            logits = model.head(out.last_hidden_state[:, -1]).float()
        pos += seq.shape[1]
        chosen = model.vocab.to_labels(choose(logits, model.vocab.shift, shift_threshold).cpu())
        labels = np.array([v.says(b, int(lab), own_text) for v, lab in zip(voices, chosen, strict=True)])
        tracks[:, b] = labels
        for v, lab in zip(voices, labels, strict=True):
            v.decide(b, int(lab))
        prev_tok = model.vocab.to_backbone(torch.from_numpy(labels.astype(np.int64))).to(device)
        prev_frames = frames
    return [tracks[i, : d.n_blocks] for i, d in enumerate(dialogues)], [v.wave for v in voices]


def choose(logits: torch.Tensor, shift: int, threshold: float | None) -> torch.Tensor:
    """Each row's token: the argmax (SALMONN-omni's greedy decode), or, with a threshold,
    `<shift>` whenever p(`<shift>`) exceeds it and the argmax of the rest otherwise.

    Why a threshold: the decision is binary (shift or not), but the argmax weighs
    p(`<shift>`) against the single likeliest other token. While the model listens that
    is `<think>` and the two agree at 0.5; while it speaks, whether a barge-in wins
    depends on how the rest spreads over text and `<think>`, not on how sure the
    model is that it should stop. A threshold is a decision rule a user can set (the
    operating point of turn-taking predictors such as VAP), the same in both states."""
    if threshold is None:
        return logits.argmax(-1)
    p_shift = logits.float().softmax(-1)[:, shift]
    rest = logits.clone()
    rest[:, shift] = float("-inf")
    shifts = torch.full_like(p_shift, shift, dtype=torch.long)
    return torch.where(p_shift > threshold, shifts, rest.argmax(-1))
