"""The exact-match threshold's choice (lab.exact_match), on made-up score distributions."""

from __future__ import annotations

import numpy as np

from lab.exact_match import choose_exact_threshold


def test_the_lowest_threshold_within_both_limits_is_chosen() -> None:
    right = np.ones(100, bool)
    right[:4] = False  # four wrong best matches among photos of products sold, scored 0.80–0.83
    listed = np.concatenate([[0.80, 0.81, 0.82, 0.83], np.linspace(0.85, 1.05, 96)])
    unlisted = np.linspace(0.60, 0.95, 100)  # photos of products not sold
    t = choose_exact_threshold(listed, right, unlisted, 0.01, 0.05)
    assert np.mean(unlisted >= t) <= 0.05 and np.mean(~right & (listed >= t)) <= 0.01
    assert np.mean(unlisted >= t - 0.002) > 0.05  # and not higher than it needs to be
    # A stricter limit for products not sold moves it up.
    assert choose_exact_threshold(listed, right, unlisted, 0.01, 0.0) > 0.95
