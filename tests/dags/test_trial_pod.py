"""The pod a trial step becomes on Kubernetes, and its command run locally.

No cluster runs here, so the pod is rendered, not scheduled: this is the object
KubernetesPodOperator sends to the Kubernetes API.
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from training.core.config import FitSettings, HyperParams
from training.core.errors import InputError
from training.core.records import Step
from training.pipeline.trial_run import TrialSpec, build_parser, spec_from_args

REPO = Path(__file__).resolve().parents[2]

ENV = {"TWEETBOT_TRAINER_IMAGE": "registry.example/tweetbot-trainer:1.2.3",
       "TWEETBOT_K8S_NAMESPACE": "ml", "TWEETBOT_K8S_GPUS": "1",
       "TWEETBOT_K8S_CPU": "4", "TWEETBOT_K8S_MEMORY": "16Gi",
       "TWEETBOT_K8S_NODE_SELECTOR": '{"accelerator": "nvidia-h100"}',
       "TWEETBOT_K8S_ENV_SECRET": "tweetbot-mlflow-s3"}


# What the pipeline gives every step of a run: its MLflow store and experiment.
RUN_STORE = {"MLFLOW_TRACKING_URI": "http://mlflow.tweetbot:5000",
             "TWEETBOT_EXPERIMENT": "nightly"}


def pod_operator(step: Step, monkeypatch, gpu: bool = True, **extra_env):
    from tweetbot_airflow.step_pod import StepPodOperator

    for name, value in {**ENV, **extra_env}.items():
        monkeypatch.setenv(name, value)
    return StepPodOperator(task_id=step.name, step=step.to_json(), gpu=gpu)


def render(spec: TrialSpec, monkeypatch, **extra_env):
    step = spec.step(label="trial 1", environment=RUN_STORE)
    return pod_operator(step, monkeypatch, **extra_env).build_pod_request_obj(dry_run=True)


EVALUATION = Step(module="training.evaluate", arguments=("--run-id", "abc", "--data-dir",
                                                         "s3://bucket/splits"),
                  folder="pod-test", name="evaluation", environment=RUN_STORE)


def inline_environment(pod) -> dict[str, str]:
    return {env.name: env.value for env in pod.spec.containers[0].env or []}


@pytest.fixture
def spec(sample_splits):
    return TrialSpec(search_id="pod-test", trial_num=1, data_dir=str(sample_splits),
                     hyperparams=HyperParams(batch_size=16, seq_len=16, rnn_size=16,
                                             embedding_size=8, optimizer="adam"),
                     fit=FitSettings(num_epochs=1))


@pytest.fixture
def trial_pod(airflow_db, spec, monkeypatch):
    return render(spec, monkeypatch)


def test_the_pod_runs_the_trainer_image_with_the_trial_command(trial_pod, spec):
    container = trial_pod.spec.containers[0]
    assert container.image == "registry.example/tweetbot-trainer:1.2.3"
    assert container.command == ["python", "-m", "training.trial"]
    # The very trial, plus the pod's own result and checkpoint paths.
    assert spec_from_args(build_parser().parse_args(container.args)) == TrialSpec(
        **{**spec.__dict__, "result_path": Path("/airflow/xcom/return.json"),
           "checkpoint_dir": Path("/tmp/tweetbot/runs/pod-test/trial-001")})
    assert trial_pod.metadata.namespace == "ml"
    assert trial_pod.metadata.labels["app.kubernetes.io/component"] == "trial"


def test_the_pod_runs_as_the_trainer_images_user_never_root(trial_pod):
    from tweetbot_airflow.pod_settings import TRAINER_UID

    dockerfile = (REPO / "docker" / "trainer" / "Dockerfile").read_text()
    assert re.findall(r"^USER (\S+)", dockerfile, re.M)[-1] == str(TRAINER_UID)
    security = trial_pod.spec.security_context
    assert (security.run_as_non_root, security.run_as_user, security.fs_group) == (
        True, TRAINER_UID, TRAINER_UID)  # fs_group: the checkpoint volume is writable
    container = trial_pod.spec.containers[0].security_context
    assert container.allow_privilege_escalation is False
    assert container.capabilities.drop == ["ALL"]
    # Read-only root; what a step writes goes to /tmp, the pod's own scratch disk.
    assert container.read_only_root_filesystem is True
    mounts = {m.mount_path: m.name for m in trial_pod.spec.containers[0].volume_mounts}
    assert mounts["/tmp"] == "scratch"
    scratch, = [v for v in trial_pod.spec.volumes if v.name == "scratch"]
    assert scratch.empty_dir is not None
    env = {v.name: v.value for v in trial_pod.spec.containers[0].env}
    assert env["TWEETBOT_HOME"].startswith("/tmp/") and env["HOME"].startswith("/tmp/")


def test_compose_hands_every_pod_setting_to_airflow():
    import tweetbot_airflow.pod_settings as pod_settings
    from training.stack import compose

    read = set(re.findall(r'"(TWEETBOT_(?:K8S|TRAINER)_\w+)"',
                          Path(pod_settings.__file__).read_text()))
    passed = {name for name, _, _ in compose.OPTIONAL_VARIABLES}
    assert read and read <= passed


def test_with_a_checkpoint_volume_a_retried_pod_resumes_from_it(airflow_db, spec, monkeypatch):
    pod = render(spec, monkeypatch, TWEETBOT_K8S_CHECKPOINT_PVC="tweetbot-checkpoints")
    container = pod.spec.containers[0]
    assert container.args[container.args.index("--checkpoint-dir") + 1] == (
        "/checkpoints/pod-test/trial-001")
    assert [(m.name, m.mount_path) for m in container.volume_mounts
            if m.name == "checkpoints"] == [("checkpoints", "/checkpoints")]
    assert [v.persistent_volume_claim.claim_name for v in pod.spec.volumes
            if v.name == "checkpoints"] == ["tweetbot-checkpoints"]


def test_the_pod_asks_for_a_gpu_and_its_resources(trial_pod):
    resources = trial_pod.spec.containers[0].resources
    assert resources.limits["nvidia.com/gpu"] == "1"
    assert resources.requests == {"cpu": "4", "memory": "16Gi"}
    assert resources.limits["memory"] == "16Gi"
    assert trial_pod.spec.node_selector == {"accelerator": "nvidia-h100"}
    assert [(t.key, t.operator, t.effect) for t in trial_pod.spec.tolerations] == [
        ("nvidia.com/gpu", "Exists", "NoSchedule")]


def test_credentials_come_from_a_secret_the_runs_store_with_the_step(trial_pod):
    container = trial_pod.spec.containers[0]
    assert [source.secret_ref.name for source in container.env_from] == ["tweetbot-mlflow-s3"]
    inline = inline_environment(trial_pod)
    assert not set(inline) & {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                              "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert {k: inline[k] for k in RUN_STORE} == RUN_STORE
    # The XCom sidecar is what carries the result file back to Airflow.
    assert any(c.name == "airflow-xcom-sidecar" for c in trial_pod.spec.containers)


def test_pods_can_reach_mlflow_at_their_own_address(airflow_db, spec, monkeypatch):
    pod = render(spec, monkeypatch, TWEETBOT_K8S_MLFLOW_URI="http://mlflow.ml.svc:5000")
    inline = inline_environment(pod)
    assert inline["MLFLOW_TRACKING_URI"] == "http://mlflow.ml.svc:5000"
    assert inline["TWEETBOT_EXPERIMENT"] == "nightly"
    names = [env.name for env in pod.spec.containers[0].env]
    assert len(names) == len(set(names))


def test_the_evaluation_pod_asks_for_no_gpu_and_mounts_no_checkpoints(airflow_db,
                                                                      monkeypatch):
    pod = pod_operator(EVALUATION, monkeypatch, gpu=False,
                       TWEETBOT_K8S_CHECKPOINT_PVC="tweetbot-checkpoints"
                       ).build_pod_request_obj(dry_run=True)
    container = pod.spec.containers[0]
    assert container.command == ["python", "-m", "training.evaluate"]
    assert "nvidia.com/gpu" not in container.resources.limits
    assert container.resources.requests == {"cpu": "4", "memory": "16Gi"}
    assert not pod.spec.node_selector and not pod.spec.tolerations
    assert not [m for m in container.volume_mounts or [] if m.name == "checkpoints"]
    assert "--checkpoint-dir" not in container.args


# Kubernetes' rule for a label value: at most 63 characters, alphanumerics at
# both ends, dashes, underscores and dots between.
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def task_context(run_id: str) -> dict:
    """What a running task hands the operator, as far as a pod's labels read it."""
    ti = SimpleNamespace(dag_id="tweetbot_training", task_id="trial", map_index=6,
                         try_number=2)
    return {"ti": ti, "run_id": run_id, "dag": SimpleNamespace()}


