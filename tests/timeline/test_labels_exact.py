"""Exact label tracks for each event kind (docs/labels.md).

Layout arithmetic for the quiet config (block 0.08 s, synth delay 0.32 s,
assistant gap 0.6 s, lead-in 0.4 s, tail 0.8 s): a 1.2 s question ends at
1.6 s; the assistant decides at ceil((1.6 + 0.6 - 0.32) / 0.08) = block 24
(1.92 s) and its audio starts at 2.24 s.
"""

from __future__ import annotations

import numpy as np
import pytest
from tl_support import Overlay, Turn, quiet_cfg, voiced

from datagen.text.tokenizer import SHIFT_ID, THINK_ID, WordTokenizer
from datagen.timeline.labels import label_track, labels_as_text
from datagen.timeline.place import PlacementError, place

TOK = WordTokenizer([" Paris", " is", " the", " capital", " .", " Yes"])
RNG = np.random.default_rng(0)


def run(vd, cfg):
    tl = place(vd, cfg, np.random.default_rng(0))
    return tl, label_track(tl.spans, tl.duration, cfg.block_s, TOK)


def test_turn_taking_exact_sequence(cfg):
    vd = voiced(
        [Turn("user", "where is Paris"), Turn("assistant", "Paris is the capital .")], {"t0": 1.2, "t1": 2.0}
    )
    tl, labels = run(vd, cfg)
    span = tl.spans[0]
    assert span.decide_block == 24 and span.audio_start == pytest.approx(2.24)
    # audio ends at 4.24 s -> stop <shift> in block 53 (4.24 / 0.08 = 53.0)
    assert span.stop_block == 53 and not span.interrupted
    text = labels_as_text(labels, TOK)
    assert text[:24] == ["<think>"] * 24
    assert text[24:31] == ["<shift>", " Paris", " is", " the", " capital", " .", "<think>"]
    assert text[31:53] == ["<think>"] * 22
    assert text[53] == "<shift>"
    assert set(text[54:]) == {"<think>"}
    assert tl.duration == pytest.approx(5.04)  # ceil((4.24 + 0.8) / 0.08) * 0.08
    assert len(labels) == 63


def test_backchannel_and_distractor_do_not_change_labels(cfg):
    base = [Turn("user", "where is Paris"), Turn("assistant", "Paris is the capital . " * 4)]
    plain = voiced(base, {"t0": 1.2, "t1": 6.0})
    ovs = (
        Overlay("backchannel", "user", "uh huh", 5, "continue"),
        Overlay("distractor", "third_party", "where are my keys", 12, "continue"),
    )
    busy = voiced(
        [base[0], Turn("assistant", base[1].text, overlays=ovs)],
        {"t0": 1.2, "t1": 6.0, "t1o0": 0.5, "t1o1": 1.0},
    )
    tl_plain, l_plain = run(plain, cfg)
    tl_busy, l_busy = run(busy, cfg)
    assert np.array_equal(l_plain, l_busy)
    kinds = [e.kind for e in tl_busy.events]
    assert kinds == ["turn_shift", "backchannel", "distractor", "finish"]
    for seg in tl_busy.segments:
        if seg.kind in ("backchannel", "distractor"):
            assert seg.channel == 0 and seg.expect == "continue"
            assert tl_busy.spans[0].audio_start < seg.start and seg.end < tl_busy.spans[0].audio_end


