"""``docker-compose.yml``, rendered from the stack's definition.

    python -m training.stack compose > docker-compose.yml

The services, their commands, environments, files, health checks and start order
come from ``training.stack.definition``, the very list the native launcher
starts; only what compose brings itself is added here: the PostgreSQL, MinIO
and Redis containers, images and how to build them, named volumes, published
ports, and the settings a user changes in ``.env``:

- the executor: the LocalExecutor by default; ``AIRFLOW_EXECUTOR=CeleryExecutor``
  with ``docker compose --profile celery`` adds Redis and the Celery workers (a
  CPU worker and a GPU-queue worker; on GPU machines, give that one the GPU);
- trials on Kubernetes: ``TWEETBOT_TRIAL_EXECUTOR=kubernetes``, a kubeconfig
  folder (``KUBECONFIG_DIR``) and the pods' settings (``TWEETBOT_K8S_*``).

Secrets are ``${VARIABLES}`` that compose fills from ``.env`` (``.env.example``
lists every variable); nothing secret is in the file. A test checks the
committed file is what this renders.
"""

from __future__ import annotations

import json

import yaml

from training.stack.definition import (
    Addresses,
    Secrets,
    Service,
    StackSettings,
    services,
    worker_service_name,
)

HEADER = """\
# Rendered by `python -m training.stack compose` from training/stack/definition.py,
# the definition the native launcher (`make stack-up`) starts too: edit that, not this.
# Secrets and versions come from .env (see .env.example).
"""
STATE = "/opt/tweetbot/state"  # AIRFLOW_HOME, TWEETBOT_HOME and config files, a volume
KUBE = "/opt/tweetbot/kube"  # the kubeconfig folder, for trials on a cluster
POSTGRES_IMAGE = "postgres:17.6"
REDIS_IMAGE = "redis:7.4.5"
MINIO_IMAGE = "minio/minio:RELEASE.2025-09-07T16-13-09Z"
# Each image of the project: its tag and how it is built.
IMAGES = {
    "airflow": ("tweetbot-airflow:${TWEETBOT_VERSION}",
                {"context": ".", "dockerfile": "docker/airflow/Dockerfile"}),
    "airflow-train": ("tweetbot-airflow-train:${TWEETBOT_VERSION}",
                      {"context": ".", "dockerfile": "docker/airflow/Dockerfile",
                       "target": "train"}),
    "mlflow": ("tweetbot-mlflow:${TWEETBOT_VERSION}",
               {"context": ".", "dockerfile": "mlflow/Dockerfile"}),
}
CELERY_PROFILE = "celery"
# The variables .env must set: (name, what it is).
VARIABLES = (
    ("TWEETBOT_VERSION", "the images' tag (tweetbot-airflow, -airflow-train, -mlflow): a version"),
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
# The variables .env may set: (name, default, what it is).
OPTIONAL_VARIABLES = (
    ("AIRFLOW_EXECUTOR", "LocalExecutor",
     "CeleryExecutor together with `docker compose --profile celery`"),
    ("TWEETBOT_TRIAL_EXECUTOR", "local", "kubernetes: trials, training and evaluation "
     "run as pods on the cluster of KUBECONFIG_DIR/config"),
    ("KUBECONFIG_DIR", "./.kube", "a folder holding the cluster's kubeconfig as `config`"),
    ("TWEETBOT_TRAINER_IMAGE", "", "the pods' image (default tweetbot-trainer:<version>)"),
    ("TWEETBOT_K8S_NAMESPACE", "", "the pods' namespace (default tweetbot)"),
    ("TWEETBOT_K8S_MLFLOW_URI", "", "MLflow's address as pods reach it"),
    ("TWEETBOT_K8S_CHECKPOINT_PVC", "", "a ReadWriteMany claim for checkpoints"),
    ("TWEETBOT_K8S_GPUS", "", "GPUs per training pod (default 1)"),
    ("TWEETBOT_K8S_CPU", "", "CPU request per pod (default 2)"),
    ("TWEETBOT_K8S_MEMORY", "", "memory request and limit per pod (default 8Gi)"),
    ("TWEETBOT_K8S_NODE_SELECTOR", "", "JSON object selecting GPU nodes"),
    ("TWEETBOT_K8S_TOLERATIONS", "", "JSON list (default: the nvidia.com/gpu taint)"),
    ("TWEETBOT_K8S_ENV_SECRET", "", "the secret with the pods' MLflow and S3 settings"),
    ("TWEETBOT_K8S_STARTUP_TIMEOUT", "", "seconds from scheduled to running (900)"),
    ("TWEETBOT_K8S_SCHEDULE_TIMEOUT", "", "seconds from created to scheduled (1800)"),
    ("TWEETBOT_K8S_EXECUTION_TIMEOUT", "", "seconds a step may run (43200)"),
    ("TWEETBOT_LOCAL_ACCELERATORS", "0", "GPUs a local step that trains holds on a "
     "worker (what its accelerator-seconds count)"),
    ("TWEETBOT_DEADLINE", "PT12H", "alert when a training run is not finished this long "
     "after it was queued (0: never)"),
    ("TWEETBOT_APPROVAL_TIMEOUT", "PT12H", "how long approve_promotion waits for an answer"),
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
            "restart": "unless-stopped", "profiles": [CELERY_PROFILE]},
        **{service.name: _service(service, settings) for service in defined}},
        "volumes": {"postgres": {}, "minio": {}, "state": {}},
        "configs": {_config_name(service, path): {"content": content}
                    for service in defined for path, content in service.files.items()}}
    return HEADER + yaml.safe_dump(document, sort_keys=False, width=100)


