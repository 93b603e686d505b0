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

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import XComArg, get_current_context, task

from training.errors import InputError
from training.records import Step
from training.run_config import TRIALS_POOL
from tweetbot_airflow.pod_settings import PodSettings, pod_operator_kwargs

VARIABLE = "TWEETBOT_TRIAL_EXECUTOR"
POD_RESULT_PATH = "/airflow/xcom/return.json"  # where the XCom sidecar looks


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

class StepPodOperator(KubernetesPodOperator):
    """A pod running a ``Step``: its command, plus the pod's result and checkpoint paths."""

    template_fields = (*KubernetesPodOperator.template_fields, "step")

    def __init__(self, *, step: dict | XComArg, **kwargs):
        # Read here, not passed in: a mapped task's arguments are stored with the
        # DAG, and these are read again on the worker when the task runs.
        self.settings = PodSettings.from_env()
        super().__init__(**{**pod_operator_kwargs(self.settings), **kwargs})
        self.step = step

    def build_pod_request_obj(self, context=None, *, dry_run: bool = False):
        # The step arrives through XCom, so the command is known only now.
        command = Step.from_json(self.step)
        self.cmds = ["python", "-m", command.module]
        self.arguments = pod_arguments(command, self.settings)
        self.labels = {**self.labels,
                       "app.kubernetes.io/component": command.module.rsplit(".", 1)[-1]}
        return super().build_pod_request_obj(context, dry_run=dry_run)


def pod_arguments(step: Step, settings: PodSettings) -> list[str]:
    arguments = [*step.arguments, "--result-path", POD_RESULT_PATH]
    if step.checkpoint:
        arguments += ["--checkpoint-dir",
                      f"{settings.checkpoint_root}/{step.folder}/{step.name}"]
    return arguments


class PodPlacement:
    def __init__(self):
        PodSettings.from_env()  # bad pod settings fail the DAG's import, not a task

    def step(self, task_id: str, step: XComArg) -> XComArg:
        return StepPodOperator(task_id=task_id, step=step).output

    def trials(self, task_id: str, steps: XComArg) -> XComArg:
        return StepPodOperator.partial(
            task_id=task_id, pool=TRIALS_POOL,
            map_index_template="{{ task.step['label'] }}",
        ).expand(step=steps)


PLACEMENTS = {"local": LocalPlacement, "kubernetes": PodPlacement}
