"""Where a step runs: a process on the Airflow worker, or a Kubernetes pod.

The one place that decides. The pipeline's steps hand over a
``training.core.records.Step`` (a command, ``python -m <module> <arguments>``); a
placement turns it into Airflow tasks and adds where the result and the
checkpoints go:

    placement    result                          checkpoints
    local        $TWEETBOT_HOME/runs/<search>/   the same folder (training.pipeline.runner)
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

Local steps that train go to the Celery queue ``TWEETBOT_GPU_QUEUE``
(``tweetbot_gpu``), so only GPU workers serve trials and the base model; the
evaluation needs no GPU and stays on the default queue, as do pod tasks (the
pod, not the worker, needs the GPU).

How many accelerators a step holds is decided here too, and handed to its
process as ``TWEETBOT_ACCELERATORS`` (``training.pipeline.step_cost`` charges its run
accelerators x wall seconds): a pod, the GPUs it requests (``TWEETBOT_K8S_GPUS``,
none for the evaluation); a local process, the worker's own
``TWEETBOT_LOCAL_ACCELERATORS`` (0 by default; read on the worker, as GPU
workers may differ), none for the evaluation.

Every Airflow component parses the DAG file itself, the workers too. A worker
whose settings differ from the dag-processor's would run a task of another
shape. The DAG records the settings it was parsed with in its tags
(``placement:local``, ``gpu-queue:tweetbot_gpu``); the dag-processor's copy is
in the metadata database, and a task whose worker's own copy differs fails
saying so before it starts anything.
"""

from __future__ import annotations

import os
from typing import Protocol

from airflow.sdk import XComArg, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from training.core.errors import InputError
from training.core.records import Step
from training.pipeline.run_config import GPU_QUEUE, TRIALS_POOL
from training.pipeline.step_cost import accelerator_count, holding
from tweetbot_airflow import trial_slots
from tweetbot_airflow.pod_settings import PodSettings

VARIABLE = "TWEETBOT_TRIAL_EXECUTOR"
GPU_QUEUE_VARIABLE = "TWEETBOT_GPU_QUEUE"
LOCAL_ACCELERATORS_VARIABLE = "TWEETBOT_LOCAL_ACCELERATORS"
PLACEMENT_TAG, GPU_QUEUE_TAG = "placement:", "gpu-queue:"  # DAG tags holding the settings


class Placement(Protocol):
    name: str
    in_pods: bool  # steps run in pods, off the Airflow workers

    def step(self, task_id: str, step: XComArg, gpu: bool = True) -> XComArg:
        """One task running ``step``; its output is the step's JSON result. ``gpu``:
        the step needs a GPU machine (a GPU worker's queue, a pod with a GPU)."""

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        """One mapped task per trial step, in the ``tweetbot_trials`` pool, each
        started once its step's slot is free (``tweetbot_airflow.trial_slots``)."""


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


def setting_tags(placement: Placement) -> list[str]:
    """The DAG's tags that record the settings it was parsed with."""
    return [f"{PLACEMENT_TAG}{placement.name}", f"{GPU_QUEUE_TAG}{gpu_queue()}"]


def check_same_settings(context) -> None:
    """Fail a task whose worker parsed the DAG with other settings than the
    dag-processor did (see the module's notes)."""
    dag = context["dag"]
    recorded = _settings_in(context["ti"].get_dag(dag.dag_id).tags)
    parsed_here = _settings_in(dag.tags)
    if recorded != parsed_here:
        raise AirflowFailException(
            f"the dag-processor parsed {dag.dag_id} with {', '.join(recorded) or 'no tags'}, "
            f"this worker with {', '.join(parsed_here)}: {VARIABLE} or {GPU_QUEUE_VARIABLE} "
            f"differ between them; give every Airflow component the same settings")


def _settings_in(tags) -> list[str]:
    return sorted(str(tag) for tag in tags if str(tag).startswith((PLACEMENT_TAG,
                                                                    GPU_QUEUE_TAG)))


def local_accelerators(gpu: bool, environ=os.environ) -> int:
    """The accelerators a step holds as a process on this worker."""
    return accelerator_count(LOCAL_ACCELERATORS_VARIABLE, environ) if gpu else 0


# --- local: a process on the worker ------------------------------------------------

@task
def run_step(step: dict, gpu: bool = True) -> dict:
    from training.pipeline import runner

    try:
        return runner.run(runner.place(_on_this_worker(step, gpu)))
    except runner.StepRefused as refused:  # the same file again: a retry cannot help
        raise AirflowFailException(str(refused)) from None


@task(pool=TRIALS_POOL, map_index_template="{{ trial_label }}")
def run_trial(step: dict) -> dict:
    from training.core.records import NothingLeft
    from training.pipeline.trial_run import run_as_process

    context = get_current_context()
    trial = _on_this_worker(step, gpu=True)
    context["trial_label"] = trial.label
    trial_slots.wait_for_a_slot(context, trial)
    outcome = run_as_process(trial)
    trial_slots.name_trial(context, outcome.to_json())
    if isinstance(outcome, NothingLeft):
        raise AirflowSkipException(outcome.reason)
    return outcome.to_json()


def _on_this_worker(step: dict, gpu: bool) -> Step:
    try:
        accelerators = local_accelerators(gpu)
    except InputError as error:  # the worker's setting: a retry here fails the same way
        raise AirflowFailException(str(error)) from None
    return holding(Step.from_json(step), accelerators)


class LocalPlacement:
    name, in_pods = "local", False

    def step(self, task_id: str, step: XComArg, gpu: bool = True) -> XComArg:
        queue = {"queue": gpu_queue()} if gpu else {}
        return run_step.override(task_id=task_id, pre_execute=check_same_settings,
                                 **queue)(step, gpu=gpu)

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        return run_trial.override(task_id=task_id, queue=gpu_queue(),
                                  pre_execute=check_same_settings).expand(step=steps)


# --- kubernetes: a pod from the trainer image ----------------------------------------

class PodPlacement:
    """Steps as pods (``tweetbot_airflow.step_pod``); the Kubernetes client loads only
    for this placement, so a local deployment's tasks start seconds sooner."""

    name, in_pods = "kubernetes", True

    def __init__(self):
        PodSettings.from_env()  # bad pod settings fail the DAG's import, not a task

    def step(self, task_id: str, step: XComArg, gpu: bool = True) -> XComArg:
        from tweetbot_airflow.step_pod import StepPodOperator

        return StepPodOperator(task_id=task_id, step=step, gpu=gpu,
                               pre_execute=check_same_settings).output

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        from tweetbot_airflow.step_pod import StepPodOperator

        return StepPodOperator.partial(
            task_id=task_id, pool=TRIALS_POOL, pre_execute=check_same_settings,
            map_index_template="{{ trial_label }}",
        ).expand(step=steps)


PLACEMENTS = {"local": LocalPlacement, "kubernetes": PodPlacement}
