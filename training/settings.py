"""Where tweetbot keeps local state, read from the environment once per call.

``TWEETBOT_HOME`` (default ``./.tweetbot``) holds the embedded MLflow store
(``mlflow.db`` and ``artifacts/``) and anything else a local run keeps between
runs. Nothing here creates folders at import time.
"""

import os
from pathlib import Path

DEFAULT_HOME = ".tweetbot"
DEFAULT_EXPERIMENT = "tweetbot"


def state_dir() -> Path:
    """The project state folder, absolute, not necessarily created yet."""
    return Path(os.environ.get("TWEETBOT_HOME", DEFAULT_HOME)).expanduser().resolve()


def experiment_name() -> str:
    """The MLflow experiment every tweetbot run is logged to."""
    return os.environ.get("TWEETBOT_EXPERIMENT", DEFAULT_EXPERIMENT)


EXECUTORS = ("local", "kubernetes")


def splits_location() -> str:
    """Where the pipeline finds its splits unless a run says otherwise."""
    return os.environ.get("TWEETBOT_SPLITS") or str(state_dir() / "splits")


def trial_executor() -> str:
    """``local`` (default) runs trials and training as processes on the worker;
    ``kubernetes`` runs each as a pod (``training.pod``)."""
    executor = os.environ.get("TWEETBOT_TRIAL_EXECUTOR", "local")
    if executor not in EXECUTORS:
        raise ValueError(f"TWEETBOT_TRIAL_EXECUTOR: {executor!r} is not one of "
                         f"{', '.join(EXECUTORS)}")
    return executor


def mlflow_ui_url() -> str | None:
    """Base address of the MLflow UI for links from Airflow; the tracking server's
    address when it is one."""
    url = os.environ.get("TWEETBOT_MLFLOW_UI_URL") or os.environ.get("MLFLOW_TRACKING_URI", "")
    return url.rstrip("/") if url.startswith(("http://", "https://")) else None
