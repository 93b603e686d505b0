"""Real training runs: the shared tweet corpus, a kill and a resume, generation."""

import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from importlib import metadata

import mlflow
import pytest

from training import tracking
from training.data.vocab import Vocabulary
from training.model.checkpoints import TrainingState
from training.model.generator import GenerationRequest, TweetGenerator
from training.pipeline.evaluation import evaluate
from training.tracking import registry, runs, tags
from training.train import main

pytestmark = pytest.mark.slow
SMALL = ["--batch-size", "32", "--seq-len", "32", "--rnn-size", "64",
         "--embedding-size", "16", "--optimizer", "adam", "--learning-rate", "0.01",
         "--seed", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_splits):
    """Three epochs on the shared corpus, tracked in a module-wide MLflow store."""
    root = tmp_path_factory.mktemp("trained")
    env = pytest.MonkeyPatch()
    env.setenv("TWEETBOT_HOME", str(root / "home"))
    env.delenv("MLFLOW_TRACKING_URI", raising=False)
    status = main(["--checkpoint-dir", str(root / "ck"), "--data-dir", str(shared_splits),
                   "--num-epochs", "3", "--run-name", "shared-corpus", *SMALL])
    assert status == 0
    tracking.configure()
    state = TrainingState.load(root / "ck")
    run = mlflow.get_run(state.mlflow_run_id)
    yield root / "ck", state, run
    env.undo()


def test_val_loss_beats_a_uniform_guess(trained):
    _, state, _ = trained
    uniform = math.log(Vocabulary.default().size)  # 4.585 nats per character
    assert state.epochs_done == 3
    assert state.best.val_loss < uniform - 1.0
    assert state.epochs[-1].loss < state.epochs[0].loss
    assert all(r.chars_per_second > 0 and r.epoch_seconds > 0 for r in state.epochs)


