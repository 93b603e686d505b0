"""Alerts for the team that owns the nightly run: a failed run, a new champion, a
promotion waiting for approval, a run past its deadline.

Each goes to every channel that has an Airflow connection, and to none when none
has one (no alert, no error):

    tweetbot_smtp     an SMTP connection (host, port, login, password); its extra
                      names the recipients and the sender:
                      {"to": "ml-team@example.com", "from_email": "tweetbot@example.com"}
                      (and the SMTP provider's own keys, e.g. "disable_ssl": true)
    tweetbot_webhook  an HTTP connection whose host is the webhook's whole URL
                      (Slack, Mattermost, Rocket.Chat, Teams workflows): the alert
                      is POSTed as {"text": ...}

The sending is the providers' own: the SMTP provider's ``SmtpNotifier`` and the
HTTP provider's ``HttpNotifier``. Connections are read when an alert is sent,
so adding one needs no restart. A channel that fails logs why and the others
are still tried; an alert never fails the task or run it reports on.

It lives in the plugins folder because Airflow puts that folder on the path of
every component, the triggerer too, which imports a deadline alert's callback
by name; the DAG folder is on the path of the dag-processor and the workers only.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException
from pydantic import TypeAdapter, ValidationError

from training.core.errors import InputError

SMTP_CONNECTION = "tweetbot_smtp"
WEBHOOK_CONNECTION = "tweetbot_webhook"
MODEL_NAME = "tweetbot-charrnn"  # training.tracking.registry's; not imported: it loads MLflow


@dataclass(frozen=True)
class Message:
    subject: str
    lines: tuple[str, ...]

    def text(self) -> str:
        return "\n".join((self.subject, *self.lines))

    def html(self) -> str:
        return "".join(f"<p>{html.escape(line)}</p>" for line in self.lines)


class Alert(BaseNotifier):
    """Composes a message from the context (None: nothing to say) and sends it
    to each configured channel."""

    def message(self, context) -> Message | None:
        raise NotImplementedError

    def notify(self, context) -> None:
        message = self.message(context)
        if message is None:
            return
        from airflow.sdk import BaseHook

        for conn_id, notifier in _notifiers(message, _connections(BaseHook.get_connection)):
            try:
                notifier.notify(context)
            except Exception as error:  # noqa: BLE001 - the other channels still get it
                self.log.error("alert %r not sent through %s: %s", message.subject, conn_id,
                               error)

    async def async_notify(self, context) -> None:
        message = self.message(context)
        if message is None:
            return
        from airflow.sdk import BaseHook

        found = {}
        for conn_id in (SMTP_CONNECTION, WEBHOOK_CONNECTION):
            try:
                found[conn_id] = await BaseHook.aget_connection(conn_id)
            except AirflowNotFoundException:
                continue
        for conn_id, notifier in _notifiers(message, found):
            try:
                await notifier.async_notify(context)
            except Exception as error:  # noqa: BLE001 - the other channels still get it
                self.log.error("alert %r not sent through %s: %s", message.subject, conn_id,
                               error)


def _connections(get) -> dict[str, Any]:
    found = {}
    for conn_id in (SMTP_CONNECTION, WEBHOOK_CONNECTION):
        try:
            found[conn_id] = get(conn_id)
        except AirflowNotFoundException:
            continue
    return found


def _notifiers(message: Message, connections: dict[str, Any]) -> list[tuple[str, BaseNotifier]]:
    notifiers = []
    if SMTP_CONNECTION in connections:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        to = connections[SMTP_CONNECTION].extra_dejson.get("to")
        if to:
            notifiers.append((SMTP_CONNECTION, SmtpNotifier(
                to=to, subject=message.subject, html_content=message.html(),
                smtp_conn_id=SMTP_CONNECTION)))
    if WEBHOOK_CONNECTION in connections:
        from airflow.providers.http.notifications.http import HttpNotifier

        notifiers.append((WEBHOOK_CONNECTION, HttpNotifier(
            http_conn_id=WEBHOOK_CONNECTION, json={"text": message.text()})))
    return notifiers


# --- the alerts -----------------------------------------------------------------------

class RunFailed(Alert):
    """A DAG's ``on_failure_callback``: which run failed, why, where to look."""

    def message(self, context) -> Message:
        dag_id = context["dag"].dag_id
        run_id = context["run_id"]
        ti = context.get("ti")
        lines = [f"reason: {context.get('reason') or 'a task failed'}"]
        if ti is not None:
            lines.append(f"last task to end: {ti.task_id}")
        lines.append(f"Airflow run: {airflow_run_url(dag_id, run_id)}")
        return Message(f"tweetbot: {dag_id} run {run_id} failed", tuple(lines))


