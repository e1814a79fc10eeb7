"""Exact-number checks of the IPU/pause/gap/overlap definitions on hand-made intervals."""

import pytest

from datagen.report.turntaking import empty_stats, ipus, median, merge_stats, normalise_to_turns, turn_stats


def test_ipus_merge_short_silences_and_keep_200ms_ones():
    # 0.1 s silence merges; exactly 0.2 s separates; unsorted and touching input; empty interval dropped
    spans = [(3.0, 4.0), (0.0, 1.0), (1.1, 2.0), (2.2, 2.5), (2.5, 2.8), (5.0, 5.0)]
    assert ipus(spans) == [(0.0, 2.0), (2.2, 2.8), (3.0, 4.0)]
    assert ipus(spans, min_silence=0.5) == [(0.0, 4.0)]
    assert ipus([]) == []


def test_ipus_overlapping_intervals_of_one_speaker():
    assert ipus([(0.0, 2.0), (0.5, 1.0), (1.5, 3.0)]) == [(0.0, 3.0)]


def test_gap_and_pause_and_ipus():
    # A speaks, pauses 0.5 s, speaks; B answers after a 0.3 s gap; A follows after 0.4 s gap.
    stats = turn_stats({"A": [(1.0, 2.0), (2.5, 3.0)], "B": [(3.3, 6.3)], "C": []}, duration=12.0)
    assert stats["counts"] == {"ipu": 3, "pause": 1, "gap": 1, "overlap": 0}
    assert stats["seconds"]["ipu"] == pytest.approx(4.5)
    assert stats["durations"]["pause"] == [pytest.approx(0.5)]
    assert stats["durations"]["gap"] == [pytest.approx(0.3)]
    # leading (1 s) and trailing (5.7 s) silence is neither pause nor gap
    assert stats["per_minute"]["ipu"]["count"] == pytest.approx(15.0)
    assert stats["per_minute"]["ipu"]["seconds"] == pytest.approx(22.5)
    assert stats["per_minute"]["gap"]["seconds"] == pytest.approx(1.5)
    assert stats["turns"] == 2.0


def test_short_silence_within_speaker_is_no_pause_but_short_gap_counts():
    stats = turn_stats({"A": [(0.0, 1.0), (1.1, 2.0)], "B": [(2.05, 3.0)]}, duration=3.0)
    assert stats["counts"] == {"ipu": 2, "pause": 0, "gap": 1, "overlap": 0}
    assert stats["durations"]["gap"] == [pytest.approx(0.05)]


def test_backchannel_inside_a_turn_is_a_within_overlap():
    # B says "uh-huh" while A talks: one overlap, no floor change, A's IPU not split.
    stats = turn_stats({"A": [(0.0, 5.0)], "B": [(2.0, 2.4)]}, duration=5.0)
    assert stats["counts"] == {"ipu": 2, "pause": 0, "gap": 0, "overlap": 1}
    assert stats["seconds"]["overlap"] == pytest.approx(0.4)
    assert (stats["overlaps_within"], stats["overlaps_between"]) == (1, 0)
    assert stats["turns"] == 1.0


def test_barge_in_is_a_between_overlap():
    # A talks, B barges in at 3.0, A stops 0.15 s later, B keeps the floor.
    stats = turn_stats({"A": [(0.0, 3.15)], "B": [(3.0, 4.0)]}, duration=4.0)
    assert stats["durations"]["overlap"] == [pytest.approx(0.15)]
    assert (stats["overlaps_within"], stats["overlaps_between"]) == (0, 1)
    assert stats["turns"] == 2.0


def test_backchannel_in_a_pause_splits_it_into_two_gaps():
    stats = turn_stats({"A": [(0.0, 2.0), (3.0, 4.0)], "B": [(2.2, 2.5)]}, duration=4.0)
    assert stats["counts"]["pause"] == 0
    assert stats["durations"]["gap"] == [pytest.approx(0.2), pytest.approx(0.5)]


def test_zero_gap_floor_change_and_three_speakers():
    stats = turn_stats({"A": [(0.0, 1.0)], "B": [(1.0, 2.0)], "C": [(1.5, 2.5), (2.6, 3.0)]}, duration=3.0)
    # A->B with no silence is a 0 s gap; B/C overlap 0.5 s is a floor change; C's 0.1 s silence merges
    assert stats["durations"]["gap"] == [0.0]
    assert stats["durations"]["overlap"] == [pytest.approx(0.5)]
    assert stats["counts"]["ipu"] == 3
    assert stats["turns"] == 3.0


def test_simultaneous_start_after_silence():
    stats = turn_stats({"A": [(0.0, 1.0), (2.0, 3.0)], "B": [(2.0, 2.5)]}, duration=3.0)
    # silence 1.0-2.0 is a pause (A both sides, B also starts); overlap 2.0-2.5 within A's IPU
    assert stats["durations"]["pause"] == [pytest.approx(1.0)]
    assert stats["durations"]["overlap"] == [pytest.approx(0.5)]
    assert stats["overlaps_within"] == 1


def test_merge_and_normalise():
    one = turn_stats({"A": [(0.0, 1.0)], "B": [(1.5, 3.0)]}, duration=30.0, turns=1)
    two = turn_stats({"A": [(0.0, 2.0), (2.5, 4.0)], "B": [(4.2, 6.0)]}, duration=30.0, turns=1)
    total = merge_stats([one, two])
    assert total["duration"] == 60.0 and total["turns"] == 2.0
    assert total["counts"] == {"ipu": 5, "pause": 1, "gap": 2, "overlap": 0}
    assert total["per_minute"]["ipu"]["seconds"] == pytest.approx(1.0 + 1.5 + 2.0 + 1.5 + 1.8)
    five = normalise_to_turns(total, turns=5)
    assert five["ipu"]["seconds"] == pytest.approx(7.8 * 2.5)
    assert five["gap"]["count"] == pytest.approx(5.0)
    assert five["gap"]["seconds"] == pytest.approx((0.5 + 0.2) * 2.5)


def test_empty_inputs():
    stats = turn_stats({}, duration=0.0)
    assert stats["counts"] == {"ipu": 0, "pause": 0, "gap": 0, "overlap": 0}
    assert stats["per_minute"]["ipu"]["count"] == 0.0
    assert normalise_to_turns(empty_stats())["ipu"]["seconds"] == 0.0
    assert merge_stats([])["duration"] == 0.0


def test_median():
    assert median([]) is None
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
