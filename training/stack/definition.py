"""The stack, described once: each service's command, environment, files, health
check and start order.

Two launchers read this: ``training.stack.native`` runs the services as processes
on this machine (the tests, a user without Docker) and ``training.stack.compose``
renders ``docker-compose.yml`` from it. Only where the two really differ does a
service say so: a launcher that brings its own PostgreSQL, and object storage
that is moto's S3 server natively and MinIO in compose.

    databases, bucket      one-shot: create the stack's databases and its bucket
    mlflow                 tracking server: Postgres store, S3 artifacts proxied, basic auth
    airflow-init           one-shot: Airflow's users file, migrations, the trials pool
    airflow-api-server     UI and REST API        airflow-scheduler
    airflow-dag-processor                          airflow-triggerer
    airflow-worker-<name>  CeleryExecutor only: one per ``Worker``, each with its own
                           TWEETBOT_HOME, working and temp folders (another machine)

With the LocalExecutor the scheduler runs every task; with the CeleryExecutor the
workers do, taking them from Redis (the broker) by queue: ``default`` for the
pipeline's light steps, ``tweetbot_gpu`` for the ones that train.

Secrets come in through ``Secrets`` (generated and kept by the native launcher,
``${VARIABLES}`` from ``.env`` in compose) and are written only to the services'
environments and 0600 files, never to a command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from training.core.config import Frozen
from training.pipeline.run_config import GPU_QUEUE, TRIALS_POOL

REPO = Path(__file__).resolve().parents[2]
ADMIN = "admin"
# How long the MLflow server remembers a checked login (its basic-auth cache).
MLFLOW_AUTH_CACHE_SECONDS = 300


class Health(Frozen):
    """How a launcher knows a service is ready: an HTTP URL answering 2xx, a
    command exiting 0, or an Airflow component reported healthy by the API
    server's monitor."""

    url: str | None = None
    command: tuple[str, ...] | None = None
    airflow_component: str | None = None  # scheduler, triggerer, dag_processor


class Service(Frozen):
    """One service. ``commands`` run in order, each to completion but the last of
    a service with a ``health`` check, which keeps running; a service without one
    runs once and must exit 0."""

    name: str
    commands: tuple[tuple[str, ...], ...]
    environment: dict[str, str] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)  # path -> content, written first
    health: Health | None = None
    after: tuple[str, ...] = ()
    # Which image runs it in compose: airflow, airflow-train (the services that run
    # steps that train: TensorFlow), or mlflow.
    image: str = "airflow"
    workdir: str | None = None  # the working folder, when not the stack's home

    @property
    def one_shot(self) -> bool:
        return self.health is None


class Secrets(Frozen):
    mlflow_admin_password: str
    airflow_admin_password: str
    s3_access_key: str
    s3_secret_key: str
    jwt_secret: str
    fernet_key: str
    api_secret_key: str
    mlflow_flask_secret: str


class Addresses(Frozen):
    """Where each service listens, as the other services reach it."""

    postgres: str  # a SQLAlchemy server URL without a database
    s3_host: str
    s3_port: int = 9000
    mlflow_host: str
    mlflow_port: int = 5000
    airflow_host: str
    airflow_port: int = 8080
    scheduler_health_port: int = 8974
    redis: str = "redis://127.0.0.1:6379/0"  # the Celery broker
    worker_log_port: int = 8793  # the first worker's log server; the next +1, ...
    bind: str = "127.0.0.1"  # the interface services listen on

    @property
    def s3_url(self) -> str:
        return f"http://{self.s3_host}:{self.s3_port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://{self.mlflow_host}:{self.mlflow_port}"

    @property
    def airflow_url(self) -> str:
        return f"http://{self.airflow_host}:{self.airflow_port}"


