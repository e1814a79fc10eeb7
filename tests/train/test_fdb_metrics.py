"""FDB's definitions (datagen/train/judging/fdb_metrics.py) on hand-made outputs, number by number
against v1_v1.5/evaluation's rules: take-turn, latency, crop, merge, overlaps, response gaps."""

from datagen.train.judging import fdb_metrics as fdb


def w(*spans):
    return [{"text": "x", "timestamp": [a, b]} for a, b in spans]


def test_take_turn_and_latency():
    assert fdb.tor([]) == 0
    assert fdb.tor(w((1.0, 1.5))) == 0  # one short word
    assert fdb.tor(w((1.0, 1.2), (1.2, 1.4), (1.4, 1.6), (1.6, 1.8))) == 1  # four words under 1 s
    assert fdb.tor(w((1.0, 1.5), (1.6, 2.0))) == 1  # two words over 1 s
    assert fdb.latency(w((3.0, 3.5), (3.6, 4.5)), 2.5) == 0.5
    assert fdb.latency(w((2.0, 3.5)), 2.5) == 0.0  # a cut-in counts as 0
    assert fdb.latency(w((3.0, 3.2)), 2.5) is None  # no turn, no latency
    r = fdb.user_interruption([(w((1.0, 3.0), (5.5, 7.0)), 5.0)])  # cropped at the interruption's end
    assert r == {"tor": 1.0, "latency_s": 0.5, "n": 1}
    assert fdb.pause_handling([w((1, 3)), []])["tor"] == 0.5


def test_v15_timings():
    assert fdb.merge([(0, 1), (1.4, 2), (3, 4)], 0.5) == [(0, 2), (3, 4)]
    user, model = [(2.0, 3.0)], [(0.0, 2.4), (3.5, 6.0)]
    assert fdb.stop_latencies(user, model) == [0.4]  # talked 0.4 s over the user
    assert fdb.response_latencies(user, model) == [0.5]
    # two user stretches before one model start: the later end is kept
    assert fdb.response_latencies([(0, 1), (2, 3)], [(4, 5)]) == [1.0]
    t = fdb.timings([(2.0, 2.5), (2.8, 3.0)], [(0.0, 2.2), (2.5, 2.5)])
    assert t["stop"] == [0.5] and t["response"] == []  # both merged: one overlap, 2.0-2.5
