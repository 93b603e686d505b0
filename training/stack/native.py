"""The stack as processes on this machine: what the tests run, and a user without Docker.

    python -m training.stack up      # prints the Airflow and MLflow addresses
    python -m training.stack down

Reads the services from ``training.stack.definition`` and starts them in order,
each in its own process group with its log in ``<home>/logs/``, and waits for
each health check before starting what comes after it. PostgreSQL is
``TWEETBOT_STACK_POSTGRES`` (a SQLAlchemy server URL), else the one serving on
127.0.0.1:5432 (this project's machines), else a throw-away cluster of the
stack's own; object storage is moto's S3 server on a loopback port; with the
CeleryExecutor, the broker is the Redis at ``TWEETBOT_STACK_REDIS`` (default
127.0.0.1:6379). Secrets are generated on the first ``up`` and kept in
``<home>/secrets.json`` (mode 0600); nothing prints them.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets as random_secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from training.core import settings as tweetbot_settings
from training.core.atomic import write_atomically
from training.core.errors import InputError
from training.stack.definition import Addresses, Health, Secrets, Service, StackSettings, services

LOCAL_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
STATE_FILE = "stack.json"  # the running processes; gone after `down`
SETTINGS_FILE = "settings.json"  # kept after `down`, for `down --purge`
# Settings of the calling process that must not leak into the services.
FOREIGN_PREFIXES = ("AIRFLOW", "MLFLOW_", "TWEETBOT_", "AWS_", "PYTEST_")


@dataclass
class Stack:
    """A started stack: its settings, secrets and the processes it runs."""

    settings: StackSettings
    secrets: Secrets
    pids: dict[str, int]

    @property
    def home(self) -> Path:
        return Path(self.settings.home)

    def log(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"


def default_home() -> Path:
    return Path(os.environ.get("TWEETBOT_STACK_HOME") or tweetbot_settings.state_dir() / "stack")


def native_settings(home: Path, *, s3_port: int = 9000, mlflow_port: int = 5000,
                    airflow_port: int = 8080, scheduler_health_port: int = 8974,
                    worker_log_port: int = 8793, postgres_port: int = 5433,
                    name: str = "tweetbot", **sizes) -> StackSettings:
    addresses = Addresses(postgres=postgres_server(postgres_port), s3_host="127.0.0.1",
                          s3_port=s3_port,
                          mlflow_host="127.0.0.1", mlflow_port=mlflow_port,
                          airflow_host="127.0.0.1", airflow_port=airflow_port,
                          scheduler_health_port=scheduler_health_port,
                          worker_log_port=worker_log_port,
                          redis=os.environ.get("TWEETBOT_STACK_REDIS") or DEFAULT_REDIS)
    return StackSettings(addresses=addresses, home=str(home.resolve()), name=name, **sizes)


def check_redis(settings: StackSettings) -> None:
    """The CeleryExecutor's broker must answer before anything starts."""
    import redis

    try:
        redis.Redis.from_url(settings.addresses.redis, socket_timeout=5).ping()
    except redis.RedisError as error:
        raise InputError(f"no Redis at {settings.addresses.redis} for the CeleryExecutor "
                         f"({error}); start one, or set TWEETBOT_STACK_REDIS") from None


def _forget_broker_keys(settings: StackSettings) -> None:
    """The stack's queues and results in a Redis it shares with others."""
    import redis

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(settings.addresses.redis, socket_timeout=5)
        for key in client.scan_iter(f"{settings.name}:*"):
            client.delete(key)


def postgres_server(own_port: int) -> str:
    """The PostgreSQL server the stack's databases go on: ``TWEETBOT_STACK_POSTGRES``,
    else the one serving on 127.0.0.1:5432, else a throw-away cluster of the
    stack's own on ``own_port`` (``own_postgres``), where PostgreSQL's binaries
    are installed and the launcher is not root (initdb refuses root)."""
    configured = os.environ.get("TWEETBOT_STACK_POSTGRES")
    if configured:
        return configured.rstrip("/")
    if _ready(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]):
        return LOCAL_POSTGRES
    if postgres_binary("initdb") is None or os.geteuid() == 0:
        raise InputError("no PostgreSQL on 127.0.0.1:5432, and none can be started here "
                         "(initdb not installed, or running as root); start one or set "
                         "TWEETBOT_STACK_POSTGRES to a server URL, e.g. "
                         "postgresql+psycopg2://user:password@host:5432")
    return f"postgresql+psycopg2://postgres@127.0.0.1:{own_port}"