class Worker(Frozen):
    """An Airflow Celery worker: its name (in its Celery node name and in the
    hostname Airflow records on its task instances), the queues it serves and how
    many tasks it runs at once (1 on a machine with one GPU)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    queues: tuple[str, ...]
    concurrency: int = Field(1, ge=1)


CPU_WORKER = Worker(name="cpu", queues=("default",), concurrency=2)


class StackSettings(Frozen):
    """What a launcher decides: addresses, folders, names and sizes. The defaults
    fit a laptop (2 cores): few scheduler workers, one MLflow worker."""

    addresses: Addresses
    home: str  # the services' working state (AIRFLOW_HOME, TWEETBOT_HOME, config files)
    dags_folder: str = str(REPO / "dags")
    plugins_folder: str = str(REPO / "plugins")
    name: str = "tweetbot"  # prefixes the databases and names the bucket
    parallelism: int = Field(4, ge=1, description="task processes of the LocalExecutor")
    trial_slots: int = Field(2, ge=1, description="trials (GPUs) in use at once")
    mlflow_workers: int = Field(1, ge=1)
    run_defaults: str = ""  # a file of run-parameter defaults for the DAG (optional)
    executor: Literal["LocalExecutor", "CeleryExecutor"] = "LocalExecutor"
    workers: tuple[Worker, ...] = (CPU_WORKER, Worker(name="gpu-1", queues=(GPU_QUEUE,)))
    retry_delay: int = Field(120, ge=0, description="seconds before a failed task's retry")
    heartbeat_timeout: int = Field(300, ge=10, description=(
        "seconds without a heartbeat before the scheduler fails a task (a lost worker)"))
    dag_environment: dict[str, str] = Field(default_factory=dict, description=(
        "settings the DAG files read, for every Airflow service: TWEETBOT_SCHEDULE, "
        "TWEETBOT_DEADLINE, TWEETBOT_APPROVAL_TIMEOUT, ..."))

    @property
    def airflow_database(self) -> str:
        return f"{self.name}_airflow"

    @property
    def mlflow_database(self) -> str:
        return f"{self.name}_mlflow"

    @property
    def bucket(self) -> str:
        return self.name.replace("_", "-")

    def database_url(self, database: str) -> str:
        return f"{self.addresses.postgres}/{database}"

    @property
    def celery(self) -> bool:
        return self.executor == "CeleryExecutor"

    def worker_folder(self, worker: Worker) -> Path:
        return Path(self.home) / "workers" / worker.name


def s3_client_environment(settings: StackSettings, secrets: Secrets) -> dict[str, str]:
    """What boto3 (and MLflow's S3 client) need: the endpoint and the keys."""
    return {"AWS_ENDPOINT_URL": settings.addresses.s3_url,
            "AWS_ACCESS_KEY_ID": secrets.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": secrets.s3_secret_key,
            "AWS_DEFAULT_REGION": "us-east-1"}


def mlflow_client_environment(settings: StackSettings, secrets: Secrets) -> dict[str, str]:
    """What the pipeline needs to reach MLflow: the server and a user, nothing else
    (artifacts go through the server, so clients hold no storage keys)."""
    return {"MLFLOW_TRACKING_URI": settings.addresses.mlflow_url,
            "MLFLOW_TRACKING_USERNAME": ADMIN,
            "MLFLOW_TRACKING_PASSWORD": secrets.mlflow_admin_password}


def airflow_environment(settings: StackSettings, secrets: Secrets) -> dict[str, str]:
    """The environment every Airflow service (and so every task) shares."""
    home = Path(settings.home)
    addresses = settings.addresses
    return {
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": settings.dags_folder,
        "AIRFLOW__CORE__PLUGINS_FOLDER": settings.plugins_folder,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": settings.executor,
        "AIRFLOW__CORE__PARALLELISM": str(settings.parallelism),
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": str(settings.retry_delay),
        "AIRFLOW__CORE__FERNET_KEY": secrets.fernet_key,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{addresses.airflow_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(_passwords_file(settings)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.database_url(settings.airflow_database),
        "AIRFLOW__API__BASE_URL": addresses.airflow_url,
        "AIRFLOW__API__SECRET_KEY": secrets.api_secret_key,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.jwt_secret,
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": addresses.bind,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT":
            str(addresses.scheduler_health_port),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(settings.heartbeat_timeout),
        **(celery_environment(settings) if settings.celery else {}),
        "TWEETBOT_HOME": str(home / "tweetbot"),
        "TWEETBOT_GPU_QUEUE": GPU_QUEUE,
        "TWEETBOT_SPLITS": f"s3://{settings.bucket}/splits",
        "TWEETBOT_MLFLOW_UI_URL": addresses.mlflow_url,
        **({"TWEETBOT_RUN_DEFAULTS": settings.run_defaults} if settings.run_defaults else {}),
        **settings.dag_environment,
        **mlflow_client_environment(settings, secrets),
        **s3_client_environment(settings, secrets),
    }


def celery_environment(settings: StackSettings) -> dict[str, str]:
    """The CeleryExecutor's settings: Redis as the broker, keys under the stack's
    own prefix (several stacks can share one Redis); the metadata database keeps
    the results."""
    return {
        "AIRFLOW__CELERY__BROKER_URL": settings.addresses.redis,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + settings.database_url(
            settings.airflow_database),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": f"{settings.name}:",
        # A message not acknowledged this long goes to another worker; a
        # trial can take hours. Lost workers are the heartbeat's to find.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
        # A worker takes a task only when it can start it: a GPU worker busy with
        # one trial must not hold the next while another GPU idles.
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
    }


def worker_service(settings: StackSettings, airflow: dict[str, str], worker: Worker,
                   log_server_port: int) -> Service:
    """One Celery worker: its own TWEETBOT_HOME, working and temp folders, so it
    shares nothing with the others but PostgreSQL, S3, Redis and MLflow."""
    folder = settings.worker_folder(worker)
    own = {"TWEETBOT_HOME": str(folder / "tweetbot"), "TMPDIR": str(folder / "tmp"),
           "TWEETBOT_WORKER": worker.name,
           # Task instances record this worker's name, not just the machine's.
           "AIRFLOW__CORE__HOSTNAME_CALLABLE": "training.stack.worker.hostname",
           "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_server_port)}
    return Service(
        name=worker_service_name(worker), after=("airflow-api-server",), image="airflow-train",
        environment={**airflow, **own}, workdir=str(folder / "work"),
        commands=(("mkdir", "-p", own["TWEETBOT_HOME"], own["TMPDIR"], str(folder / "work")),
                  ("airflow", "celery", "worker", "--queues", ",".join(worker.queues),
                   "--concurrency", str(worker.concurrency),
                   "--celery-hostname", f"{worker.name}@%h")),
        health=Health(command=("python", "-m", "training.stack", "worker-ready",
                               worker.name)))


def worker_service_name(worker: Worker) -> str:
    return f"airflow-worker-{worker.name}"


def _passwords_file(settings: StackSettings) -> Path:
    return Path(settings.home) / "airflow" / "simple_auth_manager_passwords.json"


def _mlflow_auth_file(settings: StackSettings) -> Path:
    return Path(settings.home) / "mlflow" / "basic_auth.ini"


def services(settings: StackSettings, secrets: Secrets) -> list[Service]:
    """Every service of the stack, in start order."""
    addresses = settings.addresses
    airflow = airflow_environment(settings, secrets)
    setup = {"TWEETBOT_STACK_DATABASES": ",".join(
                 (settings.airflow_database, settings.mlflow_database)),
             "TWEETBOT_STACK_POSTGRES": addresses.postgres,
             "TWEETBOT_STACK_BUCKET": settings.bucket,
             **s3_client_environment(settings, secrets)}
    mlflow_store = settings.database_url(settings.mlflow_database)
    return [
        Service(name="databases", commands=((
            "python", "-m", "training.stack", "create-databases"),),
            environment=setup),
        Service(name="bucket", commands=(("python", "-m", "training.stack", "create-bucket"),),
                environment=setup),
        Service(
            name="mlflow", image="mlflow", after=("databases", "bucket"),
            commands=(("mlflow", "server", "--host", addresses.bind,
                       "--port", str(addresses.mlflow_port),
                       "--workers", str(settings.mlflow_workers),
                       "--artifacts-destination", f"s3://{settings.bucket}/mlflow",
                       "--serve-artifacts", "--app-name", "basic-auth",
                       "--allowed-hosts", f"{addresses.mlflow_host}:{addresses.mlflow_port},"
                                          f"localhost:{addresses.mlflow_port},"
                                          f"127.0.0.1:{addresses.mlflow_port}"),),
            environment={
                # A database URL may hold a password: the environment, not the command line.
                "MLFLOW_BACKEND_STORE_URI": mlflow_store,
                "MLFLOW_AUTH_CONFIG_PATH": str(_mlflow_auth_file(settings)),
                "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN,
                "MLFLOW_AUTH_ADMIN_PASSWORD": secrets.mlflow_admin_password,
                "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.mlflow_flask_secret,
                # The job runner (a second process tree) is for features unused here.
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                "MLFLOW_S3_ENDPOINT_URL": addresses.s3_url,
                **s3_client_environment(settings, secrets)},
            files={str(_mlflow_auth_file(settings)): (
                "[mlflow]\ndefault_permission = READ\n"
                f"database_uri = {mlflow_store}\n"
                # Checking a password is slow by design (~0.2 s of scrypt here), and
                # every call of a task pays it: a trial's start makes a dozen. A
                # checked login is remembered this long (per server worker); a
                # changed or removed password is refused at most this late.
                f"auth_cache_ttl_seconds = {MLFLOW_AUTH_CACHE_SECONDS}\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")},
            health=Health(url=f"{addresses.mlflow_url}/health")),
        Service(
            name="airflow-init", after=("databases",), environment=airflow,
            files={str(_passwords_file(settings)):
                   json.dumps({ADMIN: secrets.airflow_admin_password})},
            commands=(("airflow", "db", "migrate"),
                      ("airflow", "pools", "set", TRIALS_POOL, str(settings.trial_slots),
                       "trials running at once (the GPU quota)", "--include-deferred"))),
        Service(name="airflow-api-server", after=("airflow-init",), environment=airflow,
                commands=(("airflow", "api-server", "--host", addresses.bind,
                           "--port", str(addresses.airflow_port)),),
                health=Health(url=f"{addresses.airflow_url}/api/v2/monitor/health")),
        # With the LocalExecutor, the scheduler's machine runs the steps, training too.
        Service(name="airflow-scheduler", after=("airflow-init",), environment=airflow,
                image="airflow-train", commands=(("airflow", "scheduler"),),
                # Asked on the scheduler's own machine (its container, in compose).
                health=Health(url=f"http://127.0.0.1:{addresses.scheduler_health_port}/health")),
        Service(name="airflow-dag-processor", after=("airflow-api-server",),
                environment=airflow, commands=(("airflow", "dag-processor"),),
                health=Health(airflow_component="dag_processor")),
        Service(name="airflow-triggerer", after=("airflow-api-server",), environment=airflow,
                commands=(("airflow", "triggerer"),),
                health=Health(airflow_component="triggerer")),
        *(worker_service(settings, airflow, worker, addresses.worker_log_port + index)
          for index, worker in enumerate(settings.workers) if settings.celery),
    ]
