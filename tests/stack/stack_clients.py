"""Clients of a started stack, for the tests: Airflow's REST API (a bearer token
from the simple auth manager), MLflow and S3 with the stack's credentials."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import time
import uuid
from pathlib import Path

import requests
from urllib3.util import Retry

TERMINAL_STATES = ("success", "failed")
TRAINING, PREPARE = "tweetbot_training", "tweetbot_prepare_splits"
# The REST-triggered run: a small split, 4 trials, 2 in parallel, 2 epochs.
REST_CONF = {"num_trials": 4, "parallel": 2, "max_epochs": 2, "final_epochs": 1}


ARTIFACTS = Path(os.environ.get("TWEETBOT_TEST_ARTIFACTS", Path(__file__).parents[2]
                                / ".test-artifacts"))
# Scheduled and asset-triggered runs take these defaults: tiny, for 2 CPU cores.
# The space holds 4 points, as many as the REST-triggered run's trials.
RUN_DEFAULTS = """\
num_trials: 2
parallel: 2
max_epochs: 1
final_epochs: 1
space_overrides:
  batch_size: {choice: [16, 32]}
  seq_len: 16
  rnn_size: {choice: [16, 32]}
  embedding_size: 8
  num_layers: 1
  optimizer: adam
  learning_rate: 0.01
  clip_norm: 5.0
  drop_rate: 0.0
"""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


SCHEDULE_NOT_DURING_TESTS = "0 0 1 1 *"  # New Year's midnight, UTC
APPROVAL_TIMEOUT = 60  # seconds an approval waits; tests answer within seconds
DAG_ENVIRONMENT = {
    # A suite that spans 03:00 UTC would otherwise see the nightly run appear
    # among the runs it counts.
    "TWEETBOT_SCHEDULE": SCHEDULE_NOT_DURING_TESTS,
    # Every training run here takes longer (44 s and up, with MLflow's login cache
    # on): each one gets a deadline alert; a run that skips training does not.
    "TWEETBOT_DEADLINE": "PT20S",
    "TWEETBOT_APPROVAL_TIMEOUT": str(APPROVAL_TIMEOUT),
}


@contextlib.contextmanager
def started_stack(home: Path, **settings):
    """A stack of the project's native launcher on free ports, under a name of its
    own; stopped and purged (databases, Redis keys, folder) afterwards."""
    from training.stack import native

    (home / "run_defaults.yaml").write_text(RUN_DEFAULTS)
    s3, mlflow, airflow, scheduler, worker_logs = free_ports(5)
    settings = native.native_settings(
        home, s3_port=s3, mlflow_port=mlflow, airflow_port=airflow,
        scheduler_health_port=scheduler, worker_log_port=worker_logs,
        name=f"tb_{uuid.uuid4().hex[:8]}", run_defaults=str(home / "run_defaults.yaml"),
        dag_environment=DAG_ENVIRONMENT, **{"parallelism": 4, "trial_slots": 2, **settings})
    started = None
    try:
        started = native.up(settings)  # stops what it started if it fails
        yield started
    finally:
        if started is not None:
            native.down(started)
        # The services' logs outlive the stack, as test artifacts.
        if (home / "logs").is_dir():
            shutil.copytree(home / "logs", ARTIFACTS / f"stack-logs-{home.name}",
                            dirs_exist_ok=True)
        native.purge(home)


@contextlib.contextmanager
def mlflow_on(clients):
    """This process's MLflow pointed at the stack's server the way the pipeline
    points it (``tracking.configure``), and back afterwards. Earlier tests set
    MLflow's process-wide URI, which outranks the environment; it is reset."""
    import mlflow
    import pytest
    from mlflow.tracking._model_registry import utils as registry_uri
    from mlflow.tracking._tracking_service import utils as tracking_uri

    from training import tracking

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tracking_uri, "_tracking_uri", None)
        patch.setattr(registry_uri, "_registry_uri", None)
        for key, value in clients.mlflow_environment().items():
            patch.setenv(key, value)
        tracking.configure()
        assert mlflow.get_tracking_uri() == clients.settings.addresses.mlflow_url
        yield mlflow.MlflowClient()


