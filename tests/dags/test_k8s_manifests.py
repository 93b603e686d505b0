"""The Kubernetes side, checked as far as this machine allows (no cluster): every
manifest in k8s/ and every pod the DAG renders validates against Kubernetes'
OpenAPI schema (kubernetes-validate, strict: no unknown fields) and parses into
the Kubernetes client's models."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes.client import ApiClient

from training.core.config import FitSettings, HyperParams
from training.core.records import Step
from training.pipeline.trial_run import TrialSpec

K8S = Path(__file__).resolve().parents[2] / "k8s"
KUBERNETES = "1.31.0"  # the oldest version the manifests claim to fit


def manifests() -> list[dict]:
    return [document for path in sorted(K8S.glob("*.yaml"))
            for document in yaml.safe_load_all(path.read_text()) if document]


def parse_into_model(document: dict):
    """The client's model of a manifest, as the client reads an API answer."""

    class Answer:
        data = json.dumps(document)

    return ApiClient().deserialize(Answer(), f"V1{document['kind']}")


def test_there_are_the_manifests_a_cluster_needs():
    kinds = sorted(d["kind"] for d in manifests())
    assert kinds == ["ConfigMap", "Namespace", "PersistentVolumeClaim", "Role",
                     "RoleBinding", "Secret", "Secret"]


@pytest.mark.parametrize("document", manifests(), ids=lambda d: f"{d['kind']}")
def test_each_manifest_is_valid_kubernetes(document):
    kubernetes_validate.validate(document, KUBERNETES, strict=True)
    model = parse_into_model(document)
    assert model.metadata.name == document["metadata"]["name"]


def test_the_launcher_may_do_what_the_pod_operator_does():
    role, = [d for d in manifests() if d["kind"] == "Role"]
    granted = {(resource, verb) for rule in role["rules"] for resource in rule["resources"]
               for verb in rule["verbs"]}
    needed = {("pods", "create"), ("pods", "get"), ("pods", "watch"), ("pods", "delete"),
              ("pods", "patch"), ("pods/log", "get"), ("pods/exec", "create"),
              ("events", "list")}
    assert needed <= granted


def settings_environment() -> dict[str, str]:
    config, = [d for d in manifests() if d["kind"] == "ConfigMap"]
    return config["data"]


STEPS = {
    "trial": (TrialSpec(search_id="nightly", trial_num=1, data_dir="s3://tweetbot/splits",
                        hyperparams=HyperParams(), fit=FitSettings(num_epochs=3)).step(), True),
    "base": (Step(module="training.train", arguments=("--data-dir", "s3://tweetbot/splits"),
                  folder="nightly", name="base", checkpoint=True), True),
    "evaluation": (Step(module="training.evaluate", arguments=("--run-id", "abc"),
                        folder="nightly", name="evaluation"), False),
}


@pytest.mark.parametrize("gpus", ["1", "0"])
@pytest.mark.parametrize("name", list(STEPS))
def test_every_pod_the_dag_renders_is_valid_kubernetes(airflow_db, monkeypatch, name, gpus):
    from tweetbot_airflow.step_pod import StepPodOperator

    for key, value in {**settings_environment(), "TWEETBOT_K8S_GPUS": gpus}.items():
        monkeypatch.setenv(key, value)
    step, gpu = STEPS[name]
    step = step.model_copy(update={"environment": {"MLFLOW_TRACKING_URI": "http://mlflow:5000",
                                                   "TWEETBOT_EXPERIMENT": "tweetbot"}})
    pod = StepPodOperator(task_id=name, step=step.to_json(), gpu=gpu).build_pod_request_obj(
        dry_run=True)
    document = ApiClient().sanitize_for_serialization(pod)
    kubernetes_validate.validate(document, KUBERNETES, strict=True)
    assert parse_into_model(document).spec.containers[0].image == (
        "registry.example.com/tweetbot-trainer:0.1.0")
    limits = pod.spec.containers[0].resources.limits
    assert ("nvidia.com/gpu" in limits) is (gpu and gpus != "0")
    assert pod.metadata.labels["tweetbot/step"] == name
    environment = {env.name: env.value for env in pod.spec.containers[0].env}
    assert environment["TWEETBOT_ACCELERATORS"] == limits.get("nvidia.com/gpu", "0")
    mounts = [m.mount_path for m in pod.spec.containers[0].volume_mounts or []]
    assert ("/checkpoints" in mounts) is step.checkpoint


def helm_values() -> dict:
    return yaml.safe_load((K8S / "helm" / "values.yaml").read_text())


def test_the_helm_values_deploy_this_version_with_the_trials_pool():
    import tomllib

    from training.pipeline.run_config import TRIALS_POOL

    values = helm_values()
    lock = tomllib.loads((K8S.parent / "uv.lock").read_text())
    airflow, = [p["version"] for p in lock["package"] if p["name"] == "apache-airflow"]
    assert values["airflowVersion"] == airflow
    assert values["images"]["airflow"]["tag"] == metadata.version("tweetbot")
    assert values["executor"] in ("LocalExecutor", "CeleryExecutor")
    assert values["dagProcessor"]["enabled"] and values["triggerer"]["enabled"]
    setup = values["migrateDatabaseJob"]["args"][-1]
    assert not setup.startswith("exec ")  # the pool is set after the migration
    assert f"airflow pools set {TRIALS_POOL} " in setup and "--include-deferred" in setup


def test_the_helm_values_read_the_dags_baked_into_the_image_and_the_pod_settings():
    from airflow.dag_processing.bundles.local import LocalDagBundle

    values = helm_values()
    bundle, = json.loads(values["config"]["dag_processor"]["dag_bundle_config_list"])
    module, _, name = bundle["classpath"].rpartition(".")
    assert (module, name) == (LocalDagBundle.__module__, LocalDagBundle.__name__)
    dockerfile = (K8S.parent / "docker" / "airflow" / "Dockerfile").read_text()
    assert f"COPY --chown=50000:0 dags {bundle['kwargs']['path']}\n" in dockerfile
    sources = yaml.safe_load(values["extraEnvFrom"])
    named = {d["metadata"]["name"]: d for d in manifests()}
    for source in sources:
        reference = source.get("configMapRef") or source.get("secretRef")
        assert named[reference["name"]]["metadata"]["namespace"] == "airflow"
    settings = named["tweetbot-pod-settings"]["data"]
    assert settings["TWEETBOT_TRIAL_EXECUTOR"] == "kubernetes"
