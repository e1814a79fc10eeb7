"""The bench's noisy rows are the median of back-to-back pairs (bench/__main__.py)."""

import pytest

from bench.__main__ import median_pair


def test_median_pair_picks_the_pair_with_the_median_ratio():
    pairs = [(46.0, 38.0), (42.6, 43.0), (50.0, 40.0)]  # ratios 1.21, 0.99, 1.25
    assert median_pair(pairs) == 0
    assert median_pair([(1.0, 1.0)]) == 0
    # An even count takes the lower middle ratio: a figure is always one pair's own,
    # never an average of two runs.
    assert median_pair([(4.0, 1.0), (1.0, 1.0), (3.0, 1.0), (2.0, 1.0)]) == 3


def test_median_pair_refuses_no_pairs():
    with pytest.raises(ValueError):
        median_pair([])
