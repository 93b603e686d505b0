"""Propose a search's next trials from what MLflow holds of it.

Called once per round by the DAG (``suggest_r*``) and whenever a slot frees up
by the local driver (``training.search``). Each suggestion is recorded as a
pending trial run at once, so a crash never loses one and a re-run never
duplicates one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from training.core.config import HyperParams, SearchSettings
from training.core.records import OK, PRUNED
from training.data.splits import fits_splits
from training.tracking import registry
from training.tracking.search_store import SearchStore
from training.tuning.past_trials import PastTrials
from training.tuning.space import SearchSpace


def suggest_trials(store: SearchStore, space: SearchSpace, search: SearchSettings,
                   k: int, round_index: int | None = None, *,
                   split_bytes: Mapping[str, int] | None = None,
                   max_train_chars: int | None = None,
                   past: PastTrials | None = None) -> list[tuple[int, HyperParams]]:
    """Record up to ``k`` new trials (status pending) and return them;
    ``round_index``: the DAG round suggesting them.

    Conditioned on every finished trial of the search as MLflow holds it;
    unfinished ones count as pending. Never exceeds ``num_trials`` in total.
    ``split_bytes`` (name: size, as ``validate_splits`` measured them): no point
    whose batch is longer than a split is suggested, warm starts included.
    ``past``: finished trials of an earlier search (``past_trials``), learnt
    from like this search's own.
    """
    records = store.trials()
    k = min(k, search.num_trials - len(records))
    if k <= 0:
        return []
    # hyperopt takes seconds to import; a round with nothing left to suggest skips it.
    from training.tuning.sampler import HyperoptSampler, Observation

    def runs_here(params: HyperParams) -> bool:
        return split_bytes is None or fits_splits(params, split_bytes, max_train_chars)

    observations = [Observation(space.point_of(t.hyperparams), t.val_loss)
                    for t in (past.trials if past else ())]
    observations += [Observation(space.point_of(r.hyperparams),
                                 r.val_loss if r.status in (OK, PRUNED) else None)
                     for r in records if r.finished]
    taken = [space.point_of(r.hyperparams) for r in records if not r.finished]
    chosen: list[HyperParams] = []
    if not records and search.warm_start:
        chosen = [params for params in warm_start_points(store, search.warm_start)
                  if runs_here(params)][:k]
        taken += [space.point_of(params) for params in chosen]
    seed = search.sampler_seed
    sampler = HyperoptSampler(space, search.algorithm, search.n_startup_jobs,
                              seed_for(store.search_id) if seed is None else seed,
                              feasible=lambda point: runs_here(space.to_hyperparams(point)))
    points = sampler.suggest(observations, taken, k - len(chosen))
    chosen += [space.to_hyperparams(point) for point in points]
    first = max((r.trial_num for r in records), default=0) + 1
    trials = list(enumerate(chosen, start=first))
    for trial_num, params in trials:
        store.create_trial(trial_num, params, round_index)
    return trials


def warm_start_points(store: SearchStore, limit: int) -> list[HyperParams]:
    """The champion's params, then the best ok trials of earlier searches."""
    from training.tuning.sampler import point_key

    champion = registry.champion_params()
    points = [champion] if champion is not None else []
    # Earlier searches often found the same point more than once: ask for spares.
    for params in store.best_trials_elsewhere(limit * 4):
        if all(point_key(params.to_dict()) != point_key(p.to_dict()) for p in points):
            points.append(params)
    return points[:limit + (champion is not None)]


def seed_for(search_id: str) -> int:
    """The sampler's seed when none is given: the search id's, so a search
    re-run draws its own points again and tonight's search differs from last
    night's."""
    return int.from_bytes(hashlib.sha256(search_id.encode()).digest()[:4], "big") >> 1
