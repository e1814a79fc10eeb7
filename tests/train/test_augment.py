"""Late decisions: the track waits, the targets say "now" at every block it waited.
Early reactions: a barge-in's stop is taught at every block after `from_s` of it."""

import numpy as np

from datagen.text.tokenizer import SHIFT_ID, THINK_ID
from datagen.train.common.tracks import SpeakSpan, render, spans_of
from datagen.train.training.augment import IGNORE, late_decision, react_sooner


def _all(labels, interrupted, **kw):
    out = [late_decision(labels, interrupted, np.random.default_rng(i), **kw) for i in range(200)]
    return [x for x in out if x is not None]


def test_a_late_speak_is_relabelled_now_at_every_waiting_block():
    gold = render(120, [SpeakSpan(20, 60, (5, 6, 7))])
    for track, voice, targets in _all(gold, [False], max_blocks=6):
        ((speak, stop),) = [(s.speak, s.stop) for s in spans_of(track)]
        if speak == 20:
            continue  # this draw moved the stop
        assert 20 < speak <= 26 and stop == 60 + (speak - 20)  # an uninterrupted answer moves whole
        assert (track[20:speak] == THINK_ID).all()  # the fed-back track waited
        assert (targets[20 : speak + 1] == SHIFT_ID).all()  # and every waiting block learns "now"
        assert voice[0].speak == speak and voice[0].stop is None  # its voice starts late too


def test_an_answer_end_learns_nothing_from_short_silences():
    gold = render(120, [SpeakSpan(20, 60, (5, 6, 7))])
    seen = 0
    for track, _, targets in _all(gold, [False], max_blocks=8, min_finish_blocks=4):
        stop = spans_of(track)[0].stop
        if spans_of(track)[0].speak != 20:
            continue
        seen += 1
        assert 64 <= stop <= 68 and targets[60] == SHIFT_ID
        assert (targets[61:64] == IGNORE).all() and (targets[64 : stop + 1] == SHIFT_ID).all()
    assert seen > 10


def test_a_cue_stop_is_the_decision_moved_and_learned_after_its_own_wait():
    gold = render(200, [SpeakSpan(20, 32, (5,)), SpeakSpan(120, 180, (6, 7))])  # a cue, then the answer
    seen = 0
    kw = dict(max_blocks=8, min_finish_blocks=6, cue_stops=[0], cue_finish_blocks=3)
    for track, voice, targets in _all(gold, [False, False], **kw):
        cue, answer = spans_of(track)
        assert cue.speak == 20 and (answer.speak, answer.stop) == (120, 180)  # only the cue's stop moves
        assert 35 <= cue.stop <= 40 and voice[0].stop is None  # its audio plays out, then silence
        assert targets[32] == SHIFT_ID  # the gold stop, at the cue's last voiced block, stays
        # the cue's wait, not the answer's: a pause inside "uh-huh, yeah" teaches nothing
        assert (targets[33:35] == IGNORE).all() and (targets[35 : cue.stop + 1] == SHIFT_ID).all()
        assert (targets == IGNORE).sum() == 2
        seen += 1
    assert seen == 200
    no_wait = _all(gold, [False, False], **(kw | {"cue_finish_blocks": 1}))
    for tr, _, t in no_wait:  # learned from the block after the audio, as before the wait
        assert not (t == IGNORE).any() and (t[32 : spans_of(tr)[0].stop + 1] == SHIFT_ID).all()


def test_a_reaction_stays_put_when_the_answer_starts_late():
    gold = render(120, [SpeakSpan(20, 60, (5,)), SpeakSpan(70, 100, (6,))])
    for track, voice, _ in _all(gold, [True, False], max_blocks=5):
        spans = spans_of(track)
        if spans[0].speak != 20:
            assert spans[0].stop == 60 and voice[0].stop == 60  # the barge-in did not move
        assert spans[0].stop < spans[1].speak  # never runs into the next turn


def _overlay(kind, start_s, end_s, expect):
    return {"kind": kind, "time": start_s, "expect": expect, "detail": {"end": end_s}}


def test_a_barge_in_stop_is_taught_from_from_s_after_its_onset():
    gold = render(120, [SpeakSpan(20, 60, (5, 6, 7))])  # barge-in at 3.6 s, stop at block 60
    events = [_overlay("barge_in", 3.6, 4.6, "stop")]
    targets = react_sooner(gold, gold.copy(), events, 0.08, from_s=0.72)
    first = int(np.ceil((3.6 + 0.72) / 0.08))  # block 54
    assert (targets[first:61] == SHIFT_ID).all()
    assert (targets[:first] == gold[:first]).all() and (targets[61:] == gold[61:]).all()


def test_other_overlays_and_ignored_blocks_keep_their_targets():
    gold = render(120, [SpeakSpan(20, 60, (5, 6, 7))])
    keep = [_overlay("backchannel", 3.6, 4.0, "continue"), _overlay("related_question", 3.0, 4.5, "stop")]
    assert (react_sooner(gold, gold.copy(), keep, 0.08, from_s=0.3) == gold).all()
    base = gold.copy()
    base[56] = IGNORE  # a block nothing is learned from stays so
    targets = react_sooner(gold, base, [_overlay("barge_in", 3.6, 4.6, "stop")], 0.08, from_s=0.72)
    assert targets[56] == IGNORE and targets[55] == SHIFT_ID


def test_a_barge_in_while_listening_or_too_short_teaches_nothing_new():
    gold = render(120, [SpeakSpan(20, 60, (5,))])
    listening = [_overlay("barge_in", 6.0, 6.5, "stop")]  # after the answer ended
    assert (react_sooner(gold, gold.copy(), listening, 0.08, from_s=0.72) == gold).all()
    short = [_overlay("barge_in", 4.4, 4.6, "stop")]  # stop at 60 comes before onset + from_s
    assert (react_sooner(gold, gold.copy(), short, 0.08, from_s=0.72) == gold).all()
