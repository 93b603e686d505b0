"""The steps of one ``tweetbot_training`` DAG run, as plain functions.

The DAG file only wires these together. Each step takes and returns the small
frozen types of ``training.core.records`` (XCom carries their JSON; MLflow holds the
rest) and can run again after a crash without duplicating anything. Steps that
train return a ``Step`` - the command to run - and never know where it runs:
that is the DAGs' placement module's business. No Airflow here.

    validate_splits -> start_search -> trial x num_trials (each suggested as it
      starts, parallel at once) -> select -> base_model_step -> evaluation_step
      -> register
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from training import tracking
from training.core.config import to_arguments
from training.core.errors import InputError
from training.core.records import (
    OK,
    PENDING,
    PRUNED,
    RUNNING,
    ChosenTrial,
    Evaluation,
    NothingLeft,
    Registration,
    Step,
    Tracking,
    TrainedModel,
)
from training.data import storage
from training.data.splits import SPLIT_NAMES, check_splits
from training.data.vocab import Vocabulary
from training.pipeline.run_config import RunConfig, search_id_for
from training.pipeline.run_inputs import RunInputs
from training.pipeline.run_key import TAG_PREFIX, RunKey
from training.pipeline.trial_run import TrialSpec, trial_result
from training.tracking import registry, search_store, tags
from training.tracking.search_store import SearchStore
from training.tuning import past_trials
from training.tuning.past_trials import PastTrials
from training.tuning.report import describe, finish_search, search_params
from training.tuning.suggest import open_search


def validate_splits(params: Mapping[str, Any], dag_run_id: str,
                    published: str | None = None, *, distributed: bool = False,
                    max_trials: int | None = None) -> RunInputs | None:
    """Validate the run's parameters, check the splits and hash them; None when
    nothing changed since the champion was trained (and the run is not forced):
    the run stops there. ``published`` is where the splits update that triggered
    the run put them, if one did. ``distributed``: later steps may run on other
    machines, so the splits and the MLflow store must be where those see them.
    ``max_trials``: the most trial tasks the DAG can map (Airflow's
    ``[core] max_map_length``)."""
    config = RunConfig.from_params(params)
    if max_trials is not None and config.search.num_trials > max_trials:
        raise InputError(f"num_trials: {config.search.num_trials} is more than the "
                         f"{max_trials} trial tasks Airflow maps at most ([core] "
                         f"max_map_length)")
    location = config.data_location(published)
    store = tracking.current()
    _check_store_reachable(location, store, distributed)
    past = PastTrials()
    if config.search.past_trials:
        past = past_trials.load(config.search.past_trials, config.space)
        print(f"past_trials {config.search.past_trials}: {past.summary()}")
    local = storage.local_splits(location)
    infos = check_splits(local, config.space.smallest_batch(), Vocabulary.default(),
                         names=SPLIT_NAMES,
                         max_train_chars=config.pipeline.max_train_chars)
    data_sha256 = hashlib.sha256(json.dumps(
        {name: info.sha256 for name, info in infos.items()}, sort_keys=True).encode()).hexdigest()
    key = RunKey.of(config, data_sha256)
    # Any version trained with this key, not just the champion: a candidate that
    # lost would otherwise be trained again, and lose again, every night.
    trained = registry.version_with_tag(TAG_PREFIX, key.digest)
    if trained is not None and not config.pipeline.force:
        role = "champion" if registry.is_champion(trained) else "not promoted"
        print(f"nothing changed since v{trained.version} ({role}) was trained: the same "
              f"splits (sha256 {data_sha256[:12]}), search space, code ({key.code}) and "
              f"run parameters. Trigger with force=true to retrain anyway.")
        return None
    print(_what_changed(key, trained.version if trained is not None else None))
    return RunInputs(search_id=search_id_for(dag_run_id), data_location=location,
                     data_sha256=data_sha256, config=config, tracking=store,
                     split_bytes={name: info.num_bytes for name, info in infos.items()},
                     past_trials=past, run_key=key)


def _what_changed(key: RunKey, same_as: str | None) -> str:
    """Why this run trains, in the run's log; ``same_as``: the version trained
    with this very key (a forced run)."""
    if same_as is not None:
        return f"force=true: training again what v{same_as} was trained with"
    latest = registry.latest_version_with_tag(TAG_PREFIX)
    earlier = RunKey.from_tags(latest.tags) if latest is not None else None
    if earlier is None:
        return "no earlier version records what it was trained with: training"
    return (f"training: since v{latest.version}, " + ", ".join(key.changes_since(earlier))
            + " changed")


def _check_store_reachable(location: str, store: Tracking, distributed: bool) -> None:
    """Refuse, before any work, what would split a run's record across machines."""
    if tracking.holds_password(store.uri):
        raise InputError("MLFLOW_TRACKING_URI holds a password, which every step's "
                         "environment and XCom would copy; give it in "
                         "MLFLOW_TRACKING_PASSWORD (a server) or PGPASSWORD (a database)")
    if not distributed:
        return
    if not storage.is_s3(location):
        raise InputError(f"data_location: {location} is a folder on this machine, but "
                         f"steps run on other machines (Celery workers or pods); publish "
                         f"the splits to s3:// and set data_location or TWEETBOT_SPLITS")
    if tracking.on_this_machine(store.uri):
        raise InputError(f"MLFLOW_TRACKING_URI: {store.uri} is a store on this machine, but "
                         f"steps run on other machines (Celery workers or pods); point "
                         f"every Airflow component, and the pods' secret, at an MLflow "
                         f"server")