class AirflowClient:
    def __init__(self, base_url: str, password: str):
        self.base = base_url
        self.session = requests.Session()
        # The API server answers 500 now and then when a request races the
        # scheduler for the same rows; reads and state changes are safe to repeat
        # (a trigger, a POST, is not, and is not repeated).
        self.session.mount(base_url, requests.adapters.HTTPAdapter(max_retries=Retry(
            total=3, backoff_factor=1, status_forcelist=(500, 502, 503),
            allowed_methods=("GET", "PATCH"), raise_on_status=False)))
        token = requests.post(f"{base_url}/auth/token", timeout=30,
                              json={"username": "admin", "password": password})
        token.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def get(self, path: str, **params) -> dict:
        response = self.session.get(f"{self.base}/api/v2{path}", params=params, timeout=60)
        response.raise_for_status()
        return response.json()

    def unpause(self, dag_id: str) -> None:
        self.session.patch(f"{self.base}/api/v2/dags/{dag_id}", json={"is_paused": False},
                           timeout=60).raise_for_status()

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> str:
        """A manual run; ``run_id``: its id (default: Airflow's)."""
        named = {"dag_run_id": run_id} if run_id else {}
        response = self.session.post(f"{self.base}/api/v2/dags/{dag_id}/dagRuns", timeout=60,
                                     json={"logical_date": None, "conf": conf or {}, **named})
        response.raise_for_status()
        return response.json()["dag_run_id"]

    def mark_failed(self, dag_id: str, run_id: str) -> None:
        self.session.patch(f"{self.base}/api/v2/dags/{dag_id}/dagRuns/{run_id}",
                           json={"state": "failed"}, timeout=60).raise_for_status()

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}")

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns", order_by="-start_date")["dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900) -> dict:
        """The run once it finished (success or failed)."""
        return wait_until(lambda: (run := self.run(dag_id, run_id))["state"]
                          in TERMINAL_STATES and run, timeout, f"{dag_id} {run_id}")

    def create_connection(self, connection: dict) -> None:
        self.session.post(f"{self.base}/api/v2/connections", json=connection,
                          timeout=60).raise_for_status()

    def respond(self, dag_id: str, run_id: str, task_id: str, option: str) -> dict:
        """Answer a Human-in-the-loop task, as a person on its "Required actions" page."""
        response = self.session.patch(
            f"{self.base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/"
            f"hitlDetails", json={"chosen_options": [option]}, timeout=60)
        response.raise_for_status()
        return response.json()

    def hitl_detail(self, dag_id: str, run_id: str, task_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/"
                        f"hitlDetails")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                        limit=500)["task_instances"]

    def tries(self, dag_id: str, run_id: str, instance: dict) -> list[dict]:
        """Every try of a task instance (the current one included), oldest first."""
        suffix = f"/{instance['map_index']}" if instance["map_index"] >= 0 else ""
        tries = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/"
                         f"{instance['task_id']}{suffix}/tries")["task_instances"]
        return sorted(tries, key=lambda t: t["try_number"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        instances = self.task_instances(dag_id, run_id)
        return {(ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"):
                ti["state"] for ti in instances}

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1):
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/"
                        f"xcomEntries/return_value", map_index=map_index)["value"]


class StackClients:
    """What a test needs to talk to a started stack."""

    def __init__(self, stack):
        self.stack = stack
        self.settings = stack.settings
        self.secrets = stack.secrets
        self.airflow = AirflowClient(self.settings.addresses.airflow_url,
                                     stack.secrets.airflow_admin_password)

    @property
    def bucket(self) -> str:
        return self.settings.bucket

    def s3(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.settings.addresses.s3_url,
                            aws_access_key_id=self.secrets.s3_access_key,
                            aws_secret_access_key=self.secrets.s3_secret_key,
                            region_name="us-east-1")

    def mlflow_environment(self) -> dict[str, str]:
        """MLflow's client settings for the stack's server."""
        from training.stack.definition import mlflow_client_environment

        return mlflow_client_environment(self.settings, self.secrets)

    def scheduler_read_exit(self, dag_id: str, run_id: str, task_id: str,
                            try_number: int) -> bool:
        """Whether the scheduler has read the end of this try's process from its
        executor (its "TaskInstance Finished: ..." line), as it does after every
        process a try runs."""
        finished = re.compile(
            rf"TaskInstance Finished: dag_id={re.escape(dag_id)}, task_id={re.escape(task_id)}, "
            rf"run_id={re.escape(run_id)}, .*, try_number={try_number}, ")
        log = self.stack.log("airflow-scheduler")
        return log.is_file() and any(finished.search(line)
                                     for line in log.read_text(errors="replace").splitlines())

    def secret_values(self) -> list[str]:
        """Values that must never show up in a log, an XCom or an MLflow param."""
        return [self.secrets.mlflow_admin_password, self.secrets.airflow_admin_password,
                self.secrets.s3_access_key, self.secrets.s3_secret_key]


def wait_until(check, timeout: float, what: str, interval: float = 2.0):
    """Poll ``check`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not done after {timeout:.0f} s")
