"""
### tweetbot_training

Retrains the character-level LSTM tweet generator and registers it in MLflow.

1. **validate_splits** — train/validate/test exist (folder or `s3://`), are UTF-8 and
   long enough; their hash is recorded. The run stops here when the splits did not
   change since the champion was trained, unless `force` is set.
2. **start_search**, **trial** — one mapped `trial` task per trial number,
   `parallel` at a time: as soon as one ends the next starts, and suggests its
   hyper-parameters as it starts (hyperopt TPE, conditioned on every trial finished
   by then as MLflow holds it). Kubernetes GPU pods or local processes on the
   `tweetbot_gpu` queue's workers (`TWEETBOT_TRIAL_EXECUTOR`, decided in
   `tweetbot_airflow.placement`), capped across runs by the `tweetbot_trials` pool.
3. **select** — the fastest trial within `tolerance` of the best val_loss (the docs'
   "Hyper-parameter search and selection"); `trials.csv` and the trade-off plot go to
   the search's MLflow run.
4. **train_base_model** — the chosen parameters, full train split, until early
   stopping (learning rate halved on plateaus, `final_epochs` at most); resumes from its
   checkpoint when retried.
5. **evaluate** — test-split loss of the new model and of the current champion.
6. **register** — new version of `tweetbot-charrnn`, alias `candidate`; `champion`
   moves only if the new version's test loss is `promotion_margin` below the champion's.
7. **approve_promotion**, **promote** — with `require_approval`, a version that beats
   the champion waits for a person to approve it (this run's "Required actions") before
   `promote` moves `champion`; rejected or unanswered, it stays `candidate`.

Alerts (a failed run, a new champion, an approval to give, a run past its deadline) go
to the Airflow connections `tweetbot_smtp` and `tweetbot_webhook`, where they exist;
see `plugins/tweetbot_alerts.py`.

Scheduled nightly (the first run after unpausing is the next night, not the one just
missed) and whenever `tweetbot_prepare_splits` publishes new splits, which it then trains
on. Scheduled and asset-triggered runs use the form's defaults, which a deployment sets in
`TWEETBOT_RUN_DEFAULTS`.
"""

from __future__ import annotations

import datetime
import os

from airflow.sdk import (
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Param,
    dag,
    get_current_context,
    task,
)
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowFailException

import tweetbot_alerts as alerts
from training.pipeline.run_config import TRIAL_TASK, params_schema
from tweetbot_airflow import SPLITS_ASSET, placement, upstream
from tweetbot_airflow.approval import PromotionApproval

SCHEDULE = os.environ.get("TWEETBOT_SCHEDULE", "0 3 * * *")
PLACEMENT = placement.from_environment()


@task.short_circuit
def validate_splits(params=None, run_id=None, triggering_asset_events=None) -> dict | None:
    from training.core.errors import InputError
    from training.pipeline import steps

    placement.check_same_settings(get_current_context())
    try:
        run = steps.validate_splits(params, run_id,
                                    published_location(triggering_asset_events),
                                    distributed=placement.distributed(PLACEMENT),
                                    max_trials=conf.getint("core", "max_map_length"))
    except InputError as error:  # bad input stays bad: no retry
        raise AirflowFailException(str(error)) from None
    return run.to_json() if run else None


def published_location(events) -> str | None:
    """Where the newest splits update that triggered this run published them."""
    updates = sorted((events or {}).get(SPLITS_ASSET, []), key=lambda event: event.timestamp)
    return updates[-1].extra.get("location") if updates else None


@task
def start_search(run: dict) -> list[dict]:
    from training.pipeline import steps
    from training.pipeline.run_inputs import RunInputs

    return [step.to_json() for step in steps.start_search(RunInputs.from_json(run))]


# all_done: a failed trial must not stop the search. Without the run's first
# steps there is no search, though: then it fails at once (upstream).
@task(trigger_rule="all_done")
def select(run: dict | None) -> dict:
    from training.pipeline import steps
    from training.pipeline.run_inputs import RunInputs
    from training.tuning.selection import NoTrialSucceeded

    upstream.require_first_steps(get_current_context())
    try:
        return steps.select(RunInputs.from_json(run)).to_json()
    except NoTrialSucceeded as error:  # trying again would choose among the same
        raise AirflowFailException(str(error)) from None


@task
def base_model_arguments(run: dict, chosen: dict, run_id=None) -> dict:
    from training.core.records import ChosenTrial
    from training.pipeline import steps
    from training.pipeline.run_inputs import RunInputs

    return steps.base_model_step(RunInputs.from_json(run), ChosenTrial.from_json(chosen),
                                 run_id).to_json()


@task
def evaluate_arguments(run: dict, trained: dict) -> dict:
    from training.core.records import TrainedModel
    from training.pipeline import steps
    from training.pipeline.run_inputs import RunInputs

    return steps.evaluation_step(RunInputs.from_json(run),
                                 TrainedModel.from_json(trained)).to_json()


@task(on_success_callback=alerts.ChampionChanged())
def register(run: dict, chosen: dict, trained: dict, evaluation: dict, run_id=None) -> dict:
    from training.core.records import ChosenTrial, Evaluation, TrainedModel
    from training.pipeline import steps
    from training.pipeline.run_inputs import RunInputs

    return steps.register(RunInputs.from_json(run), ChosenTrial.from_json(chosen),
                          TrainedModel.from_json(trained), Evaluation.from_json(evaluation),
                          run_id).to_json()


@task(on_success_callback=alerts.ChampionChanged())
def promote(run: dict, registration: dict) -> dict:
    from training.core.records import Registration
    from training.pipeline import steps
    from training.pipeline.run_inputs import RunInputs

    return steps.promote(RunInputs.from_json(run),
                         Registration.from_json(registration)).to_json()


@dag(
    dag_id="tweetbot_training",
    doc_md=__doc__,
    # No start date, and run_immediately=0: unpausing waits for the next 03:00.
    # run_immediately=False is not enough: Airflow then still starts the night
    # just missed when unpaused within 10 % of the interval after it (2.4 hours).
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(SCHEDULE, timezone="UTC",
                                       run_immediately=datetime.timedelta(0)),
        assets=[SPLITS_ASSET]),
    catchup=False,
    max_active_runs=1,
    # The delay before a retry is the deployment's: [core] default_task_retry_delay.
    default_args={"retries": 1},
    params={name: Param(**schema) for name, schema in params_schema().items()},
    tags=["tweetbot", "training", *placement.setting_tags(PLACEMENT)],
    on_failure_callback=alerts.RunFailed(),
    deadline=alerts.deadline(),
)
def tweetbot_training():
    run = validate_splits()
    trials = PLACEMENT.trials(TRIAL_TASK, start_search(run))
    chosen = select(run)
    trials >> chosen
    trained = PLACEMENT.step("train_base_model", base_model_arguments(run, chosen))
    evaluation = PLACEMENT.step("evaluate", evaluate_arguments(run, trained), gpu=False)
    registration = register(run, chosen, trained, evaluation)
    approval = PromotionApproval(task_id="approve_promotion", registration=registration)
    approval >> promote(run, registration)


tweetbot_training()
