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
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hyperopt import JOB_STATE_DONE, STATUS_FAIL, STATUS_OK, Domain, Trials, hp, rand, tpe

from training.space import Dimension, SearchSpace, log_uniform_bounds

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
                 n_startup_jobs: int = 5, seed: int = 0):
        if algorithm not in ("tpe", "random"):
            raise ValueError(f"algorithm: {algorithm!r} is not tpe or random")
        self.space, self.seed = space, seed
        self.algorithm = (functools.partial(tpe.suggest, n_startup_jobs=n_startup_jobs)
                          if algorithm == "tpe" else rand.suggest)
        self._expressions = {d.name: _expression(d) for d in space.dimensions}
        # hyperopt cannot build a domain of nothing; a space with every value
        # fixed holds exactly one point, the empty one.
        self._domain = (Domain(lambda point: 0.0, self._expressions)
                        if self._expressions else None)

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
            vals = {name: values[0] for name, values in docs[0]["misc"]["vals"].items()}
            point = self._point_from_vals(vals)
            if point_key(point) not in seen:
                return point
        return None

    def _add(self, trials: Trials, point: Mapping[str, Any], loss: float | None) -> None:
        try:
            vals = {name: [self._val(name, point[name])] for name in self._expressions}
        except (KeyError, ValueError, TypeError):
            return  # a point from another space (a warm start): nothing to learn from
        tid = len(trials.trials)
        misc = {"tid": tid, "cmd": ("domain_attachment", "FMinIter_Domain"),
                "workdir": None, "idxs": {name: [tid] for name in vals}, "vals": vals}
        ok = loss is not None and math.isfinite(loss)
        result = {"status": STATUS_OK, "loss": float(loss)} if ok else {"status": STATUS_FAIL}
        doc = trials.new_trial_docs([tid], [None], [result], [misc])[0]
        doc["state"] = JOB_STATE_DONE
        trials.insert_trial_docs([doc])
        trials.refresh()

    def _val(self, name: str, value):
        """hyperopt stores a choice as the index of the option."""
        dimension = next(d for d in self.space.dimensions if d.name == name)
        if dimension.kind == "choice":
            keys = [point_key({name: option}) for option in dimension.values]
            return keys.index(point_key({name: value}))
        return float(value)

    def _point_from_vals(self, vals: Mapping[str, Any]) -> dict[str, Any]:
        point = {}
        for dimension in self.space.dimensions:
            value = vals[dimension.name]
            if dimension.kind == "choice":
                point[dimension.name] = dimension.values[int(value)]
            else:
                point[dimension.name] = round(float(value), 6)
        return point


def _expression(dimension: Dimension):
    if dimension.kind == "choice":
        return hp.choice(dimension.name, list(dimension.values))
    if dimension.kind == "uniform":
        return hp.uniform(dimension.name, *dimension.values)
    return hp.loguniform(dimension.name, *log_uniform_bounds(dimension))