def test_a_trial_pod_is_labelled_for_cost_attribution_and_told_its_gpus(airflow_db, spec,
                                                                         monkeypatch):
    step = TrialSpec(**{**spec.__dict__, "trial_num": 7}).step(environment=RUN_STORE)
    assert step.trial_num == 7 and Step.from_json(step.to_json()) == step
    run_id = "scheduled__2026-11-29T03:00:00+00:00"
    pod = pod_operator(step, monkeypatch, TWEETBOT_K8S_GPUS="2").build_pod_request_obj(
        task_context(run_id), dry_run=True)
    labels = pod.metadata.labels
    assert (labels["tweetbot/step"], labels["tweetbot/trial"]) == ("trial", "7")
    # The provider labels the DAG run, made label-safe (no ":" or "+", a hash added);
    # the exact id is an annotation.
    assert labels["run_id"].startswith("scheduled__2026-11-29T0300000000-")
    assert pod.metadata.annotations["tweetbot/dag-run-id"] == run_id
    assert (labels["dag_id"], labels["task_id"], labels["map_index"]) == (
        "tweetbot_training", "trial", "6")
    assert all(len(value) <= 63 and LABEL_VALUE.fullmatch(value) for value in labels.values())
    # The step's process is told the GPUs its pod requests: what its cost counts.
    assert inline_environment(pod)["TWEETBOT_ACCELERATORS"] == "2"
    assert pod.spec.containers[0].resources.limits["nvidia.com/gpu"] == "2"


