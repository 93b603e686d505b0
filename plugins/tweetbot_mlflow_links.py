"""Airflow plugin: from a tweetbot task, links to the MLflow runs it produced.

Tweetbot's tasks return small JSON results (``training.core.records``), and each one
an MLflow run stands behind carries its ``run_id``; "MLflow run" opens that run
in the MLflow UI at ``TWEETBOT_MLFLOW_UI_URL`` (or the tracking server's
address). ``select``'s result also lists the search's trial runs: "Compare
trials" opens MLflow's comparison of them (metrics, params, parallel
coordinates). Tasks without a run id show no link.

Airflow 3 computes global links in the API server, for every task of every DAG,
reading the task's return value from the metadata database (there is no task
runtime there). So the link answers only for tweetbot's DAGs, and a failure
here logs a warning and shows no link rather than breaking the links of every
DAG.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

log = logging.getLogger(__name__)
DAG_IDS = ("tweetbot_training", "tweetbot_prepare_splits")


def run_id_of(value) -> str | None:
    if isinstance(value, dict):
        run_id = value.get("run_id")
        return run_id if isinstance(run_id, str) and run_id else None
    return None


def run_url(base: str | None, run_id: str | None) -> str:
    if not base or not run_id:
        return ""
    return f"{base}/#/runs/{run_id}"


def compare_url(base: str | None, value) -> str:
    """MLflow's compare view of the trial runs in a ``select`` result."""
    if not base or not isinstance(value, dict):
        return ""
    runs, experiment = value.get("trial_run_ids"), value.get("experiment_id")
    if not runs or not isinstance(runs, list) or not isinstance(experiment, str):
        return ""
    # The UI reads both as JSON lists (MLflow's getCompareRunPageRoute).
    return (f"{base}/#/compare-runs?runs={quote(json.dumps(runs))}"
            f"&experiments={quote(json.dumps([experiment]))}")


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


class _ResultLink(BaseOperatorLink):
    """A link computed from a tweetbot task's result and the MLflow UI's address."""

    def url(self, base: str | None, value) -> str:
        raise NotImplementedError

    def get_link(self, operator, *, ti_key) -> str:
        if ti_key.dag_id not in DAG_IDS:
            return ""
        try:
            from training.tracking import ui_url

            return self.url(ui_url(), return_value(ti_key))
        except Exception:  # a broken link must not break the page
            log.warning("no %s link for %s", self.name, ti_key, exc_info=True)
            return ""


class MlflowRunLink(_ResultLink):
    name = "MLflow run"

    def url(self, base, value) -> str:
        return run_url(base, run_id_of(value))


class MlflowCompareLink(_ResultLink):
    name = "Compare trials"

    def url(self, base, value) -> str:
        return compare_url(base, value)


class TweetbotPlugin(AirflowPlugin):
    name = "tweetbot"
    global_operator_extra_links = [MlflowRunLink(), MlflowCompareLink()]
