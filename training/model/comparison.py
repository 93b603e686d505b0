"""Is a new model better than the champion, or is its gain noise?

Both models are scored on the same test split, tweet by tweet
(``training.model.scoring``: the nats of each tweet, given all the text before
it). The gain is ``1 - CE_new / CE_champion``, the relative fall in
cross-entropy. Its sampling error comes from which tweets the test split holds,
so it is measured by a paired bootstrap over the tweets (Koehn 2004; sacrebleu's
``paired_bs``): the same resampled tweets for both models, ``RESAMPLES`` times,
with a fixed seed, so the same two models always get the same bound.

The unit is the tweet: the splitter deals out whole tweets, so the tweets of a
split are a sample of the corpus's. The LSTM's state carries from one tweet into
the next, but it is scored on the tweets in their order for both models, so what
one tweet's context lends the next is paired too. The bound is scipy's
percentile interval: the bias-corrected one needs a jackknife, one pass per
tweet, too slow for the test split of a large corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
SEED = 0
CONFIDENCE = 0.95
# Fewer tweets than this give no bound: a percentile interval of a handful of
# units says little, and the promotion falls back to saying so.
MIN_UNITS = 30
UNIT = "tweet"


@dataclass(frozen=True)
class Gain:
    """A new model's relative gain in test cross-entropy over the champion's."""

    point: float  # 1 - CE_new / CE_champion on the whole test split
    lower_bound: float | None  # one-sided CONFIDENCE lower bound; None: too few units
    units: int
    resamples: int = RESAMPLES
    seed: int = SEED
    unit: str = UNIT
    confidence: float = CONFIDENCE


def relative_gain(new: np.ndarray, champion: np.ndarray, axis: int = -1) -> np.ndarray:
    """``1 - sum(new) / sum(champion)`` along ``axis``: vectorised over resamples."""
    return 1 - np.sum(new, axis=axis) / np.sum(champion, axis=axis)


def paired_gain(new_nats: np.ndarray, champion_nats: np.ndarray,
                resamples: int = RESAMPLES, seed: int = SEED) -> Gain:
    """The gain of ``new_nats`` over ``champion_nats`` (summed nats per unit, the
    same units in the same order) and its bootstrap lower bound."""
    new, champion = np.asarray(new_nats, float), np.asarray(champion_nats, float)
    if new.shape != champion.shape:
        raise ValueError(f"the two models were scored on different units: "
                         f"{new.shape} against {champion.shape}")
    point = float(relative_gain(new, champion))
    if len(new) < MIN_UNITS:
        return Gain(point=point, lower_bound=None, units=len(new), resamples=resamples,
                    seed=seed)
    # Here, not at the top: 0.6 s for a process that never bounds. evaluate's has
    # it already (Keras' TensorFlow backend imports scipy.stats), so costs nothing.
    from scipy.stats import bootstrap

    result = bootstrap((new, champion), relative_gain, paired=True, vectorized=True,
                       n_resamples=resamples, confidence_level=CONFIDENCE,
                       alternative="greater", method="percentile",
                       rng=np.random.default_rng(seed))
    return Gain(point=point, lower_bound=float(result.confidence_interval.low),
                units=len(new), resamples=resamples, seed=seed)
