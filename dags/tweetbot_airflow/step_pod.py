"""A step as a Kubernetes pod: ``KubernetesPodOperator`` running a tweetbot ``Step``.

The step arrives through XCom, so its command is known only when the pod is
built: its module becomes the container command, its arguments the container's,
plus where a pod writes its result (read back by the XCom sidecar) and keeps its
checkpoints (``PodSettings.checkpoint_root``). Part of the placement; imported
only when steps run on Kubernetes.
"""

from __future__ import annotations

from contextlib import suppress

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.pod_generator import make_safe_label_value
from airflow.sdk import XComArg
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from training.core.errors import DAMAGED_EXIT_STATUS
from training.core.records import Step
from training.pipeline.step_cost import holding
from tweetbot_airflow import trial_slots
from tweetbot_airflow.pod_settings import PodSettings, pod_operator_kwargs, step_pod_kwargs

POD_RESULT_PATH = "/airflow/xcom/return.json"  # where the XCom sidecar looks
# What a cluster's cost tool can group a pod's spend by, beside the provider's
# own labels (dag_id, task_id, run_id, map_index, try_number).
STEP_LABEL, TRIAL_LABEL = "tweetbot/step", "tweetbot/trial"
# The provider's run_id label is the DAG run id made label-safe: a scheduled
# run's ``scheduled__2026-11-29T03:00:00+00:00`` loses its ``:`` and ``+`` and
# gains a hash. The exact id goes in this annotation.
DAG_RUN_ANNOTATION = "tweetbot/dag-run-id"


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

    def execute(self, context):
        step = Step.from_json(self.step)
        context["trial_label"] = step.label
        if step.trial_num is not None:
            trial_slots.wait_for_a_slot(context, step)
        return self._named(context, super().execute(context))

    def trigger_reentry(self, context, event):
        context["trial_label"] = Step.from_json(self.step).label
        try:
            return self._named(context, super().trigger_reentry(context, event))
        except AirflowException as error:
            raise with_pending_reason(error, self.pod) from error

    def _named(self, context, result):
        """A trial's task named by the trial the pod ran, once its result is back
        (a deferred pod's comes back through ``trigger_reentry``)."""
        if isinstance(result, dict) and Step.from_json(self.step).trial_num is not None:
            trial_slots.name_trial(context, result)
        return result

    def build_pod_request_obj(self, context=None, *, dry_run: bool = False):
        # The step arrives through XCom, so the command is known only now.
        gpus = self.settings.accelerators(self.gpu)
        command = holding(Step.from_json(self.step), gpus)
        self.cmds = ["python", "-m", command.module]
        self.arguments = pod_arguments(command, self.settings)
        self.labels = {**self.labels, **step_labels(command)}
        if context is not None:
            self.annotations = {**(self.annotations or {}),
                                DAG_RUN_ANNOTATION: context["run_id"]}
        self.env_vars = pod_environment(self.env_vars, command, self.settings)
        for name, value in step_pod_kwargs(self.settings, gpus=gpus,
                                           checkpoint=command.checkpoint).items():
            setattr(self, name, value)
        return super().build_pod_request_obj(context, dry_run=dry_run)


    # A pod that never starts fails after the schedule or startup timeout with the
    # provider's "took too long"; the pod's own reason (no GPU node, an image that
    # cannot be pulled) is added, read while the pod still exists.
    def await_pod_start(self, pod) -> None:
        try:
            super().await_pod_start(pod)
        except AirflowException as error:
            remote_pod = None
            with suppress(Exception):  # the reason is a courtesy; the failure stands
                remote_pod = self.pod_manager.read_pod(pod)
            raise with_pending_reason(error, remote_pod) from error

    def cleanup(self, pod, remote_pod, xcom_result=None, context=None):
        # The provider judges the container by its exit code alone, but a container
        # the kernel killed for memory can report 0: its terminated reason decides.
        killed = abnormal_end(remote_pod, self.base_container_name)
        ended = terminated(remote_pod, self.base_container_name)
        try:
            super().cleanup(pod, remote_pod, xcom_result, context)
        except AirflowException as error:
            if killed and ended.exit_code == DAMAGED_EXIT_STATUS:
                # The step refused a damaged file: a new pod would read the same one.
                raise AirflowFailException(
                    f"{self.task_id}: the step refused a damaged file (exit code "
                    f"{DAMAGED_EXIT_STATUS}, see its log); running it again cannot "
                    f"succeed") from error
            if killed:
                raise AirflowException(f"{self.task_id}: the step's container {killed}") from error
            raise
        if killed:
            raise AirflowException(f"{self.task_id}: the step's container {killed}; its "
                                   f"result, if any, is not trusted")


def with_pending_reason(error: Exception, remote_pod) -> Exception:
    reason = pending_reason(remote_pod)
    return type(error)(f"{error} Pending: {reason}") if reason else error


def pending_reason(remote_pod) -> str | None:
    """Why a pod is still Pending, as Kubernetes says: ``Unschedulable: 0/3 nodes are
    available: 3 Insufficient nvidia.com/gpu``, ``ImagePullBackOff: ...``."""
    status = getattr(remote_pod, "status", None)
    if status is None or status.phase != "Pending":
        return None
    reasons = [f"{c.reason}: {c.message}" for c in status.conditions or []
               if c.type == "PodScheduled" and c.status == "False" and c.reason]
    reasons += [f"{s.name} {s.state.waiting.reason}: {s.state.waiting.message}"
                for s in status.container_statuses or []
                if s.state and s.state.waiting and s.state.waiting.reason
                not in (None, "ContainerCreating", "PodInitializing")]
    return "; ".join(reasons) or None


def terminated(remote_pod, container_name: str):
    """The container's terminated state (reason, exit code), if it ended."""
    statuses = (remote_pod.status.container_statuses or []) if remote_pod and \
        remote_pod.status else []
    status = next((s for s in statuses if s.name == container_name), None)
    return status.state.terminated if status and status.state else None


def abnormal_end(remote_pod, container_name: str) -> str | None:
    """How the container ended, if not by finishing: ``was OOMKilled (exit code 0)``."""
    ended = terminated(remote_pod, container_name)
    if ended is None or ended.reason in (None, "Completed"):
        return None
    return f"was {ended.reason} (exit code {ended.exit_code})"


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


def step_labels(step: Step) -> dict[str, str]:
    """Which step a pod runs (``trial``, ``base``, ``evaluation``) and which trial."""
    labels = {"app.kubernetes.io/component": step.module.rsplit(".", 1)[-1],
              STEP_LABEL: "trial" if step.trial_num is not None else step.name}
    if step.trial_num is not None:
        labels[TRIAL_LABEL] = str(step.trial_num)
    return {key: make_safe_label_value(value) for key, value in labels.items()}


def pod_arguments(step: Step, settings: PodSettings) -> list[str]:
    arguments = [*step.arguments, "--result-path", POD_RESULT_PATH]
    if step.checkpoint:
        arguments += ["--checkpoint-dir",
                      f"{settings.checkpoint_root}/{step.folder}/{step.name}"]
    return arguments
