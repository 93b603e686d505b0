"""``docker-compose.yml``, rendered from the stack's definition.

    python -m training.stack compose > docker-compose.yml

The services, their commands, environments, files, health checks and start order
come from ``training.stack.definition``, the very list the native launcher
starts; only what compose brings itself is added here: the PostgreSQL, MinIO
and Redis containers, images, named volumes and published ports. Compose runs
the CeleryExecutor with a CPU worker and a GPU-queue worker (more: copy the
worker; on GPU machines, give it the GPU). Secrets are
``${VARIABLES}`` that compose fills from ``.env`` (``.env.example`` lists them);
nothing secret is in the file. A test checks the committed file is what this
renders.
"""

from __future__ import annotations

import json

import yaml

from training.stack.definition import Addresses, Secrets, Service, StackSettings, services

HEADER = """\
# Rendered by `python -m training.stack compose` from training/stack/definition.py,
# the definition the native launcher (`make stack-up`) starts too: edit that, not this.
# Secrets and versions come from .env (see .env.example).
"""
STATE = "/opt/tweetbot/state"  # AIRFLOW_HOME, TWEETBOT_HOME and config files, a volume
POSTGRES_IMAGE = "postgres:17.6"
REDIS_IMAGE = "redis:7.4.5"
MINIO_IMAGE = "minio/minio:RELEASE.2025-09-07T16-13-09Z"
IMAGES = {"airflow": "tweetbot-airflow:${TWEETBOT_VERSION}",
          "mlflow": "tweetbot-mlflow:${TWEETBOT_VERSION}"}
# The variables .env must set: (name, what it is).
VARIABLES = (
    ("TWEETBOT_VERSION", "image tag of tweetbot-airflow and tweetbot-mlflow"),
    ("POSTGRES_PASSWORD", "the PostgreSQL superuser's password"),
    ("S3_ACCESS_KEY", "MinIO's root user, the services' S3 access key"),
    ("S3_SECRET_KEY", "MinIO's root password, the services' S3 secret key"),
    ("MLFLOW_ADMIN_PASSWORD", "MLflow's admin password (basic auth)"),
    ("AIRFLOW_ADMIN_PASSWORD", "Airflow UI's admin password"),
    ("AIRFLOW_JWT_SECRET", "signs Airflow's task tokens: 64 random bytes"),
    ("AIRFLOW_FERNET_KEY", "encrypts Airflow connections: a Fernet key"),
    ("AIRFLOW_API_SECRET_KEY", "Airflow API server's session key"),
    ("MLFLOW_FLASK_SECRET_KEY", "MLflow server's session key"),
)


def compose_settings() -> tuple[StackSettings, Secrets]:
    addresses = Addresses(postgres="postgresql+psycopg2://postgres:${POSTGRES_PASSWORD}@postgres:5432",
                          s3_host="minio", mlflow_host="mlflow",
                          airflow_host="airflow-api-server", redis="redis://redis:6379/0",
                          bind="0.0.0.0")
    settings = StackSettings(addresses=addresses, home=STATE,
                             dags_folder="/opt/tweetbot/dags",
                             plugins_folder="/opt/tweetbot/plugins",
                             executor="CeleryExecutor")
    secrets = Secrets(mlflow_admin_password="${MLFLOW_ADMIN_PASSWORD}",
                      airflow_admin_password="${AIRFLOW_ADMIN_PASSWORD}",
                      s3_access_key="${S3_ACCESS_KEY}", s3_secret_key="${S3_SECRET_KEY}",
                      jwt_secret="${AIRFLOW_JWT_SECRET}", fernet_key="${AIRFLOW_FERNET_KEY}",
                      api_secret_key="${AIRFLOW_API_SECRET_KEY}",
                      mlflow_flask_secret="${MLFLOW_FLASK_SECRET_KEY}")
    return settings, secrets