class ChampionChanged(Alert):
    """On the tasks that can move ``champion`` (``register``, ``promote``):
    an alert when their result says it moved."""

    def message(self, context) -> Message | None:
        ti = context["ti"]
        result = ti.xcom_pull(task_ids=ti.task_id)
        if not result or not result.get("champion"):
            return None
        lines = [*_verdict(result),
                 f"test loss {result['test_loss']:.4f} nats/char, {_change(result)}"]
        if result.get("cost"):
            lines.append(f"what the night cost: {result['cost']}")
        lines += _links(result, ti.dag_id, ti.run_id)
        return Message(f"tweetbot: new champion v{result['version']}", tuple(lines))


class ApprovalRequested(Alert):
    """To the approver, when ``approve_promotion`` starts waiting."""

    def message(self, context) -> Message:
        ti, task = context["ti"], context["task"]
        result = task.registration  # rendered: register's result
        page = task.generate_link_to_ui_from_context(context=context)
        lines = [*_verdict(result),
                 f"test loss {result['test_loss']:.4f} nats/char, {_change(result)}",
                 f"approve or reject it: {page}", *_links(result, ti.dag_id, ti.run_id)]
        return Message(f"tweetbot: approve v{result['version']} as the new champion?",
                       tuple(lines))


class DeadlineMissed(Alert):
    """A deadline alert's callback, run by the triggerer, whose context holds
    only the run and the deadline."""

    def __init__(self, deadline: str = "", context=None):
        super().__init__(context=context)
        self.deadline = deadline

    def message(self, context) -> Message | None:
        run = context.get("dag_run") or {}
        if run.get("state") in ("success", "failed"):
            # Airflow drops a run's deadline when it succeeds, not when it fails;
            # a failed run has had its own alert.
            return None
        dag_id, run_id = run.get("dag_id", "?"), run.get("dag_run_id", "?")
        return Message(f"tweetbot: {dag_id} run {run_id} is past its deadline", (
            f"not finished {self.deadline} after it was queued "
            f"({run.get('queued_at') or 'unknown'}); it is {run.get('state', 'unknown')}",
            f"Airflow run: {airflow_run_url(dag_id, run_id)}"))


def _verdict(result: dict) -> list[str]:
    """The registry's verdict, in words: the gain, its bound and the margin."""
    return [result["verdict"]] if result.get("verdict") else []


def _change(result: dict) -> str:
    previous, loss = result.get("previous_champion"), result.get("previous_test_loss")
    if previous is None or not loss:
        return "the first champion"
    change = (result["test_loss"] - loss) / loss
    return f"{change:+.1%} against champion v{previous} ({loss:.4f})"


def _links(result: dict, dag_id: str, run_id: str) -> list[str]:
    from training.tracking import ui_url

    base = ui_url()
    lines = []
    if base:
        lines += [f"MLflow run: {base}/#/runs/{result['run_id']}",
                  f"model version: {base}/#/models/{MODEL_NAME}/versions/{result['version']}"]
    return [*lines, f"Airflow run: {airflow_run_url(dag_id, run_id)}"]


def airflow_run_url(dag_id: str, run_id: str) -> str:
    from urllib.parse import quote

    from airflow.sdk.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    return f"{base}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


# --- the deployment's settings ------------------------------------------------------

DEADLINE_VARIABLE = "TWEETBOT_DEADLINE"
APPROVAL_TIMEOUT_VARIABLE = "TWEETBOT_APPROVAL_TIMEOUT"


def duration(variable: str, default: str) -> timedelta | None:
    """A duration from the environment: seconds, or ISO 8601 (``PT6H``); 0 is none."""
    value = os.environ.get(variable) or default
    try:
        parsed = TypeAdapter(timedelta).validate_python(
            float(value) if value.lstrip("-").replace(".", "", 1).isdigit() else value)
    except ValidationError:
        raise InputError(f"{variable}: {value!r} is not a duration (seconds, or ISO 8601 "
                         f"such as PT6H)") from None
    if parsed < timedelta(0):
        raise InputError(f"{variable}: {value!r} is negative")
    return parsed or None


def deadline():
    """The training DAG's deadline alert: the run is not finished
    ``TWEETBOT_DEADLINE`` (default 12 hours) after it was queued; None when 0."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    interval = duration(DEADLINE_VARIABLE, "PT12H")
    if interval is None:
        return None
    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=interval,
                         callback=AsyncCallback(DeadlineMissed,
                                                kwargs={"deadline": str(interval)}))
