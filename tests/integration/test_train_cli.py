"""`python -m training.train`: bad input fails before training, in one line."""

import pytest

from training.train import main

TINY = ["--batch-size", "8", "--seq-len", "16", "--rnn-size", "16",
        "--embedding-size", "8", "--num-epochs", "1"]


def _run(capsys, *args):
    status = main(list(args))
    return status, capsys.readouterr().err


@pytest.fixture
def splits(tmp_path):
    folder = tmp_path / "splits"
    folder.mkdir()
    (folder / "train.txt").write_text("a tweet about bread\n" * 50)
    (folder / "validate.txt").write_text("a tweet about bikes\n" * 20)
    return folder


@pytest.mark.parametrize("change, message", [
    (lambda d: (d / "validate.txt").unlink(), "validate.txt: split not found"),
    (lambda d: (d / "train.txt").write_text(""), "train.txt: split is empty"),
    (lambda d: (d / "train.txt").write_bytes(b"\x80abc" * 100),
     "train.txt: not valid UTF-8 at byte 0"),
    (lambda d: (d / "validate.txt").write_text("tiny\n"),
     "validate.txt: 5 bytes is shorter than one batch"),
])
def test_bad_splits(tmp_path, capsys, splits, isolated_state, change, message):
    change(splits)
    status, error = _run(capsys, "--checkpoint-dir", str(tmp_path / "ck"),
                         "--data-dir", str(splits), *TINY)
    assert status == 2
    assert error.startswith("error: ") and error.count("\n") == 1 and message in error
    assert not (tmp_path / "ck").exists()
    assert not isolated_state.exists()  # no MLflow store, so no run was started


def test_a_keras_backend_that_cannot_train_is_refused(tmp_path, capsys, splits,
                                                      isolated_state, monkeypatch):
    """PyTorch's backend fails in the stateful LSTM's backward pass (``KERAS_BACKEND=
    torch``, not installed here): refused by name before anything starts."""
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    status, error = _run(capsys, "--checkpoint-dir", str(tmp_path / "ck"),
                         "--data-dir", str(splits), *TINY)
    assert status == 2 and error.count("\n") == 1
    assert error.startswith("error: KERAS_BACKEND=torch: the trainer trains on tensorflow "
                            "or jax (tensorflow by default)")
    assert not (tmp_path / "ck").exists()
    assert not isolated_state.exists()


@pytest.mark.parametrize("flags, message", [
    (["--batch-size", "0"], "batch_size: 0 is outside"),
    (["--drop-rate", "1.5"], "drop_rate: 1.5 is outside"),
    (["--learning-rate", "-1"], "learning_rate: -1.0 is outside"),
    (["--patience", "0"], "patience: 0 is outside"),
])
def test_impossible_hyperparameters(tmp_path, capsys, splits, flags, message):
    status, error = _run(capsys, "--checkpoint-dir", str(tmp_path / "ck"),
                         "--data-dir", str(splits), *TINY, *flags)
    assert status == 2 and message in error and error.count("\n") == 1


def test_unknown_optimizer_is_refused_by_the_parser(tmp_path, capsys, splits):
    with pytest.raises(SystemExit) as caught:
        main(["--checkpoint-dir", str(tmp_path), "--optimizer", "lbfgs"])
    assert caught.value.code == 2
    assert "invalid choice: 'lbfgs'" in capsys.readouterr().err


def test_restore_needs_a_run_and_keeps_its_hyperparameters(tmp_path, capsys, splits):
    status, error = _run(capsys, "--checkpoint-dir", str(tmp_path / "ck"),
                         "--data-dir", str(splits), "--restore")
    assert status == 2 and "holds no training run" in error

    from training.core.config import HyperParams
    from training.model.checkpoints import TrainingState
    (tmp_path / "ck").mkdir()
    TrainingState(hyperparams=HyperParams(rnn_size=16).to_dict(), fit={}).save(tmp_path / "ck")
    status, error = _run(capsys, "--checkpoint-dir", str(tmp_path / "ck"),
                         "--data-dir", str(splits), "--restore", "--rnn-size", "32")
    assert status == 2 and "--rnn-size: 32 differs from the checkpoint's 16" in error

    status, error = _run(capsys, "--checkpoint-dir", str(tmp_path / "ck"),
                         "--data-dir", str(splits), *TINY)
    assert status == 2 and "already holds a training run; pass --restore" in error


def test_help_reads_well(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--checkpoint-dir", "--data-dir", "--restore", "--num-layers", "--rnn-size",
                 "--embedding-size", "--batch-size", "--seq-len", "--drop-rate",
                 "--learning-rate", "--clip-norm", "--optimizer", "--num-epochs"):
        assert flag in text
    assert "model and optimizer:" in text and "units per LSTM layer" in text


def test_a_budget_in_characters_trains_the_epochs_that_make_it_up(tmp_path, capsys, splits,
                                                                  monkeypatch):
    """1,000 characters of train.txt and a budget of 10,000: ten epochs."""
    from training.model.checkpoints import TrainingState

    monkeypatch.setenv("TWEETBOT_HOME", str(tmp_path / "home"))
    flags = [flag for flag in TINY if flag not in ("--num-epochs", "1")]
    status, error = _run(capsys, "--checkpoint-dir", str(tmp_path / "ck"),
                         "--data-dir", str(splits), *flags, "--num-epochs", "50",
                         "--budget-chars", "10000", "--patience", "100")
    assert status == 0, error
    state = TrainingState.load(tmp_path / "ck")
    assert state.epochs_done == 10 and state.fit["num_epochs"] == 10
