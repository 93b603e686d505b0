"""Airflow plugin: from a tweetbot task, a link to the MLflow run it produced.

Tweetbot's tasks return small JSON results (``training.records``), and each one
an MLflow run stands behind carries its ``run_id``; the link opens that run in
the MLflow UI at ``TWEETBOT_MLFLOW_UI_URL`` (or the tracking server's address).
Tasks without a run id show no link.

Airflow 3 computes global links in the API server, for every task of every DAG,
reading the task's return value from the metadata database (there is no task
runtime there). So the link answers only for tweetbot's DAGs, and a failure
here logs a warning and shows no link rather than breaking the links of every
DAG.
"""

from __future__ import annotations

import json
import logging

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

log = logging.getLogger(__name__)
TWEETBOT_DAG_IDS = ("tweetbot_training", "tweetbot_prepare_splits")


def run_id_of(value) -> str | None:
    if isinstance(value, dict):
        run_id = value.get("run_id")
        return run_id if isinstance(run_id, str) and run_id else None
    return None


def run_url(base: str | None, run_id: str | None) -> str:
    if not base or not run_id:
        return ""
    return f"{base}/#/runs/{run_id}"


def return_value(ti_key):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(XComModel.get_many(
            key="return_value", run_id=ti_key.run_id, dag_ids=ti_key.dag_id,
            task_ids=ti_key.task_id, map_indexes=ti_key.map_index,
        ).with_only_columns(XComModel.value)).first()
    if row is None:
        return None
    try:
        return json.loads(row.value) if isinstance(row.value, (str, bytes)) else row.value
    except ValueError:
        return None


class MlflowRunLink(BaseOperatorLink):
    name = "MLflow run"

    def get_link(self, operator, *, ti_key) -> str:
        if ti_key.dag_id not in TWEETBOT_DAG_IDS:
            return ""
        try:
            from training.tracking import ui_url

            return run_url(ui_url(), run_id_of(return_value(ti_key)))
        except Exception:  # a broken link must not break the page
            log.warning("no MLflow link for %s", ti_key, exc_info=True)
            return ""


class TweetbotPlugin(AirflowPlugin):
    name = "tweetbot"
    global_operator_extra_links = [MlflowRunLink()]
