"""A step as a Kubernetes pod: ``KubernetesPodOperator`` running a tweetbot ``Step``.

The step arrives through XCom, so its command is known only when the pod is
built: its module becomes the container command, its arguments the container's,
plus where a pod writes its result (read back by the XCom sidecar) and keeps its
checkpoints (``PodSettings.checkpoint_root``). Part of the placement; imported
only when steps run on Kubernetes.
"""

from __future__ import annotations

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import XComArg

from training.records import Step
from tweetbot_airflow.pod_settings import PodSettings, pod_operator_kwargs, step_pod_kwargs

POD_RESULT_PATH = "/airflow/xcom/return.json"  # where the XCom sidecar looks


class StepPodOperator(KubernetesPodOperator):
    """A pod running a ``Step``: its command, plus the pod's result and checkpoint paths."""

    template_fields = (*KubernetesPodOperator.template_fields, "step")

    def __init__(self, *, step: dict | XComArg, gpu: bool = True, **kwargs):
        # Read here, not passed in: a mapped task's arguments are stored with the
        # DAG, and these are read again on the worker when the task runs.
        self.settings = PodSettings.from_env()
        super().__init__(**{**pod_operator_kwargs(self.settings), **kwargs})
        self.step = step
        self.gpu = gpu

    def build_pod_request_obj(self, context=None, *, dry_run: bool = False):
        # The step arrives through XCom, so the command is known only now.
        command = Step.from_json(self.step)
        self.cmds = ["python", "-m", command.module]
        self.arguments = pod_arguments(command, self.settings)
        self.labels = {**self.labels,
                       "app.kubernetes.io/component": command.module.rsplit(".", 1)[-1]}
        self.env_vars = pod_environment(self.env_vars, command, self.settings)
        for name, value in step_pod_kwargs(self.settings, gpu=self.gpu,
                                           checkpoint=command.checkpoint).items():
            setattr(self, name, value)
        return super().build_pod_request_obj(context, dry_run=dry_run)


def pod_environment(env_vars: list, step: Step, settings: PodSettings) -> list:
    """The operator's variables plus what the step needs (the run's MLflow store
    and experiment), pods' own MLflow address first."""
    from airflow.providers.cncf.kubernetes.backcompat.backwards_compat_converters import (
        convert_env_vars,
    )
    from kubernetes.client import models as k8s

    needed = {**step.environment,
              **({"MLFLOW_TRACKING_URI": settings.mlflow_uri} if settings.mlflow_uri else {})}
    kept = [variable for variable in convert_env_vars(env_vars or [])
            if variable.name not in needed]
    return [*kept, *(k8s.V1EnvVar(name=name, value=value) for name, value in needed.items())]


def pod_arguments(step: Step, settings: PodSettings) -> list[str]:
    arguments = [*step.arguments, "--result-path", POD_RESULT_PATH]
    if step.checkpoint:
        arguments += ["--checkpoint-dir",
                      f"{settings.checkpoint_root}/{step.folder}/{step.name}"]
    return arguments