def render() -> str:
    settings, secrets = compose_settings()
    defined = services(settings, secrets)
    document = {"name": "tweetbot", "services": {
        "postgres": {
            "image": POSTGRES_IMAGE,
            "environment": {"POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}"},
            "volumes": ["postgres:/var/lib/postgresql/data"],
            "healthcheck": _healthcheck(["pg_isready", "-U", "postgres"]),
            "restart": "unless-stopped"},
        "minio": {
            "image": MINIO_IMAGE,
            "command": ["server", "/data", "--console-address", ":9001"],
            "environment": {"MINIO_ROOT_USER": "${S3_ACCESS_KEY}",
                            "MINIO_ROOT_PASSWORD": "${S3_SECRET_KEY}"},
            "volumes": ["minio:/data"], "ports": ["9001:9001"],
            "healthcheck": _healthcheck(["mc", "ready", "local"]),
            "restart": "unless-stopped"},
        "redis": {
            "image": REDIS_IMAGE,
            "command": ["redis-server", "--save", "", "--appendonly", "no"],
            "healthcheck": _healthcheck(["redis-cli", "ping"]),
            "restart": "unless-stopped"},
        **{service.name: _service(service, settings) for service in defined}},
        "volumes": {"postgres": {}, "minio": {}, "state": {}},
        "configs": {_config_name(service, path): {"content": content}
                    for service in defined for path, content in service.files.items()}}
    return HEADER + yaml.safe_dump(document, sort_keys=False, width=100)


def env_example() -> str:
    lines = ["# Copy to .env and fill in; never commit the real one."]
    for name, meaning in VARIABLES:
        lines += [f"# {meaning}", f"{name}="]
    return "\n".join(lines) + "\n"


def _service(service: Service, settings: StackSettings) -> dict:
    spec = {"image": IMAGES[service.image], "environment": service.environment,
            "volumes": [f"state:{STATE}"]}
    if service.image == "airflow":
        spec["volumes"] += ["./dags:/opt/tweetbot/dags:ro", "./plugins:/opt/tweetbot/plugins:ro"]
    commands = [list(command) for command in service.commands]
    if len(commands) == 1:
        spec["command"] = commands[0]
    else:  # steps run in turn; a long-running last one replaces the shell
        lines = [" ".join(_quoted(part) for part in command) for command in commands]
        if service.health is not None:
            lines[-1] = f"exec {lines[-1]}"
        spec["entrypoint"] = ["/bin/bash", "-c", " && ".join(lines)]
    dependencies = {name: {"condition": "service_healthy"} for name in ("postgres", "minio")
                    if service.name in ("databases", "bucket")}
    if settings.celery and service.image == "airflow" and service.health is not None:
        dependencies["redis"] = {"condition": "service_healthy"}
    for name in service.after:
        condition = ("service_completed_successfully" if name in ("databases", "bucket",
                     "airflow-init") else "service_healthy")
        dependencies[name] = {"condition": condition}
    if dependencies:
        spec["depends_on"] = dependencies
    if service.workdir:
        spec["working_dir"] = service.workdir
    if service.files:
        spec["configs"] = [{"source": _config_name(service, path), "target": path}
                           for path in service.files]
    if service.health is not None:
        spec["healthcheck"] = _healthcheck(_health_command(service))
        spec["restart"] = "unless-stopped"
    ports = {"mlflow": settings.addresses.mlflow_port,
             "airflow-api-server": settings.addresses.airflow_port}
    if service.name in ports:
        spec["ports"] = [f"{ports[service.name]}:{ports[service.name]}"]
    return spec


def _health_command(service: Service) -> list[str]:
    if service.health.command:
        return list(service.health.command)
    if service.health.url:
        return ["python", "-c", f"import urllib.request; "
                f"urllib.request.urlopen({json.dumps(service.health.url)}, timeout=5)"]
    job = {"dag_processor": "DagProcessorJob", "triggerer": "TriggererJob"}[
        service.health.airflow_component]
    return ["airflow", "jobs", "check", "--job-type", job, "--local"]


def _healthcheck(test: list[str]) -> dict:
    return {"test": ["CMD", *test], "interval": "10s", "timeout": "10s", "retries": 12,
            "start_period": "30s"}


def _config_name(service: Service, path: str) -> str:
    return f"{service.name}-{path.rsplit('/', 1)[-1].replace('.', '-')}"


def _quoted(part: str) -> str:
    return part if part.replace("-", "").replace("_", "").isalnum() else json.dumps(part)
