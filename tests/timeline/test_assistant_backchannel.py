"""The assistant's own cues in a user's long turn (task assistant_backchannel).

Quiet config (block 0.08 s, synth delay 0.32 s, lead-in 0.4 s) with fixed
`onset_s` 0.5 s and `resume_s` 0.2 s: the first stretch (1.5 s) ends at 1.9 s;
the cue is decided in block ceil((1.9 + 0.5 - 0.32) / 0.08) = 26 (2.08 s), its
0.4 s of audio plays 2.40-2.80 s, its stop-<shift> is in block 35 (2.80 s), and
the user goes on at 3.00 s.
"""

from __future__ import annotations

import numpy as np
import pytest
from tl_support import SR, Overlay, Turn, quiet_cfg, voiced

from datagen.records import CUE_KIND
from datagen.text.tokenizer import SHIFT_ID, THINK_ID, WordTokenizer
from datagen.timeline.checks import check_assistant_channel, voiced_runs
from datagen.timeline.labels import label_track, labels_as_text
from datagen.timeline.mix import render
from datagen.timeline.place import place

TOK = WordTokenizer([" mm", "-", "hmm", " I", " see", " Paris", " is", " it", " ."])
LONG = "I was in France last week . It was lovely . So where is Paris ?"


def cue_cfg():
    fixed = {"per_turn": (1, 2), "onset_s": (0.5, 0.5), "resume_s": (0.2, 0.2)}
    return quiet_cfg(assistant_backchannel=fixed)


def long_turn(n_cues: int = 1):
    cues = (Overlay(CUE_KIND, "assistant", "mm-hmm", 7, "continue"),)
    durations = {"t0": 1.5, "t0p1": 1.0, "t0o0": 0.4, "t1": 1.0}
    if n_cues == 2:
        cues += (Overlay(CUE_KIND, "assistant", "I see", 11, "continue"),)
        durations |= {"t0p2": 0.8, "t0o1": 0.5}
    turns = [Turn("user", LONG, overlays=cues), Turn("assistant", "Paris is it .")]
    return voiced(turns, durations, task=CUE_KIND)


def build(vd, cfg):
    tl = place(vd, cfg, np.random.default_rng(0))
    labels = label_track(tl.spans, tl.duration, cfg.block_s, TOK)
    return tl, labels, render(vd, tl, cfg, SR, np.random.default_rng(1))


def test_stretches_split_the_turn_at_the_cues():
    t = long_turn(2).dialogue.turns[0]
    assert t.breaks == (7, 11)
    assert t.stretches() == ("I was in France last week .", "It was lovely .", "So where is Paris ?")


def test_cue_sits_in_the_dip_with_the_user_around_it():
    cfg = cue_cfg()
    tl, _, mix = build(long_turn(), cfg)
    user = [s for s in tl.segments if s.channel == 0]
    cue = next(s for s in tl.segments if s.kind == CUE_KIND)
    assert [s.kind for s in user] == ["pause_part", "pause_part"]
    assert cue.channel == 1 and cue.role == "assistant" and cue.expect == "finish"
    assert user[0].end == pytest.approx(1.9) and cue.start == pytest.approx(2.4)
    assert cue.end == pytest.approx(2.8) and user[1].start == pytest.approx(3.0)
    assert user[0].end < cue.start and cue.end <= user[1].start
    # channel 0 is silent in the dip, channel 1 holds only the cue there
    dip = mix.audio[:, int(1.95 * SR) : int(2.95 * SR)]
    assert np.abs(dip[0]).max() == 0.0
    runs = voiced_runs(mix.audio[1], SR)
    assert runs[0][0] == pytest.approx(2.4, abs=0.011) and runs[0][1] == pytest.approx(2.8, abs=0.011)
    ev = next(e for e in tl.events if e.kind == CUE_KIND)
    assert ev.time == pytest.approx(2.08) and ev.role == "assistant" and ev.expect == "cue"
    assert ev.detail["dip_start"] == pytest.approx(1.9) and ev.detail["resume"] == pytest.approx(3.0)


def test_labels_shift_tokens_shift_for_the_cue_then_the_answer():
    cfg = cue_cfg()
    tl, labels, _ = build(long_turn(), cfg)
    cue, answer = tl.spans
    assert (cue.decide_block, cue.stop_block) == (26, 35)
    text = labels_as_text(labels, TOK)
    assert text[:26] == ["<think>"] * 26
    assert text[26:31] == ["<shift>", " mm", "-", "hmm", "<think>"]
    assert set(text[31:35]) == {"<think>"}
    assert text[35] == "<shift>"
    # the user speaks again 3.0-4.0 s: nothing but <think> until after that
    assert answer.decide_block * 0.08 >= 4.0 - 1e-9
    assert set(text[36 : answer.decide_block]) == {"<think>"}
    assert text[answer.decide_block : answer.decide_block + 5] == ["<shift>", " Paris", " is", " it", " ."]
    assert int(np.sum(labels == SHIFT_ID)) == 4


def test_two_cues_each_in_their_own_dip():
    cfg = cue_cfg()
    tl, labels, mix = build(long_turn(2), cfg)
    user = [s for s in tl.segments if s.channel == 0]
    cues = [s for s in tl.segments if s.kind == CUE_KIND]
    assert len(user) == 3 and [c.text for c in cues] == ["mm-hmm", "I see"]
    for k, c in enumerate(cues):
        assert user[k].end < c.start < c.end <= user[k + 1].start
    assert len(tl.spans) == 3 and int(np.sum(labels == SHIFT_ID)) == 6
    assert check_assistant_channel(mix.audio[1], SR, labels, cfg.block_s, cfg.synth_delay_s) == []
    assert int(np.sum(labels == THINK_ID)) > 0


def test_checks_pass_then_fail_when_the_cue_audio_moves():
    cfg = cue_cfg()
    tl, labels, mix = build(long_turn(), cfg)
    ch1 = mix.audio[1]
    assert check_assistant_channel(ch1, SR, labels, cfg.block_s, cfg.synth_delay_s) == []
    cue = tl.spans[0]
    a, b = int(round(cue.audio_start * SR)), int(round(cue.audio_end * SR))
    moved = ch1.copy()
    moved[a:b] = 0.0
    shift = int(0.3 * SR)  # the same cue 0.3 s later than its labels say
    moved[a + shift : b + shift] = ch1[a:b]
    problems = check_assistant_channel(moved, SR, labels, cfg.block_s, cfg.synth_delay_s)
    assert any("voice starts" in p for p in problems) and any("voice ends" in p for p in problems)
    silent = ch1.copy()
    silent[a:b] = 0.0  # labels say a cue, channel 1 has none
    problems = check_assistant_channel(silent, SR, labels, cfg.block_s, cfg.synth_delay_s)
    assert any("no voice" in p for p in problems)
