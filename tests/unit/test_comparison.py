"""The promotion gate's statistics on made-up per-tweet losses; on real models'
in tests/integration/test_promotion_gate.py."""

import numpy as np
import pytest

from training.model.comparison import MIN_UNITS, paired_gain, relative_gain


def test_the_gain_is_the_relative_fall_in_cross_entropy():
    champion, new = np.array([10.0, 20.0, 30.0]), np.array([9.0, 18.0, 27.0])
    assert relative_gain(new, champion) == pytest.approx(0.1)
    gain = paired_gain(new, champion)
    assert gain.point == pytest.approx(0.1) and gain.lower_bound is None  # too few
    assert gain.units == 3 < MIN_UNITS


def test_the_bound_is_reproducible_and_below_the_gain():
    rng = np.random.default_rng(5)
    champion = rng.gamma(40.0, 2.0, 400)
    new = champion * 0.97 + rng.normal(0.0, 3.0, 400)
    first, again = paired_gain(new, champion), paired_gain(new, champion)
    assert first == again  # a fixed seed: the same two models get the same bound
    assert first.lower_bound < first.point
    assert (first.resamples, first.seed, first.unit, first.confidence) == (
        10_000, 0, "tweet", 0.95)
    assert paired_gain(new, champion, seed=1).lower_bound != first.lower_bound


def test_pairing_sees_a_small_gain_that_the_spread_of_tweets_would_hide():
    """Tweets differ a lot in length and difficulty, a model's gain is the same
    on each: compared tweet by tweet the bound is tight."""
    rng = np.random.default_rng(6)
    champion = rng.gamma(2.0, 40.0, 500)  # a tenfold spread of per-tweet nats
    new = champion * (1 - 0.01)
    gain = paired_gain(new, champion)
    assert gain.lower_bound == pytest.approx(0.01, abs=1e-9)


def test_models_scored_on_other_units_are_refused():
    with pytest.raises(ValueError, match="different units"):
        paired_gain(np.ones(40), np.ones(41))
