"""Streaming decode (block by block, KV cache, its own voice) = a full forward pass."""

import itertools

import numpy as np
import pytest
import torch

from datagen.text.tokenizer import SHIFT_ID
from datagen.train.common.tracks import spans_of
from datagen.train.streaming.errors import dialogues_of, label_encoder
from datagen.train.streaming.stream import decode
from datagen.train.training.answers import assistant_wave
from datagen.train.training.loop import Run
from datagen.train.training.runtime import Dist


def _shifty(model, vocab, batch, seed=1):
    """Make an untrained model's <shift> depend on what it hears, so that it speaks
    and stops now and then: a fixed function of the hidden state, which both the
    streaming and the full pass go through. (An untrained model's hidden states
    barely move, so the function is scaled to how much they do on this batch.)"""
    direction = torch.randn(model.base.config.hidden_size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        seq = model.sequence(model.audio_embeddings(batch["env"], batch["asst"]), batch["tokens"])
        s = model.decoder()(inputs_embeds=seq).last_hidden_state[0, 3::5] @ direction
    centre, spread = float(s.quantile(0.5)), float(s.std()) + 1e-6
    orig = model.head

    def head(hidden):
        out = orig(hidden)
        bump = torch.zeros(out.shape[-1])
        bump[vocab.shift] = 1.0
        return out + 20.0 * ((hidden.float() @ direction - centre) / spread)[..., None] * bump

    model.head = head


@pytest.mark.parametrize("own_text,pre_voice", [(True, 0), (False, 0), (True, 3)])
def test_streamed_tokens_are_the_full_forward_tokens(cfg, own_text, pre_voice):
    """own_text: every token streamed is the full pass's argmax. Otherwise (the default,
    text fed back from the answer its voice plays) every <shift> decision is. pre_voice:
    the third turn state (backbone.pre_voice_blocks), streamed as the full pass sets it."""
    cfg = cfg.model_copy(update={"backbone": cfg.backbone.model_copy(update={"pre_voice_blocks": pre_voice})})
    run = Run(cfg, Dist(), torch.device("cpu"))
    model, vocab = run.model.eval(), run.vocab
    with torch.no_grad():  # untrained, these start at zero: give them something to carry
        model.state_emb.normal_()
        model.stream_emb.normal_()
    encode = label_encoder(vocab.tokenizer, None)
    dialogues = [d for d, _ in itertools.islice(dialogues_of(cfg.data.train[0], encode), 5)]
    d0 = dialogues[0]
    alternating = np.zeros(d0.n_blocks, dtype=np.int32)
    alternating[::30] = SHIFT_ID  # both turn states, so the calibration straddles them
    calibration = run.batcher([d0.env], [np.zeros_like(d0.env)], [alternating])
    # Whether a random direction makes the untrained model speak on these dialogues
    # depends on its initial weights (the builtin vocabulary's size among them): try a
    # few. What is tested is below, on whichever track speaks and stops.
    head = model.head
    for seed in range(1, 7):
        model.head = head
        _shifty(model, vocab, calibration, seed)
        tracks, waves = decode(model, dialogues, 0.08, 0, torch.device("cpu"), own_text=own_text)
        n_shifts = sum(int((t == SHIFT_ID).sum()) for t in tracks)
        if n_shifts >= 4:
            break
    assert n_shifts >= 4, f"the test model should speak and stop ({n_shifts} shifts)"
    for d, track, wave in zip(dialogues, tracks, waves, strict=True):
        assert len(track) == d.n_blocks
        offline = assistant_wave(spans_of(track), d.answers, len(wave), 0.08, d.sampling_rate)
        assert np.array_equal(wave, offline)  # its voice followed its decisions, nothing else
        batch = run.batcher([d.env], [offline], [track])
        with torch.no_grad():
            logits = model.logits(batch["env"], batch["asst"], batch["tokens"])
        full = vocab.to_labels(logits[0].argmax(-1))
        if own_text:
            assert np.array_equal(full, track)
        else:
            assert np.array_equal(full == SHIFT_ID, track == SHIFT_ID)
            spoken = np.concatenate([np.asarray(a.tokens) for a in d.answers[: len(spans_of(track))]] or [[]])
            text = track[track > SHIFT_ID]
            assert set(text.tolist()) <= set(spoken.tolist())  # what it said is its answers' text


def test_a_shift_threshold_decides_on_p_shift_alone():
    from datagen.train.streaming.stream import choose

    # row 0: <shift> is likeliest but below 0.5; row 1: <shift> 0.35 loses the argmax
    # to a text token at 0.45; row 2: <shift> is unlikely.
    p = torch.tensor([[0.0, 0.4, 0.3, 0.3], [0.2, 0.35, 0.45, 0.0], [0.8, 0.05, 0.15, 0.0]])
    logits = (p + 1e-9).log()
    assert choose(logits, 1, None).tolist() == [1, 2, 0]  # greedy
    assert choose(logits, 1, 0.3).tolist() == [1, 1, 0]
    assert choose(logits, 1, 0.5).tolist() == [2, 2, 0]  # never <shift> below it, even as argmax