def test_mlflow_holds_params_metrics_and_artifacts(trained):
    checkpoint_dir, state, run = trained
    assert run.info.status == "FINISHED" and run.info.run_name == "shared-corpus"
    assert run.data.params["rnn_size"] == "64" and run.data.params["optimizer"] == "adam"
    assert run.data.params["train_sha256"] == state.data_sha256["train"]
    assert run.data.metrics["best_val_loss"] == pytest.approx(state.best.val_loss)
    client = mlflow.MlflowClient()
    for key in runs.METRIC_KEYS:
        assert [m.step for m in client.get_metric_history(run.info.run_id, key)] == [1, 2, 3]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"checkpoint", "plots", "tensorboard"}
    files = {a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")}
    assert {"checkpoint/best.keras", "checkpoint/vocab.json"} <= files
    assert [a.path for a in client.list_artifacts(run.info.run_id, "plots")] == [
        "plots/learning_curve.png"]
    assert (checkpoint_dir / "logs" / "train").is_dir()  # TensorBoard


def test_generation_is_reproducible_and_well_formed(trained):
    checkpoint_dir, _, _ = trained
    generator = TweetGenerator.from_checkpoint(checkpoint_dir)
    request = GenerationRequest(prompt="The ", temperature=0.8, max_chars=60, n=4, seed=5)
    tweets = generator.generate(request)
    assert tweets == generator.generate(request)
    assert tweets != generator.generate(GenerationRequest(prompt="The ", max_chars=60,
                                                          n=4, seed=6))
    for tweet in tweets:
        assert tweet.startswith("The ") and len(tweet) <= 60
        assert "\n" not in tweet and "\ufffd" not in tweet


def _wait_for_epochs(checkpoint_dir, count, process, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = TrainingState.load(checkpoint_dir) if checkpoint_dir.exists() else None
        if state is not None and state.epochs_done >= count:
            return state
        assert process.poll() is None, "training exited before it could be killed"
        time.sleep(0.1)
    raise AssertionError("no epoch finished in time")


@pytest.mark.fault
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_kill_and_resume_continues_from_the_last_finished_epoch(tmp_path, sample_splits,
                                                                 backend):
    """On each Keras backend the trainer supports (``KERAS_BACKEND``)."""
    checkpoint_dir = tmp_path / "ck"
    command = [sys.executable, "-m", "training.train", "--checkpoint-dir",
               str(checkpoint_dir), "--data-dir", str(sample_splits), "--num-epochs", "4",
               "--patience", "10", *SMALL]
    env = {**os.environ, "KERAS_BACKEND": backend}
    process = subprocess.Popen(command, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    before = _wait_for_epochs(checkpoint_dir, 1, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = TrainingState.load(checkpoint_dir)
    assert 1 <= killed.epochs_done < 4
    assert (checkpoint_dir / killed.last_checkpoint).is_file()

    resumed = subprocess.run([*command[:-len(SMALL)], "--restore"], env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    state = TrainingState.load(checkpoint_dir)
    assert [r.epoch for r in state.epochs] == [1, 2, 3, 4]
    assert state.epochs[0] == before.epochs[0]  # epoch 1 was not trained again
    assert state.mlflow_run_id == before.mlflow_run_id
    assert sorted(p.name for p in checkpoint_dir.glob("*.keras")) == [
        "best.keras", "epoch-0004.keras"]

    tracking.configure()
    run = mlflow.get_run(state.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags[tags.KERAS_BACKEND] == backend
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val_loss")
    assert sorted(m.step for m in history) == [1, 2, 3, 4]  # no epoch logged twice
    runs = mlflow.search_runs(experiment_names=["tweetbot"])
    assert len(runs) == 1
    # A checkpoint is Keras' own file, whichever backend wrote it: this process
    # (TensorFlow, as the serving image) writes tweets from it.
    generator = TweetGenerator.from_checkpoint(checkpoint_dir)
    [tweet] = generator.generate(GenerationRequest(prompt="The ", max_chars=40, n=1, seed=3))
    assert tweet.startswith("The ") and len(tweet) <= 40
    if backend != "tensorflow":  # and the backend itself evaluates and generates
        result = tmp_path / "evaluation.json"
        subprocess.run([sys.executable, "-m", "training.evaluate", "--run-id", run.info.run_id,
                        "--data-dir", str(sample_splits), "--result-path", str(result)],
                       env=env, check=True, capture_output=True, timeout=600)
        assert 0 < json.loads(result.read_text())["test_loss"] < math.log(Vocabulary.default().size)
        generated = subprocess.run(
            [sys.executable, "-m", "training.generate", "--checkpoint-dir", str(checkpoint_dir),
             "--prompt", "The ", "-n", "2", "--max-chars", "40", "--seed", "3"],
            env=env, check=True, capture_output=True, text=True, timeout=600)
        assert [line[:4] for line in generated.stdout.splitlines()] == ["The ", "The "]


@pytest.mark.fault
def test_nan_loss_stops_training_and_fails_the_run(tmp_path, sample_splits, monkeypatch,
                                                   capsys):
    import keras

    import training.model.fit

    def diverging_loss(y_true, y_pred):
        return keras.ops.mean(y_pred) * float("nan")

    def compile_with_a_diverging_loss(model, hyperparams):
        model.compile(optimizer="adam", loss=diverging_loss)

    monkeypatch.setattr(training.model.fit, "compile_model", compile_with_a_diverging_loss)
    status = main(["--checkpoint-dir", str(tmp_path / "ck"), "--data-dir",
                   str(sample_splits), "--num-epochs", "3", *SMALL])
    error = capsys.readouterr().err
    assert status == 1 and "error: loss became NaN in epoch 1" in error
    state = TrainingState.load(tmp_path / "ck")
    assert state.stop_reason == "nan_loss" and state.epochs_done == 0
    assert not (tmp_path / "ck" / "best.keras").exists()
    tracking.configure()
    assert mlflow.get_run(state.mlflow_run_id).info.status == "FAILED"


def test_a_registered_version_shows_the_data_and_code_that_made_it(tmp_path, sample_splits):
    """Lineage, read back through the MLflow API: the run's dataset inputs are its
    three splits (digest: the file's SHA-256, source: where it is), and the
    version carries the code that trained it and the search that chose it."""
    checkpoint_dir = tmp_path / "ck"
    assert main(["--checkpoint-dir", str(checkpoint_dir), "--data-dir", str(sample_splits),
                 "--num-epochs", "1", "--log-model", *SMALL]) == 0
    run_id = TrainingState.load(checkpoint_dir).mlflow_run_id
    evaluation = evaluate(run_id, sample_splits)
    registration = registry.register_evaluated(run_id, runs.model_uri(run_id), evaluation,
                                               {tags.SEARCH_ID: "night-1"})
    client = tracking.client()
    inputs = {i.tags[0].value: i.dataset for i in client.get_run(run_id).inputs.dataset_inputs
              if i.tags and i.tags[0].key == "mlflow.data.context"}
    assert sorted(inputs) == ["test", "train", "validate"]
    for name, dataset in inputs.items():
        path = sample_splits / f"{name}.txt"
        assert dataset.name == f"{name}.txt"
        assert dataset.digest == hashlib.sha256(path.read_bytes()).hexdigest()[:32]
        assert (dataset.source_type, json.loads(dataset.source)) == ("local", {"uri": str(path)})
    version = client.get_model_version(registry.MODEL_NAME, str(registration.version))
    assert version.tags[tags.SEARCH_ID] == "night-1"
    assert version.tags[tags.CODE_VERSION] == metadata.version("tweetbot")
    # This checkout's commit (CI runs a clone): the code that trained the model.
    assert re.fullmatch(r"[0-9a-f]{40}", version.tags[tags.CODE_REVISION])
