"""A search's next trial, suggested when the trial starts.

Every trial of a search is suggested by the trial itself, as it starts
(``next_trial``): the DAG's trial tasks, a Kubernetes pod and the local driver
(``training.search``) all run the same ``python -m training.trial``, so a free
slot starts the next trial at once, conditioned on every trial finished by then
and with every unfinished one taken. What the suggestion needs is fixed when the
search opens (``SearchPlan``, kept on its MLflow run), so any process, on any
machine, suggests from the same plan.

Each suggestion is recorded as a pending trial run at once: a crash never loses
one, a re-run or retried trial finds its own instead of suggesting again, and a
search never holds more than ``num_trials`` trials (they are numbered 1 to
``num_trials``). Two trials suggested at the same instant do not see each other's
record: each claims the digest of its point on the search's run before recording
it, exactly one claim of a point wins, and a trial whose claim lost draws again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from training import tracking
from training.core import settings
from training.core.config import Frozen, HyperParams, SearchSettings
from training.core.errors import InputError
from training.core.records import OK, PRUNED, TrialRecord
from training.data.splits import fits_splits
from training.tracking import registry
from training.tracking.search_store import SearchStore
from training.tuning.past_trials import PastTrials
from training.tuning.space import SearchSpace

# Draws after a lost claim before a trial gives up: a clash needs two trials drawing
# the same point at the same instant, so one more draw nearly always settles it.
MAX_CLASHES = 20
# The floor: the tutorial's hand-picked configuration (train_cli.py's defaults,
# HyperParams' own), its RMSprop at Keras 2's default rate, which Keras 3 kept.
TUTORIAL = HyperParams(learning_rate=0.001)
# The portfolio: the two best configurations after 3 epochs (the nightly trial) of
# every search benchmarked on motivational.txt (59 points: benchmarks/RESULTS.md
# section 10), as measured there, the best first. Chosen on that corpus only and
# reported on realdonaldtrump.txt, which had no say in it.
PORTFOLIO = (
    HyperParams(num_layers=1, rnn_size=512, embedding_size=64, batch_size=32, seq_len=16,
                drop_rate=0.103673, clip_norm=5.0, optimizer="rmsprop",
                learning_rate=0.011952),
    HyperParams(num_layers=1, rnn_size=256, embedding_size=128, batch_size=16, seq_len=64,
                drop_rate=0.201001, clip_norm=0.0, optimizer="adam", learning_rate=0.017193),
)
# Where a seeded point came from (the tweetbot.seeded tag, the table's column).
FROM_TUTORIAL, FROM_CHAMPION, FROM_EARLIER = "tutorial", "champion", "earlier"
FROM_PORTFOLIO = "portfolio"


class NoPointLeft(InputError):
    """The space holds no point that has not been tried, taken or found unable to run."""


class SearchPlan(Frozen):
    """What suggesting any trial of a search needs, fixed when the search opens.

    ``split_bytes`` (name: size, as the splits were measured): no point whose
    batch is longer than a split (or than ``max_train_chars``) is suggested.
    ``past``: finished trials of an earlier search, learnt from like this
    search's own. ``seeded``: the first trials' points, chosen when the search
    opened (the floor: the tutorial's configuration; warm start: the champion's
    and the best of earlier searches), and ``seeded_from`` where each came from."""

    space: SearchSpace
    search: SearchSettings
    split_bytes: dict[str, int] | None = None
    max_train_chars: int | None = None
    past: PastTrials = PastTrials()
    seeded: tuple[HyperParams, ...] = ()
    seeded_from: tuple[str, ...] = ()

    def runs_here(self, hyperparams: HyperParams) -> bool:
        return self.split_bytes is None or fits_splits(hyperparams, self.split_bytes,
                                                       self.max_train_chars)


def open_search(store: SearchStore, space: SearchSpace, search: SearchSettings, *,
                split_bytes: Mapping[str, int] | None = None,
                max_train_chars: int | None = None,
                past: PastTrials | None = None) -> SearchPlan:
    """The search's plan, chosen and kept on its run the first time; the one kept
    when the search was opened before (a re-run continues the same search)."""
    kept = store.load_plan()
    if kept is not None:
        return SearchPlan.from_json(kept)
    plan = SearchPlan(space=space, search=search,
                      split_bytes=dict(split_bytes) if split_bytes is not None else None,
                      max_train_chars=max_train_chars, past=past or PastTrials())
    seeds = seeded_points(store, plan)
    plan = plan.model_copy(update={"seeded": tuple(params for params, _ in seeds),
                                   "seeded_from": tuple(origin for _, origin in seeds)})
    store.save_plan(plan.to_json())
    return plan


def seeded_points(store: SearchStore, plan: SearchPlan) -> list[tuple[HyperParams, str]]:
    """The points the search starts with, and where each came from: the floor
    (when the space holds it: a search of other models has no tutorial's to
    meet), then the warm start's, or where the search has nothing to start from (no
    warm-start points, no past trials for the sampler to learn from), the
    portfolio's (those the space holds); each once, each able to run on the splits,
    no more than the search has trials."""
    from training.tuning.sampler import point_key

    search = plan.search
    floor = search.floor and plan.space.contains(TUTORIAL)
    candidates = [(TUTORIAL, FROM_TUTORIAL)] if floor else []
    warm = warm_start_points(store, search.warm_start) if search.warm_start else []
    candidates += warm
    if search.portfolio and not warm and not plan.past.trials:
        candidates += [(params, FROM_PORTFOLIO) for params in PORTFOLIO
                       if plan.space.contains(params)]
    seeds, keys = [], set()
    for params, origin in candidates:
        key = point_key(params.to_dict())
        if key not in keys and plan.runs_here(params):
            keys.add(key)
            seeds.append((params, origin))
    return seeds[:search.num_trials]


def search_plan(store: SearchStore) -> SearchPlan:
    """The plan kept when the search opened; a search never opened in this store
    (a trial pointed at another MLflow store, say) is refused."""
    kept = store.load_plan()
    if kept is None:
        raise InputError(f"search {store.search_id} has no plan in {tracking.tracking_uri()} "
                         f"(experiment {settings.experiment_name()}): a search is opened "
                         f"(the DAG's start_search, or training.search) before its trials run")
    return SearchPlan.from_json(kept)


def next_trial(store: SearchStore, plan: SearchPlan, trial_num: int) -> TrialRecord:
    """Trial ``trial_num`` as recorded, or, the first time, suggested and recorded now."""
    record = store.find_trial(trial_num)
    if record is not None:
        return record
    if not 1 <= trial_num <= plan.search.num_trials:
        raise InputError(f"--trial-num {trial_num}: search {store.search_id} has trials "
                         f"1 to {plan.search.num_trials}")
    if trial_num <= len(plan.seeded):
        origin = plan.seeded_from[trial_num - 1] if plan.seeded_from else FROM_EARLIER
        store.create_trial(trial_num, plan.seeded[trial_num - 1], seeded=origin)
        return store.find_trial(trial_num)
    # hyperopt takes a second or two to import: only a trial to suggest pays for it.
    from training.tuning.sampler import HyperoptSampler, Observation

    space = plan.space
    records = store.trials()
    observations = [Observation(space.point_of(t.hyperparams), t.val_loss)
                    for t in plan.past.trials]
    observations += [Observation(space.point_of(r.hyperparams),
                                 r.val_loss if r.status in (OK, PRUNED) else None)
                     for r in records if r.finished]
    taken = [space.point_of(r.hyperparams) for r in records if not r.finished]
    taken += [space.point_of(params) for params in plan.seeded]
    search = plan.search
    seed = seed_for(store.search_id) if search.sampler_seed is None else search.sampler_seed
    # Its own seed per trial: trials suggesting at once, from the same history,
    # draw different points.
    sampler = HyperoptSampler(space, search.algorithm, search.n_startup_jobs,
                              (seed + trial_num) % 2**31,
                              feasible=lambda point: plan.runs_here(space.to_hyperparams(point)))
    for _ in range(MAX_CLASHES):
        points = sampler.suggest(observations, taken, 1)
        if not points:
            raise NoPointLeft(f"search {store.search_id}: the search space holds no point "
                              f"for trial {trial_num} that was not tried or taken already")
        point = points[0]
        # Claimed before it is recorded: two trials that each recorded the point and
        # then looked for the other both gave it up when both looked late, and met
        # again on the next point when the space had few left.
        if store.claim_point(_digest(point), trial_num):
            store.create_trial(trial_num, space.to_hyperparams(point))
            return store.find_trial(trial_num)
        taken.append(point)
    raise NoPointLeft(f"search {store.search_id}: trial {trial_num} drew a point another "
                      f"trial took at the same instant {MAX_CLASHES} times")


def warm_start_points(store: SearchStore, limit: int) -> list[tuple[HyperParams, str]]:
    """The champion's params, then the best ok trials of earlier searches, each
    with where it came from."""
    from training.tuning.sampler import point_key

    champion = registry.champion_params()
    points = [(champion, FROM_CHAMPION)] if champion is not None else []
    # Earlier searches often found the same point more than once: ask for spares.
    for params in store.best_trials_elsewhere(limit * 4):
        if all(point_key(params.to_dict()) != point_key(p.to_dict()) for p, _ in points):
            points.append((params, FROM_EARLIER))
    return points[:limit + (champion is not None)]


def seed_for(search_id: str) -> int:
    """The sampler's seed when none is given: the search id's, so a search
    re-run draws its own points again and tonight's search differs from last
    night's."""
    return int.from_bytes(hashlib.sha256(search_id.encode()).digest()[:4], "big") >> 1


def _digest(point: Mapping) -> str:
    from training.tuning.sampler import point_key

    return hashlib.sha256(repr(point_key(point)).encode()).hexdigest()[:32]
