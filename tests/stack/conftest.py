"""One real stack for the tests in this folder: PostgreSQL, moto's S3 server, an
authenticated MLflow server and Airflow's four services with the LocalExecutor,
started once by the project's own launcher (``training.stack.native``) and torn
down, databases dropped, after the folder's last test (``celery/`` starts its
own stack, with Celery workers, and runs while this one is down). Tests wait on
health checks and run states."""

from __future__ import annotations

import json

import pytest

from training.data.sample_corpus import write_sample_corpus

from .receivers import receivers
from .stack_clients import (
    ARTIFACTS,
    PREPARE,
    REST_CONF,
    TRAINING,
    AirflowClient,
    StackClients,
    free_ports,
    mlflow_on,
    started_stack,
    wait_until,
)

ALERTS_TO = "ml-team@example.com"


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


@pytest.fixture(scope="package")
def alerts(airflow):
    """An SMTP server and a webhook catcher on loopback, and the Airflow
    connections that send the alerts to them, created through the REST API like
    an operator would; before any run, so every run's alerts arrive."""
    with receivers(free_ports(1)[0]) as (mailbox, webhook):
        airflow.create_connection({
            "connection_id": "tweetbot_smtp", "conn_type": "smtp", "host": "127.0.0.1",
            "port": mailbox.port, "extra": json.dumps({
                "to": ALERTS_TO, "from_email": "tweetbot@example.com",
                "disable_ssl": True, "disable_tls": True})})
        airflow.create_connection({"connection_id": "tweetbot_webhook", "conn_type": "http",
                                   "host": webhook.url})
        yield mailbox, webhook
        # What arrived, as it arrived: a test artifact to read after a run.
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "alerts-received.txt").write_text("".join(
            [f"--- mail to {', '.join(to)}: {subject}\n{body}\n"
             for (subject, body), to in zip(mailbox.messages, mailbox.recipients,
                                             strict=True)]
            + [f"--- webhook post\n{json.dumps(post, indent=1)}\n" for post in webhook.posts]))


@pytest.fixture(scope="package")
def published(clients, airflow, alerts, tmp_path_factory) -> dict:
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
