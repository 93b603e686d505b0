"""Suggest hyper-parameters from what a search has seen so far.

The interface is small on purpose: ``suggest(observations, pending, k)``. A
sampler keeps no state between calls; the caller rebuilds the observations from
MLflow each time, so a crashed or re-run search continues exactly where its
record stops. hyperopt is behind this interface because it is no longer
actively maintained: another sampler can take its place.

``HyperoptSampler`` handles hyperopt's known traps:
- TPE proposes the same point again within a batch: each proposal is added to
  the history at once as a pending trial with a pessimistic loss (the "constant
  liar"), and duplicates of anything tried, pending or proposed are re-drawn.
- TPE runs its first 20 trials at random: ``n_startup_jobs`` is ours to set, so
  a small nightly budget still reaches TPE.
- A failed trial is reported as a failure (hyperopt's ``fail`` status), never
  as a NaN or a made-up loss.
- A point that cannot run (``feasible`` says no: a batch longer than a split)
  is never proposed; it is re-drawn like a duplicate.

A conditional choice (``training.tuning.space``) becomes a nested ``hp.choice``: the
parameters of an option's sub-space are hyperopt labels of their own
(``optimizer=adam/learning_rate``), so TPE models each optimizer's learning rate
separately, as it should: 0.5 is a good rate for one and a fatal one for another.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hyperopt import JOB_STATE_DONE, STATUS_FAIL, STATUS_OK, Domain, Trials, hp, rand, tpe

from training.tuning.space import Dimension, SearchSpace, log_uniform_bounds

MAX_REDRAWS = 50


@dataclass(frozen=True)
class Observation:
    """A finished trial as a sampler sees it: its point and loss (None if failed)."""

    point: Mapping[str, Any]
    loss: float | None


def point_key(point: Mapping[str, Any]) -> tuple:
    """Identity of a point; floats rounded so a round trip through text matches."""
    return tuple(sorted((k, round(v, 6) if isinstance(v, float) else v)
                        for k, v in point.items()))


class HyperoptSampler:
    def __init__(self, space: SearchSpace, algorithm: str = "tpe",
                 n_startup_jobs: int = 5, seed: int = 0,
                 feasible: Callable[[Mapping[str, Any]], bool] | None = None):
        if algorithm not in ("tpe", "random"):
            raise ValueError(f"algorithm: {algorithm!r} is not tpe or random")
        self.space, self.seed = space, seed
        self.feasible = feasible or (lambda point: True)
        self.algorithm = (functools.partial(tpe.suggest, n_startup_jobs=n_startup_jobs)
                          if algorithm == "tpe" else rand.suggest)
        self._expressions = _expressions(space)
        # hyperopt cannot build a domain of nothing; a space with every value
        # fixed holds exactly one point, the empty one.
        self._domain = (Domain(lambda point: 0.0, self._expressions)
                        if self._expressions else None)
        self._labels = tuple(self._domain.params) if self._domain else ()

    def suggest(self, observations: Sequence[Observation],
                pending: Sequence[Mapping[str, Any]], k: int) -> list[dict[str, Any]]:
        """Up to ``k`` new points, distinct from each other and from all given."""
        trials = Trials()
        seen = set()
        finished = [o.loss for o in observations if o.loss is not None]
        # The liar's loss: as bad as the worst finished trial, so TPE steers away
        # from pending points without trusting them.
        liar = max(finished) if finished else 0.0
        for observation in observations:
            self._add(trials, observation.point, observation.loss)
            seen.add(point_key(observation.point))
        for point in pending:
            self._add(trials, point, liar)
            seen.add(point_key(point))
        rng = np.random.default_rng([self.seed, len(observations), len(pending)])
        suggestions = []
        for _ in range(k):
            point = self._draw_new(trials, seen, rng)
            if point is None:
                break  # the space holds nothing new
            suggestions.append(point)
            seen.add(point_key(point))
            self._add(trials, point, liar)
        return suggestions

    def _draw_new(self, trials: Trials, seen: set, rng) -> dict[str, Any] | None:
        if self._domain is None:
            return None if point_key({}) in seen else {}
        for attempt in range(MAX_REDRAWS):
            algorithm = self.algorithm if attempt < MAX_REDRAWS // 2 else rand.suggest
            tid = len(trials.trials)
            docs = algorithm([tid], self._domain, trials, int(rng.integers(2**31 - 1)))
            vals = {label: values[0] for label, values in docs[0]["misc"]["vals"].items()
                    if values}
            point = _point_from_vals(self.space, vals)
            key = point_key(point)
            if key in seen:
                continue
            if self.feasible(point):
                return point
            seen.add(key)  # cannot run here: never draw it again
        return None

    def _add(self, trials: Trials, point: Mapping[str, Any], loss: float | None) -> None:
        try:
            active = _vals_of(self.space, point)
        except (KeyError, ValueError, TypeError):
            return  # a point from another space (a warm start): nothing to learn from
        tid = len(trials.trials)
        # hyperopt lists every label; one of an option not chosen holds nothing.
        vals = {label: [active[label]] if label in active else [] for label in self._labels}
        misc = {"tid": tid, "cmd": ("domain_attachment", "FMinIter_Domain"),
                "workdir": None, "vals": vals,
                "idxs": {label: [tid] if values else [] for label, values in vals.items()}}
        ok = loss is not None and math.isfinite(loss)
        result = {"status": STATUS_OK, "loss": float(loss)} if ok else {"status": STATUS_FAIL}
        doc = trials.new_trial_docs([tid], [None], [result], [misc])[0]
        doc["state"] = JOB_STATE_DONE
        trials.insert_trial_docs([doc])
        trials.refresh()


def _branch_prefix(prefix: str, dimension: Dimension, option) -> str:
    return f"{prefix}{dimension.name}={option}/"


def _expressions(space: SearchSpace, prefix: str = "") -> dict[str, Any]:
    """hyperopt's expression of each dimension, sub-spaces nested in their option."""
    return {d.name: _expression(d, prefix) for d in space.dimensions}


