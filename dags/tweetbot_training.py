"""
### tweetbot_training

Retrains the character-level LSTM tweet generator and registers it in MLflow.

1. **validate_splits** — train/validate/test exist (folder or `s3://`), are UTF-8 and
   long enough; their hash is recorded. The run stops here when the splits did not
   change since the champion was trained, unless `force` is set.
2. **search** — up to 6 rounds; each round suggests `min(parallel, trials left)` new
   hyper-parameter sets (hyperopt TPE, conditioned on every finished trial as MLflow
   holds it) and runs them as mapped `trial_r*` tasks: Kubernetes GPU pods or local
   processes (`TWEETBOT_TRIAL_EXECUTOR`), capped across runs by the `tweetbot_trials`
   pool. `num_trials` must be at most 6 × `parallel`.
3. **select** — the fastest trial within `tolerance` of the best val_loss (see README);
   `trials.csv` and the trade-off plot go to the search's MLflow run.
4. **train_base_model** — the chosen parameters, full train split, `final_epochs`;
   resumes from its checkpoint when retried.
5. **evaluate** — test-split loss of the new model and of the current champion.
6. **register** — new version of `tweetbot-charrnn`, alias `candidate`; `champion`
   moves only if the new version is better on the test split.

Scheduled nightly and whenever `tweetbot_prepare_splits` publishes new splits.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import (Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag,
                         get_current_context, task)

from training.pipeline import MAX_ROUNDS, SPLITS_ASSET_NAME, params_schema

EXECUTOR = os.environ.get("TWEETBOT_TRIAL_EXECUTOR", "local")
SCHEDULE = os.environ.get("TWEETBOT_SCHEDULE", "0 3 * * *")
TRIALS_POOL = "tweetbot_trials"
SPLITS_ASSET = Asset(SPLITS_ASSET_NAME)


def _executor_task(task_id: str, module: str, arguments):
    """One step's command as a pod or as a local process, by configuration;
    returns the step's result (XCom)."""
    if EXECUTOR == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

        from training.pod import PodSettings, pod_operator_kwargs

        return KubernetesPodOperator(task_id=task_id, arguments=arguments,
                                     **pod_operator_kwargs(module, PodSettings.from_env())).output
    return run_module.override(task_id=task_id)(module, arguments)


def _trial_tasks(round_index: int, suggested):
    task_id = f"trial_r{round_index}"
    if EXECUTOR == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

        from training.pod import PodSettings, pod_operator_kwargs

        return KubernetesPodOperator.partial(
            task_id=task_id, pool=TRIALS_POOL,
            map_index_template="{{ task.annotations['tweetbot/trial'] }}",
            **pod_operator_kwargs("training.trial", PodSettings.from_env()),
        ).expand_kwargs(suggested.map(
            lambda s: {"arguments": s["arguments"], "annotations": {"tweetbot/trial": s["label"]}}))
    return run_trial.override(task_id=task_id).expand_kwargs(suggested)


@task(pool=TRIALS_POOL, map_index_template="{{ trial_label }}")
def run_trial(arguments: list[str], label: str) -> dict:
    from training.pipeline import run_trial_process

    get_current_context()["trial_label"] = label
    return run_trial_process(arguments)


@task
def run_module(module: str, arguments: list[str]) -> dict:
    from training.pipeline import run_module_process

    return run_module_process(module, arguments)


@task.short_circuit
def validate_splits(params=None, run_id=None) -> dict | None:
    from training.pipeline import validate_splits as check

    return check(params, run_id)


@task
def start_search(splits: dict, params=None) -> dict:
    from training.pipeline import start_search as start

    return start(splits, params)


@task(trigger_rule="all_done")
def suggest(splits: dict, params=None) -> list[dict]:
    from training.pipeline import suggest_round

    return suggest_round(splits, params, EXECUTOR)


@task(trigger_rule="all_done")
def select(splits: dict, params=None) -> dict:
    from training.pipeline import select as choose

    return choose(splits, params)


@task
def base_model_arguments(splits: dict, chosen: dict, params=None, run_id=None) -> list[str]:
    from training.pipeline import base_model_arguments as arguments

    return arguments(splits, chosen, params, run_id, EXECUTOR)


@task
def evaluate_arguments(splits: dict, trained: dict) -> list[str]:
    from training.pipeline import evaluate_arguments as arguments

    return arguments(splits, trained, EXECUTOR)


@task
def register(splits: dict, chosen: dict, trained: dict, evaluation: dict,
             run_id=None) -> dict:
    from training.pipeline import register as register_version

    return register_version(splits, chosen, trained, evaluation, run_id)


@dag(
    dag_id="tweetbot_training",
    doc_md=__doc__,
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable(SCHEDULE, timezone="UTC"),
                                 assets=[SPLITS_ASSET]),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=2)},
    params={name: Param(**schema) for name, schema in params_schema().items()},
    tags=["tweetbot", "training"],
)
def tweetbot_training():
    splits = validate_splits()
    previous = start_search(splits)
    for round_index in range(MAX_ROUNDS):
        suggested = suggest.override(task_id=f"suggest_r{round_index}")(splits)
        previous >> suggested
        previous = _trial_tasks(round_index, suggested)
    chosen = select(splits)
    previous >> chosen
    trained = _executor_task("train_base_model", "training.train",
                             base_model_arguments(splits, chosen))
    evaluation = _executor_task("evaluate", "training.evaluate",
                                evaluate_arguments(splits, trained))
    register(splits, chosen, trained, evaluation)


tweetbot_training()
