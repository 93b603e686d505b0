"""A trial pod never outlives its task. No cluster runs here, so the Kubernetes
API is a fake that records calls; the code under test is the provider's own
(``KubernetesPodOperator.on_kill`` and ``KubernetesPodTrigger.on_kill``), as our
operator configures it. Airflow calls them when the task runs past its
execution_timeout, is marked failed in the UI, or is cleared while it runs: the
first two paths in the worker, the last in the triggerer while the pod trains
deferred."""

from __future__ import annotations

import asyncio

import pytest
from airflow.sdk.exceptions import TaskDeferred
from test_trial_pod import RUN_STORE, pod_operator

from training.core.config import HyperParams
from training.pipeline.trial_run import TrialSpec

pytestmark = pytest.mark.fault


class FakeCoreV1:
    """The Kubernetes API calls on_kill and cleanup make: deletions recorded, the
    pod read back as it ended, no events."""

    def __init__(self, pod=None):
        self.pod, self.deleted = pod, []

    def read_namespaced_pod(self, name, namespace, **kwargs):
        return self.pod

    def list_namespaced_event(self, namespace, **kwargs):
        from kubernetes.client import models as k8s

        return k8s.CoreV1EventList(items=[])

    def delete_namespaced_pod(self, name, namespace, **kwargs):
        self.deleted.append((namespace, name))

    async def delete_pod(self, name, namespace, **kwargs):  # the trigger's async hook
        self.deleted.append((namespace, name))


@pytest.fixture
def running_trial(airflow_db, monkeypatch):
    """A trial's operator with its pod created, as it stands while the pod trains."""
    spec = TrialSpec(search_id="pod-test", trial_num=1, data_dir="s3://bucket/splits",
                     hyperparams=HyperParams())
    operator = pod_operator(spec.step(label="trial 1", environment=RUN_STORE), monkeypatch)
    operator.pod = operator.build_pod_request_obj(dry_run=True)
    operator.pod.metadata.name = "trial-001-abc123"
    return operator


def test_killing_the_task_deletes_its_pod(running_trial):
    api = FakeCoreV1()
    running_trial.__dict__["client"] = api  # the operator's cached API client
    running_trial.on_kill()  # what Airflow calls on a timeout or a SIGTERM
    assert api.deleted == [("ml", "trial-001-abc123")]


def test_killing_a_deferred_task_deletes_its_pod(running_trial):
    with pytest.raises(TaskDeferred) as deferred:
        running_trial.invoke_defer_method()
    trigger = deferred.value.trigger
    api = FakeCoreV1()
    trigger.__dict__["hook"] = api  # the trigger's cached async hook
    asyncio.run(trigger.on_kill())  # what the triggerer calls when the task is killed
    assert api.deleted == [("ml", "trial-001-abc123")]


def finished_pod(phase: str, exit_code: int, reason: str):
    from kubernetes.client import models as k8s

    terminated = k8s.V1ContainerStateTerminated(exit_code=exit_code, reason=reason)
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="trial-001-abc123", namespace="ml"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")]),
        status=k8s.V1PodStatus(phase=phase, container_statuses=[k8s.V1ContainerStatus(
            name="base", image="trainer", image_id="", ready=False, restart_count=0,
            state=k8s.V1ContainerState(terminated=terminated))]))


def test_a_container_killed_for_memory_is_a_failure_even_with_exit_code_0(running_trial):
    from airflow.sdk.exceptions import AirflowException

    ended = finished_pod("Succeeded", 0, "OOMKilled")
    running_trial.__dict__["client"] = api = FakeCoreV1(ended)
    with pytest.raises(AirflowException, match=r"was OOMKilled \(exit code 0\)"):
        running_trial.cleanup(running_trial.pod, ended)
    assert api.deleted == [("ml", "trial-001-abc123")]  # and its pod is gone


def test_a_container_that_finished_is_a_success(running_trial):
    ended = finished_pod("Succeeded", 0, "Completed")
    running_trial.__dict__["client"] = api = FakeCoreV1(ended)
    running_trial.cleanup(running_trial.pod, ended)
    assert api.deleted == [("ml", "trial-001-abc123")]


def pending_pod(reason: str, message: str):
    from kubernetes.client import models as k8s

    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="trial-001-abc123", namespace="ml"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")]),
        status=k8s.V1PodStatus(phase="Pending", conditions=[k8s.V1PodCondition(
            type="PodScheduled", status="False", reason=reason, message=message)]))


def test_a_pod_stuck_pending_fails_with_the_reason(running_trial):
    from airflow.sdk.exceptions import AirflowException

    stuck = pending_pod("Unschedulable", "0/3 nodes are available: 3 Insufficient "
                                         "nvidia.com/gpu.")
    running_trial.__dict__["client"] = FakeCoreV1(stuck)
    running_trial.schedule_timeout_seconds = 0  # the wait for a GPU node has run out
    with pytest.raises(AirflowException, match=(
            r"too long to be scheduled.* Pending: Unschedulable: 0/3 nodes are available: "
            r"3 Insufficient nvidia.com/gpu")):
        running_trial.await_pod_start(running_trial.pod)


def test_a_step_that_refused_a_damaged_file_fails_without_a_retry(running_trial):
    """Exit code 3 (training.core.errors.DAMAGED_EXIT_STATUS): a new pod would
    read the same damaged file, so the task fails for good."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    ended = finished_pod("Failed", 3, "Error")
    running_trial.__dict__["client"] = FakeCoreV1(ended)
    with pytest.raises(AirflowFailException, match="refused a damaged file"):
        running_trial.cleanup(running_trial.pod, ended)
    other = finished_pod("Failed", 1, "Error")  # any other failure: retried as before
    running_trial.__dict__["client"] = FakeCoreV1(other)
    with pytest.raises(AirflowException) as failed:
        running_trial.cleanup(running_trial.pod, other)
    assert not isinstance(failed.value, AirflowFailException)
