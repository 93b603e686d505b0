"""Early stopping across trials: stop a trial that is losing to the others.

Both rules judge a trial by its best val_loss so far (the tuning playbook's
"judge a trial by its best checkpoint"), against other trials of the same search
at the same epoch, read from MLflow. A stopped trial is recorded as ``pruned``,
not failed: its numbers are real, just not worth more GPU time.

- ``median`` (Katib's medianstop, Optuna's MedianPruner): after epoch ``e``,
  stop if the trial's best is worse than the median of the other trials' bests
  up to epoch ``e``, once at least ``min_trials`` others reached epoch ``e``.
- ``halving`` (asynchronous successive halving, as in ASHA): at the rungs
  ``min_epochs * reduction_factor**k``, only the top ``1/reduction_factor`` of
  the trials that reached the rung go on. A rung needs room above it, at least
  ``reduction_factor`` times its epochs within the trial's budget (ASHA's top
  rung is the budget itself): with 10 epochs the rungs are 1 and 3, not 9 too,
  where a trial one epoch from its end would be thrown away.

Apart from both, ``prune_at_chance`` stops a trial that after an epoch is no
better than the uniform guess over the vocabulary: it needs no peers, so a dead
trial (an optimizer whose learning rate is far too small, say) stops after its
first epoch even in a search's first round, when nobody could outvote it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from training.core.config import PruningSettings

# How close to the uniform guess's loss a trial may be and still count as dead:
# a model that learned only character frequencies is far below it (about 3 nats
# for tweets against ln 98 = 4.585), so 1 % cannot catch a learning trial.
CHANCE_MARGIN = 0.01


def chance_loss(vocab_size: int) -> float:
    """Cross-entropy in nats of guessing every character with equal probability."""
    return math.log(vocab_size)


def at_chance(own: Sequence[float], vocab_size: int) -> bool:
    """No epoch so far is better than the uniform guess (within CHANCE_MARGIN)."""
    return bool(own) and min(own) >= chance_loss(vocab_size) * (1 - CHANCE_MARGIN)


def should_prune(own: Sequence[float], others: Sequence[Sequence[float]],
                 settings: PruningSettings, vocab_size: int | None = None,
                 max_epochs: int | None = None) -> bool:
    """``own`` and each of ``others`` are val_loss by epoch, epoch 1 first;
    ``vocab_size`` enables the chance rule (with ``prune_at_chance``);
    ``max_epochs``, the trial's budget, bounds the halving rule's rungs."""
    if settings.prune_at_chance and vocab_size is not None and at_chance(own, vocab_size):
        return True
    epoch = len(own)
    if settings.pruning == "none" or epoch < settings.prune_min_epochs:
        return False
    peers = [min(curve[:epoch]) for curve in others if len(curve) >= epoch]
    if len(peers) < settings.prune_min_trials:
        return False
    best = min(own)
    if settings.pruning == "median":
        return best > statistics.median(peers)
    if not _is_rung(epoch, settings, max_epochs):
        return False
    keep = max(1, math.ceil((len(peers) + 1) / settings.reduction_factor))
    return sum(peer < best for peer in peers) >= keep


def _is_rung(epoch: int, settings: PruningSettings, max_epochs: int | None) -> bool:
    rung = settings.prune_min_epochs
    while rung < epoch:
        rung *= settings.reduction_factor
    room = max_epochs is None or rung * settings.reduction_factor <= max_epochs
    return rung == epoch and room
