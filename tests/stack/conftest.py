"""One real stack for every test in this folder: PostgreSQL, moto's S3 server, an
authenticated MLflow server and Airflow's four services, started once per test
session by the project's own launcher (``training.stack.native``) and torn down,
databases dropped, at the end. Tests wait on health checks and run states."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from stack_clients import PREPARE, REST_CONF, TRAINING, AirflowClient, StackClients, wait_until

from training.sample_corpus import write_sample_corpus

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
ARTIFACTS = Path(os.environ.get("TWEETBOT_TEST_ARTIFACTS", Path(__file__).parents[2]
                                / ".test-artifacts"))


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    from training.stack import native

    home = tmp_path_factory.mktemp("stack")
    (home / "run_defaults.yaml").write_text(RUN_DEFAULTS)
    s3, mlflow, airflow, scheduler = _free_ports(4)
    settings = native.native_settings(
        home, s3_port=s3, mlflow_port=mlflow, airflow_port=airflow,
        scheduler_health_port=scheduler, name=f"tb_{uuid.uuid4().hex[:8]}",
        parallelism=4, trial_slots=2, run_defaults=str(home / "run_defaults.yaml"))
    started = native.up(settings)
    try:
        yield started
    finally:
        native.down(started)
        native.purge(home)


@pytest.fixture(scope="session")
def clients(stack) -> StackClients:
    return StackClients(stack)


@pytest.fixture(scope="session")
def airflow(clients) -> AirflowClient:
    return clients.airflow


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def published(clients, airflow, tmp_path_factory) -> dict:
    """Raw tweets uploaded, tweetbot_prepare_splits run, and the tweetbot_training
    run that its asset update triggered, finished."""
    raw = write_sample_corpus(tmp_path_factory.mktemp("raw") / "tweets.csv",
                              num_tweets=1200, seed=11)
    clients.s3().upload_file(str(raw), clients.bucket, "raw/tweets.csv")
    for dag_id in (PREPARE, TRAINING):
        airflow.unpause(dag_id)
    location = f"s3://{clients.bucket}/published/v1"  # not the default splits location
    prepare = airflow.trigger(PREPARE, {"raw_location": f"s3://{clients.bucket}/raw/tweets.csv",
                                        "splits_location": location})
    assert airflow.wait_for_run(PREPARE, prepare, timeout=300)["state"] == "success"
    triggered = wait_until(lambda: [r for r in airflow.runs(TRAINING)
                                    if r["run_type"] == "asset_triggered"],
                           120, "an asset-triggered tweetbot_training run")[0]
    finished = airflow.wait_for_run(TRAINING, triggered["dag_run_id"])
    return {"location": location, "run": finished}


@pytest.fixture(scope="session")
def rest_run(airflow, published) -> dict:
    run_id = airflow.trigger(TRAINING, {**REST_CONF, "force": True,
                                        "data_location": published["location"]})
    return airflow.wait_for_run(TRAINING, run_id)


@pytest.fixture
def stack_mlflow(clients, monkeypatch):
    """This process's MLflow pointed at the stack's server, the way the pipeline
    points it (``tracking.configure``); undone afterwards. Earlier tests in the
    session set MLflow's process-wide URI, which outranks the environment."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_uri
    from mlflow.tracking._tracking_service import utils as tracking_uri

    from training import tracking

    monkeypatch.setattr(tracking_uri, "_tracking_uri", None)
    monkeypatch.setattr(registry_uri, "_registry_uri", None)
    for key, value in clients.mlflow_environment().items():
        monkeypatch.setenv(key, value)
    tracking.configure()
    assert mlflow.get_tracking_uri() == clients.settings.addresses.mlflow_url
    return mlflow.MlflowClient()
