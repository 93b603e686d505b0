"""MLflow: where runs go and what a training run records.

The tracking server is the one named by ``MLFLOW_TRACKING_URI``; without it, an
embedded SQLite store in the project state folder (``$TWEETBOT_HOME/mlflow.db``,
artifacts in ``$TWEETBOT_HOME/artifacts``). MLflow's plain file store is
deprecated, so it is never the default.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

import mlflow
from mlflow.exceptions import MlflowException

from training import settings
from training.checkpoints import EpochRecord

METRIC_KEYS = ("loss", "val_loss", "val_bits_per_char", "epoch_seconds",
               "chars_per_second", "learning_rate")


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{settings.state_dir() / 'mlflow.db'}"


def is_embedded(uri: str) -> bool:
    return uri.startswith("sqlite:")


def configure() -> str:
    """Point MLflow at the tracking store and make sure the experiment exists.

    Returns the experiment id. Safe to call from several processes at once.
    """
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


def _ensure_experiment(uri: str) -> str:
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


@contextlib.contextmanager
def run(experiment_id: str, run_id: str | None = None,
        run_name: str | None = None) -> Iterator[mlflow.ActiveRun]:
    """Start a run, or reopen ``run_id`` to continue it; ends FAILED on error."""
    with mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id,
                          run_name=None if run_id else run_name) as active:
        yield active


def log_epoch(record: EpochRecord) -> None:
    mlflow.log_metrics({key: getattr(record, key) for key in METRIC_KEYS},
                       step=record.epoch)


def backfill_epochs(records: list[EpochRecord]) -> None:
    """Log epochs that finished on disk but never reached MLflow (a kill between
    the checkpoint and the log), so a resumed run's curves have no hole."""
    client = mlflow.MlflowClient()
    run_id = mlflow.active_run().info.run_id
    logged = {metric.step for metric in client.get_metric_history(run_id, "val_loss")}
    for record in records:
        if record.epoch not in logged:
            log_epoch(record)


def log_params(params: dict) -> None:
    """Log params, skipping ones already logged (MLflow params are write-once)."""
    existing = mlflow.get_run(mlflow.active_run().info.run_id).data.params
    fresh = {k: v for k, v in params.items() if k not in existing}
    if fresh:
        mlflow.log_params(fresh)


def log_artifact_files(paths: list[tuple[str, Path]]) -> None:
    """Log each ``(artifact sub-path, file or folder)``; missing ones are skipped."""
    for artifact_path, path in paths:
        if Path(path).is_dir():
            mlflow.log_artifacts(str(path), artifact_path)
        elif Path(path).exists():
            mlflow.log_artifact(str(path), artifact_path)
