"""The alerts' channels and texts, sent to the real receivers without the stack:
connections from ``AIRFLOW_CONN_*`` variables, as a deployment may set them. The
stack's tests send them from Airflow's own services."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import pytest

from .receivers import receivers
from .stack_clients import free_ports

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))

import tweetbot_alerts as alerts  # noqa: E402 - the plugins folder is on the path now

RUN = {"dag_id": "tweetbot_training", "dag_run_id": "scheduled__2026-11-30T03:00:00+00:00",
       "state": "running", "queued_at": "2026-11-30T03:00:02Z"}


class Result:
    """What the task context offers a task callback: the task's own return value."""

    task_id, dag_id, run_id = "register", RUN["dag_id"], RUN["dag_run_id"]

    def __init__(self, value: dict):
        self.value = value

    def xcom_pull(self, task_ids: str):
        assert task_ids == self.task_id
        return self.value


VERDICT = "v7 is better than v6 by 3.2 % (95 % lower bound 2.1 %, margin 0.5 %): promoted"
REGISTERED = {"run_id": "0123abcd", "version": 7, "test_loss": 1.4365, "verdict": VERDICT,
              "previous_champion": 6, "previous_test_loss": 1.4840,
              "cost": "0.01 GPU-hours (40 accelerator-seconds), 12 min of step time"}


@pytest.fixture
def channels(monkeypatch):
    with receivers(free_ports(1)[0]) as (mailbox, webhook):
        monkeypatch.setenv("AIRFLOW_CONN_TWEETBOT_SMTP", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": mailbox.port,
            "extra": {"to": "ml-team@example.com", "from_email": "tweetbot@example.com",
                      "disable_ssl": True, "disable_tls": True}}))
        monkeypatch.setenv("AIRFLOW_CONN_TWEETBOT_WEBHOOK", json.dumps(
            {"conn_type": "http", "host": webhook.url}))
        monkeypatch.setenv("TWEETBOT_MLFLOW_UI_URL", "http://mlflow.example:5000")
        yield mailbox, webhook


def test_a_new_champion_alert_gives_the_change_and_the_links(channels):
    mailbox, webhook = channels
    alerts.ChampionChanged()({"ti": Result({**REGISTERED, "champion": True})})
    [(subject, mail)] = mailbox.messages
    [post] = webhook.posts
    assert subject == "tweetbot: new champion v7"
    assert post["text"].splitlines() == [
        "tweetbot: new champion v7", VERDICT,
        "test loss 1.4365 nats/char, -3.2% against champion v6 (1.4840)",
        "what the night cost: 0.01 GPU-hours (40 accelerator-seconds), 12 min of step time",
        "MLflow run: http://mlflow.example:5000/#/runs/0123abcd",
        "model version: http://mlflow.example:5000/#/models/tweetbot-charrnn/versions/7",
        f"Airflow run: /dags/tweetbot_training/runs/{RUN['dag_run_id'].replace(':', '%3A')}"
        .replace("+", "%2B")]
    assert "<p>test loss 1.4365 nats/char, -3.2% against champion v6 (1.4840)</p>" in mail


def test_a_version_that_stays_candidate_sends_nothing(channels):
    mailbox, webhook = channels
    alerts.ChampionChanged()({"ti": Result({**REGISTERED, "champion": False})})
    assert mailbox.messages == [] and webhook.posts == []


def test_the_deadline_alert_is_sent_from_async_code_as_the_triggerer_does(channels):
    mailbox, webhook = channels

    async def triggerer():  # what airflow.triggers.callback.CallbackTrigger does
        await alerts.DeadlineMissed(deadline="6:00:00", context={"dag_run": RUN})

    asyncio.run(triggerer())
    subject = f"tweetbot: tweetbot_training run {RUN['dag_run_id']} is past its deadline"
    assert [s for s, _ in mailbox.messages] == [subject]
    assert webhook.texts()[0].splitlines()[1] == (
        "not finished 6:00:00 after it was queued (2026-11-30T03:00:02Z); it is running")


def test_a_run_that_failed_before_its_deadline_gets_no_deadline_alert(channels):
    mailbox, webhook = channels

    async def triggerer():
        await alerts.DeadlineMissed(deadline="6:00:00",
                                    context={"dag_run": {**RUN, "state": "failed"}})

    asyncio.run(triggerer())
    assert mailbox.messages == [] and webhook.posts == []


def test_one_channel_down_does_not_stop_the_other(channels, monkeypatch, capsys):
    mailbox, webhook = channels
    closed = free_ports(1)[0]
    monkeypatch.setenv("AIRFLOW_CONN_TWEETBOT_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": closed,
        "extra": {"to": "ml-team@example.com", "from_email": "tweetbot@example.com",
                  "disable_ssl": True, "disable_tls": True, "retry_limit": 0,
                  "timeout": 5}}))
    alerts.ChampionChanged()({"ti": Result({**REGISTERED, "champion": True})})
    assert [t.splitlines()[0] for t in webhook.texts()] == ["tweetbot: new champion v7"]
    logged = capsys.readouterr().out  # Airflow's structured log
    assert "[error" in logged and "not sent through tweetbot_smtp" in logged


def test_no_connection_means_no_alert_and_no_error(monkeypatch, caplog, capsys):
    for name in ("AIRFLOW_CONN_TWEETBOT_SMTP", "AIRFLOW_CONN_TWEETBOT_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.WARNING):
        alerts.ChampionChanged()({"ti": Result({**REGISTERED, "champion": True})})

        async def triggerer():
            await alerts.DeadlineMissed(deadline="6:00:00", context={"dag_run": RUN})

        asyncio.run(triggerer())
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    logged = capsys.readouterr().out
    assert "[error" not in logged and "[warning" not in logged, logged


@pytest.mark.parametrize(("value", "expected"), [
    ("PT6H", "6:00:00"), ("90", "0:01:30"), ("0", None)])
def test_durations_are_seconds_or_iso_8601(monkeypatch, value, expected):
    monkeypatch.setenv(alerts.DEADLINE_VARIABLE, value)
    parsed = alerts.duration(alerts.DEADLINE_VARIABLE, "PT12H")
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize("value", ["six hours", "-60"])
def test_a_bad_duration_is_one_line_naming_the_variable(monkeypatch, value):
    from training.core.errors import InputError

    monkeypatch.setenv(alerts.APPROVAL_TIMEOUT_VARIABLE, value)
    with pytest.raises(InputError, match=f"^TWEETBOT_APPROVAL_TIMEOUT: '{value}' is ") as error:
        alerts.duration(alerts.APPROVAL_TIMEOUT_VARIABLE, "PT12H")
    assert "\n" not in str(error.value)
