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
worker. Where Airflow itself runs tasks (Local or Celery executor) is Airflow's
setting; the two together decide whether a run's steps can land on other
machines (``distributed``), where local paths and stores are refused.

Local steps go to the Celery queue ``TWEETBOT_GPU_QUEUE`` (``tweetbot_gpu``), so
only GPU workers serve trials, the base model and the evaluation; pods leave
their tasks on the default queue (the pod, not the worker, needs the GPU).

Every Airflow component parses the DAG file itself, the workers too. A worker
whose settings differ from the dag-processor's would run a task of another
shape; the queue a task was scheduled to (the dag-processor's parse) and the
queue the worker's own parse gives it differ then, and the task fails saying
so before it starts anything.
"""

from __future__ import annotations

import os
from typing import Protocol

from airflow.sdk import XComArg, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from training.errors import InputError
from training.records import Step
from training.run_config import GPU_QUEUE, TRIALS_POOL
from tweetbot_airflow.pod_settings import PodSettings

VARIABLE = "TWEETBOT_TRIAL_EXECUTOR"
GPU_QUEUE_VARIABLE = "TWEETBOT_GPU_QUEUE"


class Placement(Protocol):
    in_pods: bool  # steps run in pods, off the Airflow workers

    def step(self, task_id: str, step: XComArg) -> XComArg:
        """One task running ``step``; its output is the step's JSON result."""

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        """One mapped task per trial step, in the ``tweetbot_trials`` pool."""


def from_environment() -> Placement:
    name = os.environ.get(VARIABLE) or "local"
    if name not in PLACEMENTS:
        raise InputError(f"{VARIABLE}: {name!r} is not one of {', '.join(PLACEMENTS)}")
    return PLACEMENTS[name]()


def gpu_queue() -> str:
    return os.environ.get(GPU_QUEUE_VARIABLE) or GPU_QUEUE


def distributed(placement: Placement) -> bool:
    """Whether a run's steps can land on other machines than the one that
    validated its inputs: steps in pods, or any executor but the LocalExecutor.
    Read on the worker, from its Airflow configuration."""
    from airflow.sdk.configuration import conf

    executors = [name.strip().rsplit(":", 1)[-1].rsplit(".", 1)[-1]
                 for name in conf.get("core", "executor").split(",")]
    return placement.in_pods or any(name != "LocalExecutor" for name in executors)


def check_same_settings(context) -> None:
    """Fail a placed step whose worker parsed the DAG differently from the
    dag-processor (see the module's notes)."""
    scheduled, parsed_here = context["ti"].queue, context["task"].queue
    if scheduled != parsed_here:
        raise AirflowFailException(
            f"this task was scheduled to queue {scheduled!r}, but this worker's copy of the "
            f"DAG puts it on {parsed_here!r}: {VARIABLE} and {GPU_QUEUE_VARIABLE} differ "
            f"between this worker and the dag-processor; give every Airflow component "
            f"the same settings")


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
    in_pods = False

    def step(self, task_id: str, step: XComArg) -> XComArg:
        return run_step.override(task_id=task_id, queue=gpu_queue(),
                                 pre_execute=check_same_settings)(step)

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        return run_trial.override(task_id=task_id, queue=gpu_queue(),
                                  pre_execute=check_same_settings).expand(step=steps)


# --- kubernetes: a pod from the trainer image ----------------------------------------

class PodPlacement:
    """Steps as pods (``tweetbot_airflow.step_pod``); the Kubernetes client loads only
    for this placement, so a local deployment's tasks start seconds sooner."""

    in_pods = True

    def __init__(self):
        PodSettings.from_env()  # bad pod settings fail the DAG's import, not a task

    def step(self, task_id: str, step: XComArg) -> XComArg:
        from tweetbot_airflow.step_pod import StepPodOperator

        return StepPodOperator(task_id=task_id, step=step,
                               pre_execute=check_same_settings).output

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        from tweetbot_airflow.step_pod import StepPodOperator

        return StepPodOperator.partial(
            task_id=task_id, pool=TRIALS_POOL, pre_execute=check_same_settings,
            map_index_template="{{ task.step['label'] }}",
        ).expand(step=steps)


PLACEMENTS = {"local": LocalPlacement, "kubernetes": PodPlacement}
