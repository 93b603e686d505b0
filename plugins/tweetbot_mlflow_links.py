"""Airflow plugin: from any tweetbot task, a link to the MLflow run it produced.

Tasks return small JSON results (trial results, the base model's summary, the
selection, the registration), each carrying an MLflow ``run_id``; the link opens
that run in the MLflow UI at ``TWEETBOT_MLFLOW_UI_URL`` (or the tracking server's
address). Tasks without a run id show no link.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom


def run_id_of(value) -> str | None:
    if isinstance(value, dict):
        run_id = value.get("run_id")
        return run_id if isinstance(run_id, str) and run_id else None
    return None


def run_url(base: str | None, run_id: str | None) -> str:
    if not base or not run_id:
        return ""
    return f"{base}/#/runs/{run_id}"


class MlflowRunLink(BaseOperatorLink):
    name = "MLflow run"

    def get_link(self, operator, *, ti_key) -> str:
        from training.settings import mlflow_ui_url

        value = XCom.get_value(ti_key=ti_key, key="return_value")
        return run_url(mlflow_ui_url(), run_id_of(value))


class TweetbotPlugin(AirflowPlugin):
    name = "tweetbot"
    global_operator_extra_links = [MlflowRunLink()]
