"""The pod KubernetesPodOperator would submit for a trial, and its command run locally.

No cluster runs here, so the pod is rendered, not scheduled: this is the object
the operator sends to the Kubernetes API.
"""

import json
import subprocess
import sys

import pytest

from training.config import FitSettings, HyperParams
from training.pod import PodSettings, pod_operator_kwargs
from training.trial import POD_RESULT_PATH, TrialSpec

ENV = {"TWEETBOT_TRAINER_IMAGE": "registry.example/tweetbot-trainer:1.2.3",
       "TWEETBOT_K8S_NAMESPACE": "ml", "TWEETBOT_K8S_GPUS": "1",
       "TWEETBOT_K8S_CPU": "4", "TWEETBOT_K8S_MEMORY": "16Gi",
       "TWEETBOT_K8S_NODE_SELECTOR": '{"accelerator": "nvidia-h100"}',
       "TWEETBOT_K8S_ENV_SECRET": "tweetbot-mlflow-s3"}


@pytest.fixture
def trial_pod(airflow_db, sample_splits):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    spec = TrialSpec(search_id="pod-test", trial_num=1, data_dir=str(sample_splits),
                     hyperparams=HyperParams(batch_size=16, seq_len=16, rnn_size=16,
                                             embedding_size=8, optimizer="adam"),
                     result_path=POD_RESULT_PATH, fit=FitSettings(num_epochs=1))
    operator = KubernetesPodOperator(
        task_id="trial", arguments=spec.arguments(),
        **pod_operator_kwargs("training.trial", PodSettings.from_env(ENV)))
    return operator.build_pod_request_obj(dry_run=True), spec


def test_the_pod_runs_the_trainer_image_with_the_trial_command(trial_pod):
    pod, spec = trial_pod
    container = pod.spec.containers[0]
    assert container.image == "registry.example/tweetbot-trainer:1.2.3"
    assert container.command == ["python", "-m", "training.trial"]
    assert container.args == spec.arguments()
    assert container.args[container.args.index("--result-path") + 1] == "/airflow/xcom/return.json"
    assert pod.metadata.namespace == "ml"


def test_the_pod_asks_for_a_gpu_and_its_resources(trial_pod):
    pod, _ = trial_pod
    resources = pod.spec.containers[0].resources
    assert resources.limits["nvidia.com/gpu"] == "1"
    assert resources.requests == {"cpu": "4", "memory": "16Gi"}
    assert resources.limits["memory"] == "16Gi"
    assert pod.spec.node_selector == {"accelerator": "nvidia-h100"}
    assert [(t.key, t.operator, t.effect) for t in pod.spec.tolerations] == [
        ("nvidia.com/gpu", "Exists", "NoSchedule")]


def test_settings_come_from_a_secret_never_inline(trial_pod):
    pod, _ = trial_pod
    container = pod.spec.containers[0]
    assert [source.secret_ref.name for source in container.env_from] == ["tweetbot-mlflow-s3"]
    inline = {env.name for env in container.env or []}
    assert not inline & {"MLFLOW_TRACKING_URI", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    # The XCom sidecar is what carries the result file back to Airflow.
    assert any(c.name == "airflow-xcom-sidecar" for c in pod.spec.containers)


@pytest.mark.slow
def test_that_very_command_run_locally_produces_a_valid_trial_result(trial_pod, tmp_path):
    pod, _ = trial_pod
    container = pod.spec.containers[0]
    arguments = list(container.args)
    # The one change: the pod's /airflow/xcom path becomes a local file.
    arguments[arguments.index("--result-path") + 1] = str(tmp_path / "return.json")
    completed = subprocess.run([sys.executable, *container.command[1:], *arguments],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((tmp_path / "return.json").read_text())
    assert result["status"] == "ok" and result["trial_num"] == 1
    assert result["val_loss"] > 0 and result["num_epochs"] == 1 and result["run_id"]
