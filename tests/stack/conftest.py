"""One real stack for the tests in this folder: PostgreSQL, moto's S3 server, an
authenticated MLflow server and Airflow's four services with the LocalExecutor,
started once by the project's own launcher (``training.stack.native``) and torn
down, databases dropped, after the folder's last test (``celery/`` starts its
own stack, with Celery workers, and runs while this one is down). Tests wait on
health checks and run states."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.sample_corpus import write_sample_corpus

from .stack_clients import (
    ARTIFACTS,
    PREPARE,
    REST_CONF,
    TRAINING,
    AirflowClient,
    StackClients,
    mlflow_on,
    started_stack,
    wait_until,
)


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    with started_stack(tmp_path_factory.mktemp("stack")) as started:
        yield started


@pytest.fixture(scope="package")
def clients(stack) -> StackClients:
    return StackClients(stack)


@pytest.fixture(scope="package")
def airflow(clients) -> AirflowClient:
    return clients.airflow


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
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


@pytest.fixture(scope="package")
def rest_run(airflow, published) -> dict:
    run_id = airflow.trigger(TRAINING, {**REST_CONF, "force": True,
                                        "data_location": published["location"]})
    return airflow.wait_for_run(TRAINING, run_id)


@pytest.fixture
def stack_mlflow(clients):
    """This process's MLflow pointed at the stack's server (an MlflowClient)."""
    with mlflow_on(clients) as client:
        yield client