def _expression(dimension: Dimension, prefix: str):
    label = f"{prefix}{dimension.name}"
    if dimension.kind == "choice":
        if dimension.branches:
            return hp.choice(label, [
                _expressions(branch, _branch_prefix(prefix, dimension, option))
                for option, branch in zip(dimension.values, dimension.branches, strict=True)])
        return hp.choice(label, list(dimension.values))
    if dimension.kind == "uniform":
        return hp.uniform(label, *dimension.values)
    return hp.loguniform(label, *log_uniform_bounds(dimension))


def _point_from_vals(space: SearchSpace, vals: Mapping[str, Any],
                     prefix: str = "") -> dict[str, Any]:
    """hyperopt's values (a choice as its option's index) as a point."""
    point = {}
    for dimension in space.dimensions:
        value = vals[f"{prefix}{dimension.name}"]
        if dimension.kind != "choice":
            point[dimension.name] = round(float(value), 6)
            continue
        option = point[dimension.name] = dimension.values[int(value)]
        branch = dimension.branch(option)
        if branch is not None:
            point.update(branch.fixed)
            point.update(_point_from_vals(branch, vals,
                                          _branch_prefix(prefix, dimension, option)))
    return point


def _vals_of(space: SearchSpace, point: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The inverse: hyperopt's value of each label the point sets; raises
    KeyError or ValueError for a point this space cannot produce."""
    vals = {}
    for dimension in space.dimensions:
        value = point[dimension.name]
        label = f"{prefix}{dimension.name}"
        if dimension.kind != "choice":
            vals[label] = float(value)
            continue
        keys = [point_key({"v": option}) for option in dimension.values]
        vals[label] = keys.index(point_key({"v": value}))
        option = dimension.values[vals[label]]  # as the space spells it
        branch = dimension.branch(option)
        if branch is not None:
            vals.update(_vals_of(branch, point, _branch_prefix(prefix, dimension, option)))
    return vals
