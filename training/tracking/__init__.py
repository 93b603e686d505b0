"""MLflow, behind one package: the only place tweetbot imports it.

    tracking            where the store is (MLFLOW_TRACKING_URI, else an embedded
                        SQLite store in $TWEETBOT_HOME) and the experiment
    tracking.tags       the tag names tweetbot writes and searches by
    tracking.runs       what a training run logs; artifacts read back
    tracking.search_store  a search as a parent run with one child run per trial
    tracking.registry   versions of tweetbot-charrnn and the champion/candidate aliases
    tracking.cost       what steps cost (wall and accelerator seconds), per run and per night
    tracking.pyfunc     the registered model: an MLflow pyfunc that writes tweets

Importing this package is cheap (MLflow itself loads on first use), so the DAG
files, the Airflow plugin and pure modules can use its names.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from typing import TYPE_CHECKING

from training.core import settings

if TYPE_CHECKING:
    from training.core.records import Tracking


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else the embedded SQLite store. MLflow's plain
    file store is deprecated, so it is never the default."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (
        f"sqlite:///{settings.state_dir() / 'mlflow.db'}")


def is_embedded(uri: str) -> bool:
    return uri.startswith("sqlite:")


def on_this_machine(uri: str) -> bool:
    """A store no other machine sees: SQLite, MLflow's file store, a plain path."""
    scheme = uri.partition("://")[0] if "://" in uri else ""
    return scheme in ("", "file", "sqlite")


def holds_password(uri: str) -> bool:
    """``scheme://user:password@host``: a password the URI would carry into
    every step's command and XCom."""
    from urllib.parse import urlsplit

    return "://" in uri and urlsplit(uri).password is not None


def current() -> Tracking:
    """The store and experiment this process is set up to use."""
    from training.core.records import Tracking

    return Tracking(uri=tracking_uri(), experiment=settings.experiment_name())


def ui_url() -> str | None:
    """Base address of the MLflow UI for links from Airflow: ``TWEETBOT_MLFLOW_UI_URL``,
    else the tracking server's address when it is one."""
    url = os.environ.get("TWEETBOT_MLFLOW_UI_URL") or os.environ.get("MLFLOW_TRACKING_URI", "")
    return url.rstrip("/") if url.startswith(("http://", "https://")) else None


def configure() -> str:
    """Point MLflow at the tracking store and make sure the experiment exists.

    Returns the experiment id. Safe to call from several processes at once.
    """
    import mlflow

    _log_through_python_logging()
    # A progress bar per artifact read back (a trial's plan, a checkpoint) only
    # clutters a task's log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    if not is_embedded(uri):
        return _ensure_experiment(uri)
    # Parallel trials opening a new SQLite store at once race through MLflow's
    # schema migrations and fail ("table already exists", "database is locked").
    # One process at a time initialises; once the schema exists, concurrent
    # runs are fine.
    state = settings.state_dir()
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "mlflow.db.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _ensure_experiment(uri)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _log_through_python_logging() -> None:
    """MLflow gives its logger a handler of its own writing to stderr, so its INFO
    lines show as errors in an Airflow task log. Hand them to the process's
    logging instead, at their own level: Airflow's in a task; in a CLI, plain
    lines on stdout."""
    logger = logging.getLogger("mlflow")
    logger.handlers.clear()
    if logging.getLogger().handlers:  # Airflow's (or an application's) logging
        logger.propagate = True
        return
    # A CLI process, where nobody configured logging: MLflow's lines on stdout.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


def client():
    """An ``MlflowClient`` on the configured store."""
    import mlflow

    configure()
    return mlflow.MlflowClient()


def _ensure_experiment(uri: str) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    name = settings.experiment_name()
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    # Without this, a SQLite store puts artifacts in ./mlruns of whatever the cwd is.
    location = (settings.state_dir() / "artifacts").as_uri() if is_embedded(uri) else None
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except MlflowException:
        # Another process created it between our look and our create.
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id