def postgres_binary(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, or where Debian installs it."""
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def own_postgres(settings: StackSettings) -> Service | None:
    """The stack's own throw-away PostgreSQL cluster, when it needs one."""
    url = make_url(settings.addresses.postgres)
    if url.port == 5432 or os.environ.get("TWEETBOT_STACK_POSTGRES"):
        return None
    data = str(Path(settings.home) / "postgres")
    return Service(
        name="postgres", image="postgres",
        commands=((postgres_binary("initdb"), "--pgdata", data, "--username", "postgres",
                   "--auth", "trust", "--no-sync"),
                  (postgres_binary("postgres"), "-D", data, "-p", str(url.port),
                   "-h", "127.0.0.1", "-k", settings.home)),
        health=Health(command=("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(url.port))))


def load_secrets(home: Path) -> Secrets:
    """The stack's secrets: the ones kept from an earlier ``up``, else new ones."""
    path = home / "secrets.json"
    if path.exists():
        return Secrets.from_json(json.loads(path.read_text()))
    from cryptography.fernet import Fernet

    def token() -> str:
        return random_secrets.token_urlsafe(24)

    made = Secrets(mlflow_admin_password=token(), airflow_admin_password=token(),
                   s3_access_key=token(), s3_secret_key=token(),
                   jwt_secret=random_secrets.token_urlsafe(64),  # HMAC-SHA512 wants 64 bytes
                   fernet_key=Fernet.generate_key().decode(), api_secret_key=token(),
                   mlflow_flask_secret=token())
    home.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(made.to_json()).encode())
    path.chmod(0o600)
    return made


def all_services(settings: StackSettings, secrets: Secrets) -> list[Service]:
    """The definition's services, with moto's S3 server first (MinIO in compose)."""
    s3 = Service(name="s3", image="moto",
                 commands=(("moto_server", "-H", settings.addresses.bind,
                            "-p", str(settings.addresses.s3_port)),),
                 health=Health(url=f"{settings.addresses.s3_url}/moto-api/"))
    postgres = own_postgres(settings)
    return [*([postgres] if postgres else []), s3,
            *[s if s.name != "bucket" else s.model_copy(update={"after": ("s3",)})
              for s in services(settings, secrets)]]


def up(settings: StackSettings, timeout: float = 180) -> Stack:
    """Start every service, in order, each once its predecessors are ready."""
    home = Path(settings.home)
    if settings.celery:
        check_redis(settings)
    secrets = load_secrets(home)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    stack = Stack(settings, secrets, pids={})
    try:
        for service in all_services(settings, secrets):
            _write_files(service)
            steps = service.commands if service.one_shot else service.commands[:-1]
            for command in steps:
                if not _done_already(stack, service, command):
                    _run_once(stack, service, command)
            if service.one_shot:
                continue
            stack.pids[service.name] = _start(stack, service)
            _save(stack)
            _wait_until_healthy(stack, service, timeout)
    except BaseException:
        down(stack)
        raise
    return stack


def down(stack: Stack, timeout: float = 30) -> None:
    """Stop the services, last started first: SIGTERM, then SIGKILL after ``timeout``."""
    for pid in reversed(list(stack.pids.values())):
        _stop(pid, timeout)
    stack.pids.clear()
    (stack.home / STATE_FILE).unlink(missing_ok=True)


def running(home: Path) -> Stack | None:
    """The stack started from ``home``, if one is."""
    path = home / STATE_FILE
    if not path.exists():
        return None
    settings = StackSettings.from_json(json.loads((home / SETTINGS_FILE).read_text()))
    return Stack(settings, load_secrets(home), json.loads(path.read_text()))


def purge(home: Path) -> None:
    """Drop a stopped stack's databases and remove its state folder (secrets too)."""
    from training.stack.provision import drop_databases

    path = home / SETTINGS_FILE
    if path.exists():
        settings = StackSettings.from_json(json.loads(path.read_text()))
        if own_postgres(settings) is None:  # an own cluster goes with the folder
            drop_databases(settings.addresses.postgres,
                           [settings.airflow_database, settings.mlflow_database])
        if settings.celery:
            _forget_broker_keys(settings)
    shutil.rmtree(home, ignore_errors=True)


def _save(stack: Stack) -> None:
    write_atomically(stack.home / SETTINGS_FILE, json.dumps(stack.settings.to_json()).encode())
    write_atomically(stack.home / STATE_FILE, json.dumps(stack.pids).encode())


def _environment(service: Service) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    # This environment's own tools (python, airflow, mlflow, moto_server) come first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{inherited.get('PATH', '')}"
    return {**inherited, "PATH": path, **service.environment}


def _write_files(service: Service) -> None:
    for path, content in service.files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(Path(path), content.encode())
        Path(path).chmod(0o600)


def _run_once(stack: Stack, service: Service, command: tuple[str, ...]) -> None:
    with open(stack.log(service.name), "a") as log:
        completed = subprocess.run(command, env=_environment(service), cwd=stack.home,
                                   stdout=log, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        raise RuntimeError(f"{service.name}: {command[0]} {command[1]} exited with status "
                           f"{completed.returncode}; see {stack.log(service.name)}")


def _start(stack: Stack, service: Service) -> int:
    with open(stack.log(service.name), "a") as log:
        process = subprocess.Popen(service.commands[-1], env=_environment(service),
                                   cwd=service.workdir or stack.home, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return process.pid


def _wait_until_healthy(stack: Stack, service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _healthy(stack, service):
        if not _alive(stack.pids[service.name]):
            raise RuntimeError(f"{service.name} exited; see {stack.log(service.name)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service.name} not healthy after {timeout:.0f} s; "
                               f"see {stack.log(service.name)}")
        time.sleep(0.5)


def _done_already(stack: Stack, service: Service, command: tuple[str, ...]) -> bool:
    """A cluster initialised by an earlier ``up`` is kept, not initialised again."""
    return service.name == "postgres" and (stack.home / "postgres" / "PG_VERSION").exists()


def _ready(command, environment: dict[str, str] | None = None) -> bool:
    return subprocess.run(command, capture_output=True, env=environment).returncode == 0


def _healthy(stack: Stack, service: Service) -> bool:
    health = service.health
    if health.command:
        return _ready(health.command, _environment(service))
    url = health.url or f"{stack.settings.addresses.airflow_url}/api/v2/monitor/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    if health.airflow_component is None:
        return True
    component = json.loads(body).get(health.airflow_component) or {}
    return component.get("status") == "healthy"


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (a stack started by another process)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return finished == 0


def _stop(pid: int, timeout: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):  # what the leader left running
        os.killpg(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.1)