def _check_same_store(run: RunInputs) -> None:
    """Every step of a run records in the store its first step found; a worker set
    up for another would split the record (trials re-suggested, a search never
    closed)."""
    here = tracking.current()
    if here != run.tracking:
        raise InputError(f"this worker's MLflow store ({here.uri}, experiment "
                         f"{here.experiment}) is not this run's ({run.tracking.uri}, "
                         f"experiment {run.tracking.experiment}): give every Airflow "
                         f"component the same MLFLOW_TRACKING_URI and TWEETBOT_EXPERIMENT")


# --- the search -------------------------------------------------------------------

def start_search(run: RunInputs) -> list[Step]:
    """Open the search's run and its plan; one step per trial number, each
    suggested when it starts. Trial n waits until n - ``parallel`` of the run's
    trials have ended, so at most ``parallel`` run at once and a free slot starts
    the next one at once."""
    _check_same_store(run)
    config = run.config
    store = SearchStore(run.search_id)
    trial_fit = run.trial_fit
    store.open_parent(search_params(config.space, config.search, trial_fit,
                                    run.data_location, run.data_sha256, run.past_trials,
                                    trial_chars=config.pipeline.trial_chars),
                      run.run_key.tags() if run.run_key else None)
    open_search(store, config.space, config.search, split_bytes=run.split_bytes,
                max_train_chars=trial_fit.max_train_chars, past=run.past_trials)
    parallel = config.search.parallel
    return [TrialSpec(search_id=run.search_id, trial_num=num, data_dir=run.data_location,
                      fit=trial_fit, pruning=config.pruning)
            .step(environment=run.tracking.environment(),
                  wait_for_ended=max(0, num - parallel))
            for num in range(1, config.search.num_trials + 1)]


def trial_label(result: Mapping[str, Any]) -> str:
    """How the Airflow UI names a trial task once its trial is known."""
    outcome = trial_result(result)
    if isinstance(outcome, NothingLeft):
        return f"trial {outcome.trial_num}: nothing left to try"
    seeded = f" [{outcome.seeded}]" if outcome.seeded else ""
    return f"trial {outcome.trial_num}{seeded}: {describe(outcome.hyperparams)}"


