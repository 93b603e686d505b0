"""Airflow listener for the Celery stack's test (its plugins folder only): as a
task starts on a worker, empty that worker's TWEETBOT_HOME and working folder,
and note what went in ``wipes.jsonl`` beside AIRFLOW_HOME (the test's stack
folder; not a worker's).

So no task can read a file that an earlier task left on any machine, its own
included: whatever a step needs must reach it through XCom, S3 or MLflow.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

WIPE_LOG = "wipes.jsonl"


def _empty(folder: Path) -> int:
    removed = 0
    for entry in list(folder.iterdir()) if folder.is_dir() else []:
        removed += sum(1 for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else 1
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return removed


@hookimpl
def on_task_instance_running(previous_state, task_instance) -> None:
    worker = os.environ.get("TWEETBOT_WORKER")
    if not worker:  # not a worker of the stack
        return
    removed = _empty(Path(os.environ["TWEETBOT_HOME"])) + _empty(Path.cwd())
    with open(Path(os.environ["AIRFLOW_HOME"]).parent / WIPE_LOG, "a") as notes:
        notes.write(json.dumps({"worker": worker, "task_id": task_instance.task_id,
                                "map_index": task_instance.map_index,
                                "try_number": task_instance.try_number,
                                "removed": removed}) + "\n")


class WipeBetweenTasks(AirflowPlugin):
    name = "tweetbot_test_wipe_between_tasks"
    listeners = [sys.modules[__name__]]
