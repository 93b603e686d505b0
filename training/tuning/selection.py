"""Choose the trial to train the base model with, and write down why.

A practitioner does not simply take the lowest val_loss: the tutorial's author
picked the trial ranked ninth by loss because it trained five times faster per
epoch. The default policy says that exactly:

    fastest-within (tolerance t, default 5 %):
        best      = the lowest val_loss among trials with status ok
        eligible  = ok trials with val_loss <= best * (1 + t)
        chosen    = the eligible trial with the lowest avg_epoch_seconds
                    (ties: lower val_loss, then lower trial number)

    lowest-val-loss:  the ok trial with the lowest val_loss.

    weighted (weight w, default 0.5):
        score = val_loss / best + w * avg_epoch_seconds / fastest
        chosen = the ok trial with the lowest score

Pruned and failed trials are never chosen (a pruned trial did not finish its
training). Selection fails only if no trial finished ok.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from training.core.config import SelectionPolicy
from training.core.records import OK, TrialRecord


class NoTrialSucceeded(RuntimeError):
    """Every trial failed or was pruned: nothing to select."""


@dataclass(frozen=True)
class Selection:
    trial: TrialRecord
    reason: str


def select(trials: Sequence[TrialRecord], policy: SelectionPolicy) -> Selection:
    candidates = [t for t in trials if t.status == OK and t.val_loss is not None
                  and t.avg_epoch_seconds is not None]
    if not candidates:
        raise NoTrialSucceeded(f"none of {len(trials)} trials finished ok")
    best = min(candidates, key=lambda t: (t.val_loss, t.trial_num))
    if policy.policy == "lowest-val-loss":
        return Selection(best, f"trial {best.trial_num} has the lowest val_loss "
                               f"({best.val_loss:.4f})")
    if policy.policy == "fastest-within":
        limit = best.val_loss * (1 + policy.tolerance)
        eligible = [t for t in candidates if t.val_loss <= limit]
        chosen = min(eligible, key=lambda t: (t.avg_epoch_seconds, t.val_loss, t.trial_num))
        if chosen is best:
            reason = (f"trial {chosen.trial_num} has the lowest val_loss "
                      f"({chosen.val_loss:.4f}) and is the fastest of the "
                      f"{len(eligible)} trial(s) within {policy.tolerance:.0%} of it")
        else:
            reason = (f"trial {chosen.trial_num} (val_loss {chosen.val_loss:.4f}, "
                      f"{chosen.avg_epoch_seconds:.2f} s/epoch) is the fastest of the "
                      f"{len(eligible)} trials within {policy.tolerance:.0%} of the best "
                      f"val_loss {best.val_loss:.4f} (trial {best.trial_num}, "
                      f"{best.avg_epoch_seconds:.2f} s/epoch): "
                      f"{best.avg_epoch_seconds / chosen.avg_epoch_seconds:.1f}x faster")
        return Selection(chosen, reason)
    fastest = min(t.avg_epoch_seconds for t in candidates)
    scores = {t.trial_num: t.val_loss / best.val_loss
              + policy.weight * t.avg_epoch_seconds / max(fastest, 1e-9)
              for t in candidates}
    chosen = min(candidates, key=lambda t: (scores[t.trial_num], t.trial_num))
    return Selection(chosen, f"trial {chosen.trial_num} has the lowest score "
                             f"{scores[chosen.trial_num]:.3f} = val_loss/best + "
                             f"{policy.weight} x epoch_seconds/fastest")


def rank(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """By val_loss, lowest first; trials without one (failed, pending) last."""
    return sorted(trials, key=lambda t: (t.val_loss is None,
                                         math.inf if t.val_loss is None else t.val_loss,
                                         t.trial_num))


def pareto_front(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Ok trials no other ok trial beats on both val_loss and epoch time."""
    points = [t for t in trials if t.status == OK and t.val_loss is not None
              and t.avg_epoch_seconds is not None]
    front = [t for t in points if not any(
        o.val_loss <= t.val_loss and o.avg_epoch_seconds <= t.avg_epoch_seconds
        and (o.val_loss, o.avg_epoch_seconds) != (t.val_loss, t.avg_epoch_seconds)
        for o in points)]
    return sorted(front, key=lambda t: t.avg_epoch_seconds)