def test_the_evaluation_pod_holds_no_accelerator_and_says_which_step_it_is(airflow_db,
                                                                           monkeypatch):
    pod = pod_operator(EVALUATION, monkeypatch, gpu=False).build_pod_request_obj(dry_run=True)
    assert inline_environment(pod)["TWEETBOT_ACCELERATORS"] == "0"
    assert pod.metadata.labels["tweetbot/step"] == "evaluation"
    assert "tweetbot/trial" not in pod.metadata.labels


def test_pods_wait_for_a_gpu_node_and_an_image_pull_and_fail_when_hung(trial_pod, spec,
                                                                       monkeypatch):
    operator = pod_operator(spec.step(), monkeypatch)
    assert (operator.startup_timeout_seconds, operator.schedule_timeout_seconds) == (900, 1800)
    assert operator.execution_timeout.total_seconds() == 12 * 3600
    assert operator.logging_interval == 60 and operator.log_events_on_failure
    assert trial_pod.spec.containers[0].image_pull_policy == "IfNotPresent"
    tuned = pod_operator(spec.step(), monkeypatch, TWEETBOT_K8S_SCHEDULE_TIMEOUT="3600",
                         TWEETBOT_K8S_EXECUTION_TIMEOUT="600")
    assert tuned.schedule_timeout_seconds == 3600
    assert tuned.execution_timeout.total_seconds() == 600
    with pytest.raises(InputError, match="TWEETBOT_K8S_STARTUP_TIMEOUT: expected a whole"):
        pod_operator(spec.step(), monkeypatch, TWEETBOT_K8S_STARTUP_TIMEOUT="15m")


@pytest.mark.slow
def test_that_very_command_run_locally_produces_a_valid_trial_result(trial_pod, spec,
                                                                     tmp_path):
    from training.tracking.search_store import SearchStore

    SearchStore(spec.search_id).create_trial(spec.trial_num, spec.hyperparams)  # suggested
    container = trial_pod.spec.containers[0]
    arguments = list(container.args)
    # The one change: the pod's own paths (and MLflow store) become local ones.
    arguments[arguments.index("--result-path") + 1] = str(tmp_path / "return.json")
    arguments[arguments.index("--checkpoint-dir") + 1] = str(tmp_path / "checkpoints")
    completed = subprocess.run([sys.executable, *container.command[1:], *arguments],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((tmp_path / "return.json").read_text())
    assert result["status"] == "ok" and result["trial_num"] == 1
    assert result["val_loss"] > 0 and result["num_epochs"] == 1 and result["run_id"]
