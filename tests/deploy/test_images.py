"""Each image's install step, reproduced without Docker: docker/install-locked.sh
(what the trainer and MLflow images run; the Airflow image installs the same
export with pip into the official image) builds a clean virtual environment
from uv.lock (hash-checked; uv's cache first, the package index for what it
lacks, as an image build would), and the image's entrypoints run in it.
The trainer has no Airflow; the Airflow side has no TensorFlow, and the DAGs
still parse there under either placement."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def install(extra: str, venv: Path) -> Path:
    environment = {**os.environ, "PATH": f"{REPO / '.tools' / 'bin'}:{os.environ['PATH']}",
                   "UV_PYTHON_DOWNLOADS": "never"}
    environment.pop("VIRTUAL_ENV", None)
    done = subprocess.run([str(REPO / "docker" / "install-locked.sh"), extra, str(venv)],
                          cwd=REPO, env=environment, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin"


def run(command: list[str], **environment) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith(("AIRFLOW", "TWEETBOT", "MLFLOW", "VIRTUAL_ENV"))}
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          cwd=environment.pop("cwd", None), env={**clean, **environment})


def imports(python: Path, module: str) -> subprocess.CompletedProcess:
    return run([str(python), "-c", f"import {module}"])


def test_the_trainer_runs_every_step_and_has_no_airflow(tmp_path):
    bin_ = install("train", tmp_path / "trainer")
    for step in ("training.trial", "training.train", "training.evaluate"):
        shown = run([str(bin_ / "python"), "-m", step, "--help"], cwd=tmp_path)
        assert shown.returncode == 0 and f"python -m {step}" in shown.stdout, shown.stderr
    assert imports(bin_ / "python", "tensorflow").returncode == 0
    missing = imports(bin_ / "python", "airflow")
    assert "No module named 'airflow'" in missing.stderr


def test_the_airflow_side_parses_the_dags_without_tensorflow(tmp_path):
    bin_ = install("airflow", tmp_path / "airflow")
    assert run([str(bin_ / "airflow"), "--help"], AIRFLOW_HOME=str(tmp_path / "home")) \
        .returncode == 0
    missing = imports(bin_ / "python", "tensorflow")
    assert "No module named 'tensorflow'" in missing.stderr
    parse = ("import sys\n"
             "from airflow.dag_processing.dagbag import DagBag\n"
             f"bag = DagBag(dag_folder={str(REPO / 'dags')!r})\n"
             "assert not bag.import_errors, bag.import_errors\n"
             "assert 'tensorflow' not in sys.modules\n"
             "print(' '.join(sorted(bag.dag_ids)))\n")
    for placement in ("local", "kubernetes"):
        parsed = run([str(bin_ / "python"), "-c", parse],
                     AIRFLOW_HOME=str(tmp_path / placement),
                     AIRFLOW__CORE__LOAD_EXAMPLES="False",
                     PYTHONPATH=f"{REPO / 'dags'}:{REPO / 'plugins'}",
                     TWEETBOT_TRIAL_EXECUTOR=placement)
        assert parsed.returncode == 0, parsed.stderr[-3000:]
        dag_ids = parsed.stdout.strip().splitlines()[-1].split()  # after Airflow's log lines
        assert dag_ids == ["tweetbot_prepare_splits", "tweetbot_training"]


def test_the_mlflow_server_image_serves_with_basic_auth_and_postgres(tmp_path):
    bin_ = install("server", tmp_path / "mlflow")
    shown = run([str(bin_ / "mlflow"), "server", "--help"])
    assert shown.returncode == 0 and "--app-name" in shown.stdout, shown.stderr
    for module in ("mlflow.server.auth", "psycopg2", "boto3"):
        assert imports(bin_ / "python", module).returncode == 0, module