@pytest.mark.parametrize("role", ["user", "third_party"])
def test_barge_in_stops_at_reaction(cfg, role):
    text = "Paris is the capital . " * 4  # 20 words over 6 s: 0.3 s per word
    ov = Overlay("barge_in", role, "stop please", 8, "stop")
    vd = voiced(
        [Turn("user", "where is Paris"), Turn("assistant", text, overlays=(ov,))],
        {"t0": 1.2, "t1": 6.0, "t1o0": 0.6},
    )
    tl, labels = run(vd, cfg)
    span = tl.spans[0]
    barge = next(e for e in tl.events if e.kind == "barge_in")
    # overlay lands at word 8 (2.4 s into the answer) plus a seeded jitter in [-0.1, 0.2]
    assert span.audio_start + 2.3 - 1e-6 <= barge.time <= span.audio_start + 2.6 + 1e-6
    # heard fully (0.6 s < barge_in_heard_s), + reaction 0.16 s, rounded up to a block
    expected_stop = int(np.ceil((barge.time + 0.6 + cfg.reaction_s) / 0.08 - 1e-9))
    assert span.interrupted and span.stop_block == expected_stop
    assert labels[span.stop_block] == SHIFT_ID
    assert np.all(labels[span.stop_block + 1 :] == THINK_ID)
    seg = next(s for s in tl.segments if s.channel == 1)
    assert seg.end == pytest.approx(span.stop_block * 0.08)
    heard = seg.end - seg.start
    assert seg.spoken_text == " ".join(text.split()[: int((heard + 0.15) // 0.3)])
    assert seg.expect == "stop"
    assert [e.kind for e in tl.events] == ["turn_shift", "barge_in", "stop"]


def test_related_question_stop_then_answer(cfg):
    ov = Overlay("related_question", "third_party", "why is it the capital", 6, "stop")
    vd = voiced(
        [
            Turn("user", "where is Paris"),
            Turn("assistant", "Paris is the capital . " * 4, overlays=(ov,)),
            Turn("assistant", "Yes Paris is"),
        ],
        {"t0": 1.2, "t1": 6.0, "t1o0": 1.5, "t2": 1.5},
        task="barge_in_related",
    )
    tl, labels = run(vd, cfg)
    first, second = tl.spans
    q = next(s for s in tl.segments if s.kind == "related_question")
    # a related question is heard to its end before the stop decision
    assert first.stop_block * 0.08 >= q.end + cfg.reaction_s - 1e-9
    # the answer comes after the question ends, with the assistant gap
    assert second.decide_block * 0.08 >= q.end
    assert labels_as_text(labels, TOK)[second.decide_block : second.decide_block + 4] == [
        "<shift>",
        " Yes",
        " Paris",
        " is",
    ]
    assert list(np.flatnonzero(labels == SHIFT_ID)) == [
        first.decide_block,
        first.stop_block,
        second.decide_block,
        second.stop_block,
    ]


def test_pause_keeps_listening(cfg):
    vd = voiced(
        [Turn("user", "where is the city of Paris", pause_after_word=3), Turn("assistant", "Paris")],
        {"t0": 0.9, "t0p1": 0.9, "t1": 1.0},
        task="pause",
    )
    tl, labels = run(vd, cfg)
    pause = next(e for e in tl.events if e.kind == "pause")
    assert pause.time == pytest.approx(1.3) and pause.detail["duration"] == pytest.approx(1.0)
    # no <shift> before the second half ends at 1.3 + 1.0 + 0.9 = 3.2 s
    assert tl.spans[0].decide_block * 0.08 >= 3.2 - 1e-9
    assert np.all(labels[: tl.spans[0].decide_block] == THINK_ID)
    assert [s.kind for s in tl.segments if s.channel == 0] == ["pause_part", "pause_part"]


def test_no_interruption_finishes(cfg):
    vd = voiced(
        [Turn("user", "where is Paris"), Turn("assistant", "Paris is the capital . " * 8)],
        {"t0": 1.2, "t1": 12.0},
        task="no_interruption",
    )
    tl, labels = run(vd, cfg)
    sp = tl.spans[0]
    assert not sp.interrupted and sp.audio_end == pytest.approx(sp.audio_start + 12.0)
    assert tl.events[-1].kind == "finish" and tl.events[-1].expect == "listen"
    assert int(np.sum(labels == SHIFT_ID)) == 2


def test_too_many_tokens_rejected(cfg):
    vd = voiced(
        [Turn("user", "where is Paris"), Turn("assistant", "Paris is the capital . " * 10)],
        {"t0": 1.2, "t1": 1.0},
    )
    tl = place(vd, cfg, np.random.default_rng(0))
    with pytest.raises(PlacementError) as e:
        label_track(tl.spans, tl.duration, cfg.block_s, TOK)
    assert e.value.reason == "too_many_tokens"


def test_barge_in_on_a_short_answer_rejected(cfg):
    ov = Overlay("barge_in", "user", "stop", 1, "stop")
    vd = voiced(
        [Turn("user", "where is Paris"), Turn("assistant", "Paris", overlays=(ov,))],
        {"t0": 1.2, "t1": 0.8, "t1o0": 0.5},
    )
    with pytest.raises(PlacementError) as e:
        place(vd, cfg, np.random.default_rng(0))
    assert e.value.reason == "answer_too_short"


def test_user_overlap_after_assistant_is_bounded():
    cfg = quiet_cfg(user_gap={"mean_s": -0.3, "sd_s": 0.0, "min_s": -0.4, "max_s": 2.5})
    vd = voiced(
        [
            Turn("user", "where is Paris"),
            Turn("assistant", "Paris is the capital ."),
            Turn("user", "and Rome"),
            Turn("assistant", "Yes"),
        ],
        {"t0": 1.2, "t1": 2.0, "t2": 0.8, "t3": 0.5},
        task="multi_turn",
    )
    tl = place(vd, cfg, np.random.default_rng(0))
    first, second = tl.spans
    u2 = next(s for s in tl.segments if s.turn == 2)
    assert u2.start == pytest.approx(first.audio_end - 0.3)  # a terminal overlap
    assert second.decide_block * 0.08 >= u2.end


def test_stop_never_lands_in_a_sentence_pause(cfg):
    """A reaction that would fall in a silence inside the answer is moved into
    voice: otherwise the audio would fall silent before the stop <shift>."""
    from tl_support import SR

    text = "Paris is the capital . " * 4
    ov = Overlay("barge_in", "user", "stop please", 8, "stop")
    vd = voiced(
        [Turn("user", "where is Paris"), Turn("assistant", text, overlays=(ov,))],
        {"t0": 1.2, "t1": 6.0, "t1o0": 0.6},
    )
    audio = vd.utterances["t1"].audio.copy()
    audio[int(2.8 * SR) : int(4.0 * SR)] = 0.0  # a 1.2 s pause where the stop would land
    vd.utterances["t1"] = type(vd.utterances["t1"])(**{**vd.utterances["t1"].__dict__, "audio": audio})
    tl, labels = run(vd, cfg)
    keep = tl.spans[0].stop_block * 0.08 - tl.spans[0].audio_start
    assert keep >= 4.0 + 0.16 - 1e-9  # two blocks into the voice after the pause
    barge = next(e for e in tl.events if e.kind == "barge_in")
    assert tl.spans[0].stop_block == int(np.ceil((barge.time + 0.6 + cfg.reaction_s) / 0.08 - 1e-9))


def test_shifts_follow_audible_voice_not_file_edges(cfg):
    """A quiet lead-in and tail (below the voice threshold) do not move the labels."""
    from tl_support import SR

    vd = voiced(
        [Turn("user", "where is Paris"), Turn("assistant", "Paris is the capital .")], {"t0": 1.2, "t1": 2.0}
    )
    u = vd.utterances["t1"]
    quiet = np.full(int(0.4 * SR), 1e-4, dtype=np.float32)  # about -80 dBFS
    vd.utterances["t1"] = type(u)(**{**u.__dict__, "audio": np.concatenate([quiet, u.audio, quiet])})
    tl, labels = run(vd, cfg)
    span = tl.spans[0]
    assert span.decide_block == 24
    assert span.audio_start == pytest.approx(2.24 - 0.4)  # the file starts early; the voice on time
    assert span.stop_block == 53  # the voice still ends at 4.24 s
