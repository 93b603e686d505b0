"""Airflow listener: when a ``tweetbot_training`` run fails, close its search in MLflow.

A DAG run fails when a task does, or when someone marks it failed in the UI or
through the REST API; Airflow tells listeners in both cases (the scheduler, or
the API server). The run's search would otherwise stay RUNNING in MLflow, with
its suggested trials pending, forever. A failure here is logged, never raised:
it must not disturb the scheduler or the API server.
"""

from __future__ import annotations

import logging
import sys

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)
TRAINING_DAG_ID = "tweetbot_training"


@hookimpl
def on_dag_run_failed(dag_run, msg: str) -> None:
    if dag_run.dag_id != TRAINING_DAG_ID:
        return
    try:
        from training.pipeline.run_config import search_id_for
        from training.tracking.search_store import SearchStore

        SearchStore(search_id_for(dag_run.run_id)).abandon(
            f"DAG run {dag_run.run_id} failed: {msg}"[:500])
    except Exception:
        log.warning("could not close the search of %s in MLflow", dag_run.run_id,
                    exc_info=True)


class TweetbotSearchListener(AirflowPlugin):
    name = "tweetbot_search_listener"
    listeners = [sys.modules[__name__]]
