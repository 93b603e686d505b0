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

from training.config import HyperParams
from training.trial import TrialSpec

pytestmark = pytest.mark.fault


class FakeCoreV1:
    """The Kubernetes API calls on_kill makes, recorded."""

    def __init__(self):
        self.deleted = []

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
