"""docker-compose.yml as compose would read it (no Docker engine here): filled in
from an .env the way compose interpolates, checked against the compose
specification's JSON schema, and its services checked against the stack's
definition, profile by profile."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from training.stack import compose
from training.stack.definition import services

REPO = Path(__file__).resolve().parents[2]
ENV = {name: f"value-of-{name.lower()}" for name, _ in compose.VARIABLES} | {
    "TWEETBOT_VERSION": "0.1.0"}
OWN = {"postgres", "minio", "redis"}  # what compose brings itself


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ${NAME}, ${NAME:-default}, and $$ for a literal $."""
    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(3)
        if env.get(name):
            return env[name]
        assert default is not None, f"{name} is unset and has no default"
        return default

    return re.sub(r"\$\$|\$\{(\w+)(:-([^}]*))?\}", value, text)


def loaded(env: dict[str, str] = ENV) -> dict:
    return yaml.safe_load(interpolate((REPO / "docker-compose.yml").read_text(), env))


def active(document: dict, profiles: set[str]) -> dict:
    """The services `docker compose [--profile ...] up` starts."""
    return {name: spec for name, spec in document["services"].items()
            if not spec.get("profiles") or profiles & set(spec["profiles"])}


def compose_schema() -> dict:
    vendored = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    return json.loads((vendored / "compose-spec.json").read_text())


def test_the_file_validates_against_the_compose_specification():
    jsonschema.validate(loaded(), compose_schema())


def test_the_schema_check_catches_a_misspelt_key():
    document = loaded()
    document["services"]["mlflow"]["healthchek"] = document["services"]["mlflow"].pop(
        "healthcheck")
    with pytest.raises(jsonschema.ValidationError, match="healthchek"):
        jsonschema.validate(document, compose_schema())


def test_its_services_are_the_definitions_plus_what_compose_brings():
    settings, secrets = compose.compose_settings()
    defined = services(settings, secrets)
    document = loaded()
    assert set(document["services"]) == OWN | {s.name for s in defined}
    raw = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    for service in defined:
        spec = raw[service.name]
        chosen_in_env = {"AIRFLOW__CORE__EXECUTOR"}  # .env picks it in compose
        assert {k: v for k, v in service.environment.items() if k not in chosen_in_env} \
            .items() <= spec["environment"].items(), service.name
        run = spec.get("command") or spec["entrypoint"][-1]
        for command in service.commands:
            assert " ".join(command).replace('"', "") in " ".join(
                run if isinstance(run, list) else [run]).replace('"', ""), service.name


@pytest.mark.parametrize("profiles", [set(), {"celery"}], ids=["default", "celery"])
def test_every_reference_resolves_in_each_profile(profiles):
    document = loaded()
    running = active(document, profiles)
    for name, spec in running.items():
        for needed, condition in spec.get("depends_on", {}).items():
            if condition.get("required", True):
                assert needed in running, f"{name} needs {needed}"
            else:
                assert needed in document["services"], f"{name} names {needed}"
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in document["volumes"], f"{name}: volume {source}"
        for config in spec.get("configs", []):
            assert config["source"] in document["configs"], name
        build = spec.get("build")
        if build:
            dockerfile = (REPO / build["context"] / build["dockerfile"]).read_text()
            if "target" in build:
                assert re.search(rf"^FROM .+ AS {build['target']}$", dockerfile, re.M), name


def test_the_local_executor_by_default_celery_workers_with_their_profile():
    default = active(loaded(), set())
    assert "redis" not in default and not [n for n in default if "worker" in n]
    assert default["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == (
        "LocalExecutor")
    celery = active(loaded(ENV | {"AIRFLOW_EXECUTOR": "CeleryExecutor"}), {"celery"})
    assert {"redis", "airflow-worker-cpu", "airflow-worker-gpu-1"} <= set(celery)
    for name in ("airflow-scheduler", "airflow-worker-gpu-1"):
        assert celery[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    worker = celery["airflow-worker-gpu-1"]
    assert worker["depends_on"]["redis"] == {"condition": "service_healthy", "required": True}
    steps = worker["entrypoint"][-1].split(" && ")
    assert "CeleryExecutor" in steps[0] and "exit 2" in steps[0]
    assert steps[-1].startswith("exec airflow celery worker")


def test_what_runs_steps_that_train_has_tensorflow_the_rest_does_not():
    document = loaded()
    images = {name: spec["image"] for name, spec in document["services"].items()}
    train = {name for name, image in images.items() if "airflow-train" in image}
    assert train == {"airflow-scheduler", "airflow-worker-cpu", "airflow-worker-gpu-1"}
    assert images["airflow-api-server"] == "tweetbot-airflow:0.1.0"


def test_images_are_versions_and_the_env_example_lists_every_variable():
    text = (REPO / "docker-compose.yml").read_text()
    for image in re.findall(r"image: (\S+)", text):
        assert ":" in image and not image.endswith(":latest"), image
    used = set(re.findall(r"\$\{(\w+)", text))
    example = (REPO / ".env.example").read_text()
    assert used == set(re.findall(r"^#?(\w+)=", example, re.M))


def test_trials_reach_a_cluster_with_a_kubeconfig_and_the_pod_settings():
    changed = {"TWEETBOT_TRIAL_EXECUTOR": "kubernetes", "KUBECONFIG_DIR": "/home/me/.kube",
               "TWEETBOT_K8S_MLFLOW_URI": "https://mlflow.example.com"}
    scheduler = loaded(ENV | changed)["services"]["airflow-scheduler"]
    assert "/home/me/.kube:/opt/tweetbot/kube:ro" in scheduler["volumes"]
    environment = scheduler["environment"]
    assert environment["KUBECONFIG"] == "/opt/tweetbot/kube/config"
    assert environment["TWEETBOT_TRIAL_EXECUTOR"] == "kubernetes"
    assert environment["TWEETBOT_K8S_MLFLOW_URI"] == "https://mlflow.example.com"
