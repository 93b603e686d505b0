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
  the trials that reached the rung go on.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from training.config import PruningSettings


def should_prune(own: Sequence[float], others: Sequence[Sequence[float]],
                 settings: PruningSettings) -> bool:
    """``own`` and each of ``others`` are val_loss by epoch, epoch 1 first."""
    epoch = len(own)
    if settings.pruning == "none" or epoch < settings.prune_min_epochs:
        return False
    peers = [min(curve[:epoch]) for curve in others if len(curve) >= epoch]
    if len(peers) < settings.prune_min_trials:
        return False
    best = min(own)
    if settings.pruning == "median":
        return best > statistics.median(peers)
    if not _is_rung(epoch, settings):
        return False
    keep = max(1, math.ceil((len(peers) + 1) / settings.reduction_factor))
    return sum(peer < best for peer in peers) >= keep


def _is_rung(epoch: int, settings: PruningSettings) -> bool:
    rung = settings.prune_min_epochs
    while rung < epoch:
        rung *= settings.reduction_factor
    return rung == epoch
