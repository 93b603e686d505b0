"""Where tweetbot keeps local state, read from the environment once per call.

``TWEETBOT_HOME`` (default ``./.tweetbot``) holds the embedded MLflow store
(``mlflow.db`` and ``artifacts/``), the local runner's results and checkpoints
(``runs/``) and anything else a local run keeps between runs. Nothing here
creates folders at import time. MLflow's own settings are read in
``training.tracking``; where a step runs, in the DAGs' placement module.
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


def data_root() -> Path:
    """The folder under which a run may read or publish local data (splits, raw
    tweets): ``TWEETBOT_DATA_ROOT``, else ``TWEETBOT_HOME``. A run's parameters
    come from whoever can trigger it; they never reach other folders."""
    root = os.environ.get("TWEETBOT_DATA_ROOT")
    return Path(root).expanduser().resolve() if root else state_dir()


def code_version() -> str:
    """The installed tweetbot package's version."""
    from importlib import metadata

    try:
        return metadata.version("tweetbot")
    except metadata.PackageNotFoundError:
        return "unknown"


def code_revision() -> str:
    """Which code this is: ``TWEETBOT_CODE_REVISION`` (an image sets its tag or
    commit there), else the commit of the git checkout the code runs from, else
    ``unknown``. Uncommitted changes are not told apart: a changed README would
    otherwise retrain the night (``training.run_key``)."""
    revision = os.environ.get("TWEETBOT_CODE_REVISION")
    if revision:
        return revision
    import subprocess

    checkout = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return commit.stdout.strip() if commit.returncode == 0 else "unknown"


def splits_location() -> str:
    """Where the pipeline finds its splits unless a run says otherwise."""
    return os.environ.get("TWEETBOT_SPLITS") or str(state_dir() / "splits")
