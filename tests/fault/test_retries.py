"""An Airflow retry of a trial whose first attempt was killed mid-training (a
worker lost, a pod evicted) continues the same MLflow run from the last finished
epoch: params unchanged, no metric step logged twice, one run per trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import mlflow
import pytest

from training import tracking
from training.core.config import HyperParams
from training.core.records import OK, RUNNING
from training.model.checkpoints import TrainingState
from training.tracking.search_store import SearchStore

pytestmark = [pytest.mark.fault, pytest.mark.slow]

PARAMS = HyperParams(batch_size=16, seq_len=16, rnn_size=16, embedding_size=8,
                     optimizer="adam", learning_rate=0.01, drop_rate=0.0)


def wait_for_epochs(checkpoint_dir, count, process, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = TrainingState.load(checkpoint_dir) if checkpoint_dir.exists() else None
        if state is not None and state.epochs_done >= count:
            return state
        assert process.poll() is None, "the trial exited before it could be killed"
        time.sleep(0.1)
    raise AssertionError(f"no {count} epoch(s) in {timeout} s")


def test_a_retried_trial_continues_its_run_without_logging_a_step_twice(tmp_path,
                                                                       sample_splits):
    store = SearchStore("retried")
    run_id = store.create_trial(1, PARAMS)
    checkpoint_dir = tmp_path / "trial-001"
    command = [sys.executable, "-m", "training.trial", "--search-id", "retried",
               "--trial-num", "1", "--data-dir", str(sample_splits), "--num-epochs", "3",
               "--patience", "10", "--checkpoint-dir", str(checkpoint_dir),
               "--result-path", str(tmp_path / "result.json"),
               *[f"--{k.replace('_', '-')}={v}" for k, v in PARAMS.to_dict().items()]]
    first = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    wait_for_epochs(checkpoint_dir, 1, first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert store.find_trial(1).status == RUNNING
    params_before = mlflow.get_run(run_id).data.params

    retry = subprocess.run(command, env=os.environ.copy(), capture_output=True, text=True,
                           timeout=600)
    assert retry.returncode == 0, retry.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["status"], result["run_id"], result["num_epochs"]) == (OK, run_id, 3)
    tracking.configure()
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == params_before
    client = mlflow.MlflowClient()
    for key in ("val_loss", "loss"):
        assert sorted(m.step for m in client.get_metric_history(run_id, key)) == [1, 2, 3]
    assert [t.run_id for t in store.trials()] == [run_id]
