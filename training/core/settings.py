"""Where tweetbot keeps local state, read from the environment once per call.

``TWEETBOT_HOME`` (default ``./.tweetbot``) holds the embedded MLflow store
(``mlflow.db`` and ``artifacts/``), the local runner's results and checkpoints
(``runs/``) and anything else a local run keeps between runs. Nothing here
creates folders at import time. MLflow's own settings are read in
``training.tracking``; where a step runs, in the DAGs' placement module.
"""

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".tweetbot"
DEFAULT_EXPERIMENT = "tweetbot"


@dataclass(frozen=True)
class Variable:
    """A setting a deployment gives through the environment, as the docs list it."""

    name: str
    default: str  # what applies when it is unset, in words
    meaning: str
    section: str


WHERE, DAGS, PODS, STACK = ("Where things are", "The DAGs", "Steps in Kubernetes pods",
                            "The stack on one machine (make stack-up)")

# Every environment variable a deployment sets, declared once: the docs'
# configuration table is rendered from this, and a test fails on a TWEETBOT_
# variable the code reads that is missing here. Each is read where it is used,
# with the default written here.
VARIABLES = (
    Variable("TWEETBOT_HOME", f"`./{DEFAULT_HOME}`", "local state: the embedded MLflow "
             "store, local steps' results and checkpoints (`runs/`), demo data", WHERE),
    Variable("TWEETBOT_EXPERIMENT", f"`{DEFAULT_EXPERIMENT}`", "MLflow experiment name", WHERE),
    Variable("MLFLOW_TRACKING_URI", "embedded SQLite in `$TWEETBOT_HOME/mlflow.db`",
             "the MLflow tracking server (with `MLFLOW_TRACKING_USERNAME`/`PASSWORD`)", WHERE),
    Variable("TWEETBOT_DATA_ROOT", "`$TWEETBOT_HOME`", "the only local folder run "
             "parameters may read or publish under", WHERE),
    Variable("TWEETBOT_SPLITS", "`$TWEETBOT_HOME/splits`", "where the DAGs read and "
             "publish splits (a folder or `s3://`)", WHERE),
    Variable("TWEETBOT_RAW_TWEETS", "none", "the raw tweet file `tweetbot_prepare_splits` "
             "splits", WHERE),
    Variable("TWEETBOT_CODE_REVISION", "the git commit of the checkout", "which code "
             "trained a version (an image sets its tag); part of the run key", WHERE),
    Variable("AWS_ENDPOINT_URL, AWS_*", "boto3's", "S3 endpoint and credentials for "
             "`s3://` locations", WHERE),
    Variable("TWEETBOT_TRIAL_EXECUTOR", "`local`", "where steps that train run: `local` "
             "(a process on the worker) or `kubernetes` (a pod); anything else fails the "
             "DAG's import", DAGS),
    Variable("TWEETBOT_GPU_QUEUE", "`tweetbot_gpu`", "the Celery queue of the steps that "
             "train, with `local` placement", DAGS),
    Variable("TWEETBOT_LOCAL_ACCELERATORS", "`0`", "accelerators a step that trains holds "
             "on this worker, with `local` placement (read on the worker); what its "
             "accelerator-seconds are counted by", DAGS),
    Variable("TWEETBOT_SCHEDULE", "`0 3 * * *`", "the nightly cron (UTC)", DAGS),
    Variable("TWEETBOT_DEADLINE", "`PT12H`", "alert when a training run is not finished "
             "this long after it was queued (seconds or ISO 8601; `0`: no deadline)", DAGS),
    Variable("TWEETBOT_APPROVAL_TIMEOUT", "`PT12H`", "how long `approve_promotion` waits "
             "for an answer before it rejects", DAGS),
    Variable("TWEETBOT_RUN_DEFAULTS", "none", "a YAML file of run-parameter defaults "
             "(scheduled and asset-triggered runs use them); checked when the DAG is "
             "parsed", DAGS),
    Variable("TWEETBOT_MLFLOW_UI_URL", "the tracking server", "base address of the "
             "Airflow → MLflow links", DAGS),
    Variable("TWEETBOT_TRAINER_IMAGE", "`tweetbot-trainer:<version>`", "the pods' image", PODS),
    Variable("TWEETBOT_K8S_NAMESPACE", "`tweetbot`", "the pods' namespace", PODS),
    Variable("TWEETBOT_K8S_GPUS", "`1`", "`nvidia.com/gpu` limit of a pod that trains "
             "(0: CPU-only pods)", PODS),
    Variable("TWEETBOT_K8S_CPU", "`2`", "CPU request per pod", PODS),
    Variable("TWEETBOT_K8S_MEMORY", "`8Gi`", "memory request and limit per pod", PODS),
    Variable("TWEETBOT_K8S_NODE_SELECTOR", "none", "JSON object selecting GPU nodes, e.g. "
             '`{"gpu": "a100"}`', PODS),
    Variable("TWEETBOT_K8S_TOLERATIONS", "the `nvidia.com/gpu` taint", "JSON list", PODS),
    Variable("TWEETBOT_K8S_ENV_SECRET", "`tweetbot-env`", "the secret with the pods' "
             "MLflow credentials and `AWS_*` settings", PODS),
    Variable("TWEETBOT_K8S_MLFLOW_URI", "the run's `MLFLOW_TRACKING_URI`", "MLflow's "
             "address as pods reach it", PODS),
    Variable("TWEETBOT_K8S_CHECKPOINT_PVC", "none (a retried pod starts over)", "a "
             "ReadWriteMany claim mounted at `/checkpoints` where steps checkpoint", PODS),
    Variable("TWEETBOT_K8S_STARTUP_TIMEOUT", "`900` s", "from scheduled to running (a "
             "multi-GB image pull)", PODS),
    Variable("TWEETBOT_K8S_SCHEDULE_TIMEOUT", "`1800` s", "from created to scheduled (a "
             "GPU node scaled up from zero)", PODS),
    Variable("TWEETBOT_K8S_EXECUTION_TIMEOUT", "`43200` s", "how long a step's pod may "
             "run; a hung pod then fails instead of holding the run", PODS),
    Variable("TWEETBOT_STACK_HOME", "`$TWEETBOT_HOME/stack`", "the native stack's state "
             "folder", STACK),
    Variable("TWEETBOT_STACK_POSTGRES", "127.0.0.1:5432, else a cluster of its own",
             "the PostgreSQL server (a SQLAlchemy URL)", STACK),
    Variable("TWEETBOT_STACK_REDIS", "`redis://127.0.0.1:6379/0`", "the Celery broker",
             STACK),
)
# Set by tweetbot for its own processes, or .env's image tag (listed with compose).
INTERNAL_VARIABLES = ("TWEETBOT_ACCELERATORS", "TWEETBOT_WORKER", "TWEETBOT_STACK_DATABASES",
                      "TWEETBOT_STACK_BUCKET", "TWEETBOT_VERSION")


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
    otherwise retrain the night (``training.pipeline.run_key``)."""
    revision = os.environ.get("TWEETBOT_CODE_REVISION")
    if revision:
        return revision
    import subprocess

    checkout = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return commit.stdout.strip() if commit.returncode == 0 else "unknown"


def splits_location() -> str:
    """Where the pipeline finds its splits unless a run says otherwise."""
    return os.environ.get("TWEETBOT_SPLITS") or str(state_dir() / "splits")