def _fail_unfinished(store: SearchStore) -> None:
    """Fail the trials whose task has ended without a result, once every trial
    task has ended: one that started (a pod killed again and again, a worker
    lost) and one suggested but never started."""
    for record in store.trials():
        if record.status == RUNNING:
            store.mark_failed(record.trial_num, "its task ended without reporting a result")
        elif record.status == PENDING:
            store.mark_failed(record.trial_num,
                              "its task ended before the trial started; see that task's log")


def select(run: RunInputs) -> ChosenTrial:
    _check_same_store(run)
    store = SearchStore(run.search_id)
    _fail_unfinished(store)
    selection = finish_search(store, run.config.policy, run.trial_fit.num_epochs)
    chosen = selection.trial
    reported = [t.run_id for t in store.trials() if t.status in (OK, PRUNED)]
    return ChosenTrial(run_id=store.find_parent().info.run_id, trial_num=chosen.trial_num,
                       trial_run_id=chosen.run_id, hyperparams=chosen.hyperparams,
                       val_loss=chosen.val_loss, reason=selection.reason,
                       experiment_id=store.experiment_id, trial_run_ids=tuple(reported))


# --- the base model ---------------------------------------------------------------

def base_model_step(run: RunInputs, chosen: ChosenTrial, dag_run_id: str) -> Step:
    """``python -m training.train``: chosen params, full train split, resumable
    from its checkpoint when the task is retried."""
    lineage = {tags.DAG_RUN_ID: dag_run_id, tags.SEARCH_ID: run.search_id,
               tags.SEARCH_RUN_ID: chosen.search_run_id,
               tags.CHOSEN_TRIAL_RUN_ID: chosen.trial_run_id,
               tags.DATA_SHA256: run.data_sha256}
    arguments = ["--data-dir", run.data_location, "--resume", "--log-model",
                 "--run-name", f"base-{run.search_id}",
                 *to_arguments(run.config.base_model_fit), *to_arguments(chosen.hyperparams)]
    for key, value in lineage.items():
        arguments += ["--tag", f"{key}={value}"]
    return Step(module="training.train", arguments=tuple(arguments), folder=run.search_id,
                name="base", label="base model", checkpoint=True,
                environment=run.tracking.environment())


def evaluation_step(run: RunInputs, trained: TrainedModel) -> Step:
    return Step(module="training.evaluate", folder=run.search_id, name="evaluation",
                arguments=("--run-id", trained.run_id, "--data-dir", run.data_location),
                label="evaluation", environment=run.tracking.environment())


def register(run: RunInputs, chosen: ChosenTrial, trained: TrainedModel,
             evaluation: Evaluation, dag_run_id: str) -> Registration:
    """New version with alias ``candidate``; ``champion`` only if it is better."""
    _check_same_store(run)
    if not trained.model_uri:
        raise RuntimeError(f"training run {trained.run_id} logged no model")
    night = search_store.night_cost(chosen.search_run_id, trained.run_id)
    version_tags = {tags.DAG_RUN_ID: dag_run_id, tags.DATA_SHA256: run.data_sha256,
                    tags.SEARCH_RUN_ID: chosen.search_run_id, tags.SEARCH_ID: run.search_id,
                    tags.ACCELERATOR_SECONDS: f"{night.accelerator_seconds:.1f}",
                    tags.WALL_SECONDS: f"{night.wall_seconds:.1f}",
                    **(run.run_key.tags() if run.run_key else {})}
    registration = registry.register_evaluated(
        trained.run_id, trained.model_uri, evaluation, version_tags,
        margin=run.config.pipeline.promotion_margin,
        require_approval=run.config.pipeline.require_approval,
        rule=run.config.pipeline.promotion_rule
    ).model_copy(update={"cost": night.describe()})
    print(registration.verdict)
    print(f"what this run cost: {night.describe()}")
    return registration


def promote(run: RunInputs, registration: Registration) -> Registration:
    """``champion`` to a version a person approved, if it still beats it."""
    _check_same_store(run)
    pipeline = run.config.pipeline
    promoted = registry.promote_approved(registration, pipeline.promotion_margin,
                                         pipeline.promotion_rule)
    print(promoted.verdict)
    return promoted
