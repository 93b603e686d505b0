"""Where a step runs: a process on the Airflow worker, or a Kubernetes pod.

The one place that decides. The pipeline's steps hand over a
``training.records.Step`` (a command, ``python -m <module> <arguments>``); a
placement turns it into Airflow tasks and adds where the result and the
checkpoints go:

    placement    result                          checkpoints
    local        $TWEETBOT_HOME/runs/<search>/   the same folder (training.runner)
                 <step>.json
    kubernetes   /airflow/xcom/return.json,      /checkpoints/<search>/<step> on
                 read back by the XCom sidecar   TWEETBOT_K8S_CHECKPOINT_PVC, else the
                                                 pod's own disk

``TWEETBOT_TRIAL_EXECUTOR`` (``local`` by default, or ``kubernetes``) chooses, read
when a DAG file is parsed; any other value is an import error naming the
variable and the allowed values, so a typo never quietly runs trials on the
worker. Where Airflow itself runs tasks (Local or Celery executor) is
deployment, not this.
"""

from __future__ import annotations

import os
from typing import Protocol

from airflow.sdk import XComArg, get_current_context, task

from training.errors import InputError
from training.records import Step
from training.run_config import TRIALS_POOL
from tweetbot_airflow.pod_settings import PodSettings

VARIABLE = "TWEETBOT_TRIAL_EXECUTOR"


class Placement(Protocol):
    def step(self, task_id: str, step: XComArg) -> XComArg:
        """One task running ``step``; its output is the step's JSON result."""

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        """One mapped task per trial step, in the ``tweetbot_trials`` pool."""


def from_environment() -> Placement:
    name = os.environ.get(VARIABLE) or "local"
    if name not in PLACEMENTS:
        raise InputError(f"{VARIABLE}: {name!r} is not one of {', '.join(PLACEMENTS)}")
    return PLACEMENTS[name]()


# --- local: a process on the worker ------------------------------------------------

@task
def run_step(step: dict) -> dict:
    from training import runner

    return runner.run(runner.place(Step.from_json(step)))


@task(pool=TRIALS_POOL, map_index_template="{{ trial_label }}")
def run_trial(step: dict) -> dict:
    from training.trial import run_as_process

    trial = Step.from_json(step)
    get_current_context()["trial_label"] = trial.label
    return run_as_process(trial).to_json()


class LocalPlacement:
    def step(self, task_id: str, step: XComArg) -> XComArg:
        return run_step.override(task_id=task_id)(step)

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        return run_trial.override(task_id=task_id).expand(step=steps)


# --- kubernetes: a pod from the trainer image ----------------------------------------

class PodPlacement:
    """Steps as pods (``tweetbot_airflow.step_pod``); the Kubernetes client loads only
    for this placement, so a local deployment's tasks start seconds sooner."""

    def __init__(self):
        PodSettings.from_env()  # bad pod settings fail the DAG's import, not a task

    def step(self, task_id: str, step: XComArg) -> XComArg:
        from tweetbot_airflow.step_pod import StepPodOperator

        return StepPodOperator(task_id=task_id, step=step).output

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        from tweetbot_airflow.step_pod import StepPodOperator

        return StepPodOperator.partial(
            task_id=task_id, pool=TRIALS_POOL,
            map_index_template="{{ task.step['label'] }}",
        ).expand(step=steps)


PLACEMENTS = {"local": LocalPlacement, "kubernetes": PodPlacement}
