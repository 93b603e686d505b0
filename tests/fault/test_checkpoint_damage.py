"""A checkpoint damaged after it was saved (a truncated copy on a shared volume,
or in the artifact store) is refused by name when training resumes or the model
is evaluated, without a retry, and the run is not left RUNNING; the best model
is never replaced by a worse epoch."""

from __future__ import annotations

import mlflow
import pytest

from training import tracking
from training.core.records import Step
from training.model.checkpoints import BEST_FILENAME, TrainingState
from training.pipeline import runner
from training.tracking import tags
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
    assert status == 3  # DAMAGED_EXIT_STATUS: running it again cannot help
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


def test_a_model_damaged_in_the_artifact_store_is_refused_by_evaluate(tmp_path,
                                                                     sample_splits):
    """best.keras truncated to half in the store after training: evaluate says
    so by name (not Keras' "file not found"), exits 3, which the runner fails
    for good, and the run and its logged model are marked damaged."""
    checkpoint_dir = tmp_path / "ck"
    assert main(["--checkpoint-dir", str(checkpoint_dir), "--data-dir", str(sample_splits),
                 "--num-epochs", "1", "--log-model", *TINY]) == 0
    run_id = TrainingState.load(checkpoint_dir).mlflow_run_id
    tracking.configure()
    stored = mlflow.get_run(run_id).info.artifact_uri.removeprefix("file://")
    best = __import__("pathlib").Path(stored) / "checkpoint" / BEST_FILENAME
    best.write_bytes(best.read_bytes()[:best.stat().st_size // 2])
    step = Step(module="training.evaluate", folder="damaged", name="evaluation",
                arguments=("--run-id", run_id, "--data-dir", str(sample_splits)))
    output = tmp_path / "evaluate.log"
    with open(output, "w") as log, pytest.raises(runner.StepRefused,
                                                match="running it again cannot succeed"):
        runner.run(runner.place(step), log)
    reason = f"run {run_id}: best.keras is damaged: SHA-256 differs from the run's state.json"
    assert f"error: {reason}" in output.read_text()
    run = mlflow.get_run(run_id)
    assert run.data.tags[tags.DAMAGED] == reason
    model_id = run.data.tags[tags.MODEL_URI].removeprefix("models:/")
    assert tracking.client().get_logged_model(model_id).tags[tags.DAMAGED] == reason
    assert "test_loss" not in run.data.metrics


def test_a_resumed_run_logs_its_splits_unknown_character_rates_once(trained_one_epoch,
                                                                   sample_splits):
    """A retried task continues its run: the rates are logged at step 0 once."""
    assert main(["--checkpoint-dir", str(trained_one_epoch), "--data-dir",
                 str(sample_splits), "--num-epochs", "2", "--restore"]) == 0
    run_id = TrainingState.load(trained_one_epoch).mlflow_run_id
    tracking.configure()
    for split in ("train", "validate"):
        history = tracking.client().get_metric_history(run_id, f"{split}_unknown_char_rate")
        assert len(history) == 1, split
