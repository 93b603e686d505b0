"""Clients of a started stack, for the tests: Airflow's REST API (a bearer token
from the simple auth manager), MLflow and S3 with the stack's credentials."""

from __future__ import annotations

import time

import requests

TERMINAL_STATES = ("success", "failed")
TRAINING, PREPARE = "tweetbot_training", "tweetbot_prepare_splits"
# The REST-triggered run: a small split, 4 trials, 2 in parallel, 2 epochs.
REST_CONF = {"num_trials": 4, "parallel": 2, "max_epochs": 2, "final_epochs": 1}


class AirflowClient:
    def __init__(self, base_url: str, password: str):
        self.base = base_url
        self.session = requests.Session()
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

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        response = self.session.post(f"{self.base}/api/v2/dags/{dag_id}/dagRuns", timeout=60,
                                     json={"logical_date": None, "conf": conf or {}})
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

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        instances = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                             limit=500)["task_instances"]
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
