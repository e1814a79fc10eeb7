"""Rendering and the label/audio agreement checks, on hand-made dialogues."""

from __future__ import annotations

import numpy as np
from tl_support import SR, Overlay, Turn, quiet_cfg, voiced

from datagen.text.tokenizer import SHIFT_ID, WordTokenizer
from datagen.timeline.checks import check_assistant_channel, check_audible
from datagen.timeline.labels import label_track
from datagen.timeline.mix import coloured_noise, render
from datagen.timeline.place import place

TOK = WordTokenizer([" Paris", " is"])


def build(cfg, overlays=()):
    vd = voiced(
        [Turn("user", "where is Paris"), Turn("assistant", "Paris is " * 10, overlays=overlays)],
        {"t0": 1.2, "t1": 5.0, **{f"t1o{j}": 0.6 for j in range(len(overlays))}},
    )
    tl = place(vd, cfg, np.random.default_rng(3))
    labels = label_track(tl.spans, tl.duration, cfg.block_s, TOK)
    return vd, tl, labels, render(vd, tl, cfg, SR, np.random.default_rng(4))


def test_channels_hold_their_roles():
    cfg = quiet_cfg()
    _, tl, labels, mix = build(cfg)
    assert mix.audio.shape == (2, int(round(tl.duration * SR)))
    a = tl.spans[0]
    ch1 = mix.audio[1]
    assert np.all(ch1[: int(a.audio_start * SR) - 1] == 0)
    assert np.all(ch1[int(a.audio_end * SR) + 1 :] == 0)
    user = next(s for s in tl.segments if s.channel == 0)
    assert np.abs(mix.audio[0, int(user.start * SR) : int(user.end * SR)]).max() > 0.05
    assert check_assistant_channel(ch1, SR, labels, cfg.block_s, cfg.synth_delay_s) == []


def test_check_catches_shifted_labels():
    cfg = quiet_cfg()
    _, tl, labels, mix = build(cfg)
    moved = labels.copy()
    b = tl.spans[0].decide_block
    moved[b], moved[b - 3] = moved[b - 3], SHIFT_ID  # decide three blocks early
    problems = check_assistant_channel(mix.audio[1], SR, moved, cfg.block_s, cfg.synth_delay_s)
    assert any("voice starts" in p for p in problems)
    stop = tl.spans[0].stop_block
    late = labels.copy()
    late[stop], late[stop + 4] = late[stop + 4], SHIFT_ID
    assert any("voice ends" in p for p in check_assistant_channel(mix.audio[1], SR, late, 0.08, 0.32))


def test_interrupted_audio_is_cut_with_a_fade():
    cfg = quiet_cfg()
    _, tl, labels, mix = build(cfg, (Overlay("barge_in", "user", "stop now", 6, "stop"),))
    sp = tl.spans[0]
    end = int(round(sp.audio_end * SR))
    assert np.all(mix.audio[1, end:] == 0)
    tail = np.abs(mix.audio[1, end - int(0.02 * SR) : end])
    assert tail[-10:].max() < tail[:10].max()  # faded, not chopped
    assert check_assistant_channel(mix.audio[1], SR, labels, 0.08, 0.32) == []


def test_echo_and_noise_land_on_channel_zero_only():
    cfg = quiet_cfg(
        echo={"prob": 1.0, "gain": (0.3, 0.3), "delay_s": (0.2, 0.2)},
        noise={"prob": 1.0, "snr_db": (20.0, 20.0), "kinds": ["pink"]},
    )
    _, tl, labels, mix = build(cfg)
    assert mix.meta["echo"] and mix.meta["noise"] and mix.meta["echo_delay_s"] == 0.2
    sp = tl.spans[0]
    # the echo is on channel 0 while the user is silent and the assistant talks
    a, b = int((sp.audio_start + 0.5) * SR), int((sp.audio_end - 0.5) * SR)
    assert np.std(mix.interference[a:b]) > np.std(mix.interference[: int(0.3 * SR)])
    assert check_assistant_channel(mix.audio[1], SR, labels, 0.08, 0.32) == []


def test_noise_colours_differ():
    rng = np.random.default_rng(0)
    spectra = {}
    for kind in ("white", "pink", "brown"):
        x = coloured_noise(kind, 2**15, rng)
        p = np.abs(np.fft.rfft(x)) ** 2
        spectra[kind] = p[100:1000].mean() / p[10000:11000].mean()
    assert spectra["white"] < spectra["pink"] < spectra["brown"]


def test_audible_check():
    x = np.zeros(SR * 3, dtype=np.float32)
    x[SR : 2 * SR] = 0.2 * np.sin(np.arange(SR) / 5)
    assert check_audible(x, SR, 1.0, 2.0) is None
    assert check_audible(x, SR, 2.2, 2.8) is not None