def env_example() -> str:
    lines = ["# Copy to .env and fill in; never commit the real one.", "",
             "# Required."]
    for name, meaning in VARIABLES:
        lines += [f"# {meaning}", f"{name}="]
    lines += ["", "# Optional: the defaults are shown."]
    for name, default, meaning in OPTIONAL_VARIABLES:
        lines += [f"# {meaning}", f"#{name}={default}"]
    return "\n".join(lines) + "\n"


def _optional(name: str) -> str:
    default, = [d for n, d, _ in OPTIONAL_VARIABLES if n == name]
    return f"${{{name}:-{default}}}"


def _service(service: Service, settings: StackSettings) -> dict:
    tag, build = IMAGES[service.image]
    worker = service.name in _worker_names(settings)
    airflow = service.image.startswith("airflow")
    environment = dict(service.environment)
    spec = {"image": tag, "build": build, "environment": environment}
    if airflow:
        environment.update(_airflow_settings())
        spec["volumes"] = [f"state:{STATE}", "./dags:/opt/tweetbot/dags:ro",
                           "./plugins:/opt/tweetbot/plugins:ro",
                           f"{_optional('KUBECONFIG_DIR')}:{KUBE}:ro"]
    commands = [list(command) for command in service.commands]
    lines = [" ".join(_quoted(part) for part in command) for command in commands]
    if worker:  # a worker under the LocalExecutor would wait for tasks that never come
        lines.insert(0, '[ "$$AIRFLOW__CORE__EXECUTOR" = CeleryExecutor ] || '
                        '{ echo "the celery profile needs AIRFLOW_EXECUTOR=CeleryExecutor '
                        'in .env" >&2; exit 2; }')
    if len(lines) == 1:
        spec["command"] = commands[0]
    else:  # steps run in turn; a long-running last one replaces the shell
        if service.health is not None:
            lines[-1] = f"exec {lines[-1]}"
        spec["entrypoint"] = ["/bin/bash", "-c", " && ".join(lines)]
    dependencies = {name: {"condition": "service_healthy"} for name in ("postgres", "minio")
                    if service.name in ("databases", "bucket")}
    if airflow and service.health is not None:
        # Only the celery profile starts Redis; the LocalExecutor never needs it.
        dependencies["redis"] = {"condition": "service_healthy", "required": worker}
    for name in service.after:
        condition = ("service_completed_successfully" if name in ("databases", "bucket",
                     "airflow-init") else "service_healthy")
        dependencies[name] = {"condition": condition}
    if dependencies:
        spec["depends_on"] = dependencies
    if worker:
        spec["profiles"] = [CELERY_PROFILE]
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


def _worker_names(settings: StackSettings) -> set[str]:
    return {worker_service_name(worker) for worker in settings.workers}


def _airflow_settings() -> dict[str, str]:
    """What .env chooses for every Airflow service: the executor, and where steps run."""
    return {"AIRFLOW__CORE__EXECUTOR": _optional("AIRFLOW_EXECUTOR"),
            "KUBECONFIG": f"{KUBE}/config",
            **{name: _optional(name) for name, _, _ in OPTIONAL_VARIABLES
               if name.startswith(("TWEETBOT_TRIAL", "TWEETBOT_TRAINER", "TWEETBOT_K8S",
                                   "TWEETBOT_LOCAL", "TWEETBOT_DEADLINE",
                                   "TWEETBOT_APPROVAL"))}}


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
