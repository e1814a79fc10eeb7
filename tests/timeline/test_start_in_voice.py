"""A barge-in's stop must land in the assistant's voice; when sliding later runs off
the answer, an earlier start is searched for before the dialogue is rejected."""

from datagen.timeline.place import _ceil_block, into_voice, start_in_voice

BLOCK = 0.08


def test_finds_the_latest_start_whose_stop_lands_in_voice():
    runs = [(0.0, 2.0), (2.9, 4.0)]  # a sentence pause from 2.0 to 2.9 s of the answer
    audio_start, lag = 5.0, 1.16
    o_start = start_in_voice(runs, audio_start, earliest=5.5, latest=7.5, lag=lag, block=BLOCK)
    assert o_start is not None and 5.5 <= o_start <= 7.5
    stop = _ceil_block(o_start + lag, BLOCK) * BLOCK
    assert into_voice(runs, stop - audio_start, 2 * BLOCK) == 0.0
    # nothing later fits: one block later the stop leaves the last run it can reach
    later = start_in_voice(runs, audio_start, earliest=o_start + 1e-6, latest=7.5, lag=lag, block=BLOCK)
    assert later is None


def test_none_when_the_answer_is_too_short():
    assert start_in_voice([(0.0, 0.5)], 5.0, earliest=5.5, latest=5.6, lag=1.16, block=BLOCK) is None
