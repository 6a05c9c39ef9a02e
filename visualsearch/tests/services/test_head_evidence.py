"""Activation needs evidence (visualsearch.services.head_evidence): a paired bootstrap on the
held-out queries' own figures, a minimum count, and no headline figure falling beyond its noise.
Per-query figures are made here with known differences (no database, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from visualsearch.services.head_evidence import head_decide, paired_bootstrap


def figures(n: int, p5: float, p1: float, colour: float, seed: int) -> dict[str, np.ndarray]:
    """Per-query figures of n queries: P@5 as shares of 5, P@1 as hits, with these means."""
    rng = np.random.default_rng(seed)
    return {
        "p5_type": rng.binomial(5, p5, n) / 5,
        "p1_type": rng.binomial(1, p1, n).astype(float),
        "p5_type_colour": rng.binomial(5, colour, n) / 5,
    }


@pytest.fixture(autouse=True)
def evidence_settings(settings):
    settings.VISUALSEARCH_HEAD_MIN_EVAL_QUERIES = 300
    settings.VISUALSEARCH_HEAD_BOOTSTRAP_SAMPLES = 1000
    settings.VISUALSEARCH_HEAD_CONFIDENCE = 0.95


def test_a_clear_gain_on_enough_queries_is_activated() -> None:
    before = figures(2000, 0.70, 0.70, 0.40, seed=1)
    after = {key: np.clip(values + 0.1, 0, 1) for key, values in before.items()}  # every query better
    evidence = paired_bootstrap(before, after)
    assert evidence.queries == 2000 and evidence.score_low > 0.15
    decision = head_decide(evidence, "the raw backbone")
    assert decision.activate and decision.reason.startswith("Activated: score")


def test_a_difference_that_is_noise_is_refused() -> None:
    # Two heads whose figures are the same distribution: what differs is chance alone.
    before, after = figures(400, 0.7, 0.7, 0.4, seed=1), figures(400, 0.7, 0.7, 0.4, seed=2)
    evidence = paired_bootstrap(before, after)
    assert evidence.score_low < 0 < evidence.score_high
    decision = head_decide(evidence, "the active head head-v1")
    assert not decision.activate
    assert "Not activated" in decision.reason and "the active head head-v1" in decision.reason
    assert "95% interval" in decision.reason


def test_below_the_minimum_the_head_is_stored_not_activated_and_says_why() -> None:
    before = figures(51, 0.70, 0.667, 0.40, seed=1)
    after = {key: np.clip(values + 0.2, 0, 1) for key, values in before.items()}
    decision = head_decide(paired_bootstrap(before, after), "the raw backbone")
    assert not decision.activate
    assert "only 51 held-out products" in decision.reason and "at least 300" in decision.reason


def test_a_headline_figure_falling_beyond_its_noise_refuses_even_a_better_score() -> None:
    before = figures(3000, 0.6, 0.8, 0.3, seed=3)
    after = dict(before)
    after["p5_type"] = np.clip(before["p5_type"] + 0.2, 0, 1)  # the score rises a lot…
    after["p1_type"] = before["p1_type"] * (np.random.default_rng(4).random(3000) > 0.2)  # …P@1 falls by ~0.16
    evidence = paired_bootstrap(before, after)
    assert evidence.score_low > 0
    decision = head_decide(evidence, "the raw backbone")
    assert not decision.activate
    assert "(P@1 type) fell from 0.79" in decision.reason and "more than its noise" in decision.reason


def test_photo_figures_are_resampled_over_the_photos() -> None:
    before = figures(500, 0.7, 0.7, 0.4, seed=5)
    rng = np.random.default_rng(6)
    photos_before = {"self_at_1": (rng.random(300) < 0.5).astype(float), "self_at_5": np.ones(300)}
    found_more = np.maximum(photos_before["self_at_1"], rng.random(300) < 0.6)
    photos_after = {"self_at_1": found_more, "self_at_5": np.ones(300)}
    evidence = paired_bootstrap(before, before, photos_before, photos_after)
    assert evidence.photos == 300 and evidence.queries == 500
    change = {c.key: c for c in evidence.changes}["self_at_1"]
    assert change.after > change.before and change.low > 0
    decision = head_decide(evidence, "the raw backbone")
    assert decision.activate and "500 held-out products and 300 photos" in decision.reason
