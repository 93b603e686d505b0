"""A checkpoint damaged after it was saved (a truncated copy on a shared volume)
is refused by name when training resumes, and the run is not left RUNNING; the
best model is never replaced by a worse epoch."""

from __future__ import annotations

import mlflow
import pytest

from training import tracking
from training.model.checkpoints import BEST_FILENAME, TrainingState
from training.train import main

pytestmark = [pytest.mark.fault, pytest.mark.slow]

TINY = ["--batch-size", "16", "--seq-len", "16", "--rnn-size", "16", "--embedding-size",
        "8", "--optimizer", "adam", "--learning-rate", "0.01", "--seed", "3"]


@pytest.fixture
def trained_one_epoch(tmp_path, sample_splits):
    checkpoint_dir = tmp_path / "ck"
    assert main(["--checkpoint-dir", str(checkpoint_dir), "--data-dir", str(sample_splits),
                 "--num-epochs", "1", *TINY]) == 0
    return checkpoint_dir


@pytest.mark.parametrize("damaged", ["last epoch", "best"])
def test_a_truncated_checkpoint_is_refused_on_resume(trained_one_epoch, sample_splits,
                                                     capsys, damaged):
    state = TrainingState.load(trained_one_epoch)
    name = state.last_checkpoint if damaged == "last epoch" else BEST_FILENAME
    path = trained_one_epoch / name
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    capsys.readouterr()
    status = main(["--checkpoint-dir", str(trained_one_epoch), "--data-dir",
                   str(sample_splits), "--num-epochs", "2", "--restore"])
    error = capsys.readouterr().err
    assert status == 2
    assert f"error: {path}: damaged or missing since epoch 1 was saved" in error
    assert TrainingState.load(trained_one_epoch).epochs_done == 1  # nothing trained on it
    tracking.configure()
    assert mlflow.get_run(state.mlflow_run_id).info.status != "RUNNING"


@pytest.mark.parametrize("val_loss, replaces", [
    (2.5, False), (2.0, False), (float("nan"), False), (float("inf"), False), (1.9, True)])
def test_only_a_better_epoch_replaces_the_best_model(val_loss, replaces):
    from training.model.checkpoints import EpochRecord

    state = TrainingState(hyperparams={}, fit={}, best_epoch=1, epochs=[EpochRecord(
        epoch=1, loss=2.1, val_loss=2.0, val_bits_per_char=2.9, epoch_seconds=1.0,
        chars_per_second=1.0, learning_rate=0.01)])
    assert state.improves_best(val_loss) is replaces
