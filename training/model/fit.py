"""The fit loop: train a stateful char-LSTM with checkpoints that survive a kill.

``fit_model(job, ...)`` trains on ``train.txt``, validates on ``validate.txt`` after
every epoch and returns the history. It knows nothing of MLflow: the caller
passes ``on_epoch`` to report each finished epoch wherever it likes.

Per epoch: states are reset before training and before validation; the last
epoch is saved with its optimizer (to resume) and the best one by val_loss is
kept as ``best.keras``; training stops after ``patience`` epochs without an
improvement of ``min_delta`` (the tutorial's 3 and 0.01), on a NaN loss, or at
``num_epochs``. A restarted run continues after its last finished epoch.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras

from training.core.atomic import replacing
from training.core.config import HyperParams, TrainJob
from training.core.errors import InputError, TrainingDiverged
from training.data.batches import StatefulBatches
from training.data.splits import TRAIN, VALIDATE, SplitInfo, split_path
from training.data.vocab import Vocabulary
from training.model.checkpoints import (
    BEST_FILENAME,
    LOGS_DIRNAME,
    EpochRecord,
    TrainingState,
    epoch_checkpoint_name,
    epochs_without_improvement,
)
from training.model.network import build_training_model, reset_states

# A run stopped for one of these reasons is done, even if it has epochs left.
STOPPED_FOR_GOOD = ("early_stopping", "pruned")


@dataclass(frozen=True)
class FitResult:
    state: TrainingState
    checkpoint_dir: Path

    @property
    def best(self) -> EpochRecord:
        return self.state.best

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoint_dir / BEST_FILENAME


def make_optimizer(hyperparams: HyperParams) -> keras.optimizers.Optimizer:
    """The optimizer named by ``hyperparams.optimizer`` (Keras' own lower-case names,
    the ones ``training.core.config.Optimizer`` lists)."""
    config = {}
    if hyperparams.learning_rate is not None:
        config["learning_rate"] = hyperparams.learning_rate
    if hyperparams.clip_norm > 0:
        config["clipnorm"] = hyperparams.clip_norm
    return keras.optimizers.get({"class_name": hyperparams.optimizer, "config": config})


def compile_model(model: keras.Model, hyperparams: HyperParams) -> None:
    model.compile(optimizer=make_optimizer(hyperparams),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def open_state(job: TrainJob, splits: dict[str, SplitInfo]) -> TrainingState:
    """The state to continue from, or a fresh one; refuses to mix up runs.

    Call it before starting anything else, so a wrong ``--restore`` fails early."""
    directory = job.checkpoint_dir
    existing = TrainingState.load(directory)
    if not job.restore:
        if existing is not None:
            raise InputError(f"{directory}: already holds a training run; pass "
                             f"--restore to continue it or pick another --checkpoint-dir")
        return TrainingState(hyperparams=job.hyperparams.to_dict(),
                             fit=job.fit.to_dict(),
                             data_sha256={k: v.sha256 for k, v in splits.items()})
    if existing is None:
        raise InputError(f"{directory}: nothing to restore (no {directory / 'state.json'})")
    if existing.hyperparams != job.hyperparams.to_dict():
        raise InputError(f"{directory}: the checkpoint was trained with other "
                         f"hyper-parameters; restore without changing them")
    for name, info in splits.items():
        if existing.data_sha256.get(name, info.sha256) != info.sha256:
            raise InputError(f"{info.path}: changed since this run started; resume "
                             f"on the same splits or start a new --checkpoint-dir")
    existing.fit = job.fit.to_dict()
    return existing


class _EpochBookkeeping(keras.callbacks.Callback):
    """Resets states, times the epoch, checkpoints it and decides early stopping."""

    def __init__(self, state: TrainingState, directory: Path, train_chars: int,
                 job: TrainJob, on_epoch: Callable[[EpochRecord], str | None]):
        super().__init__()
        self.state, self.directory, self.job = state, directory, job
        self.train_chars, self.on_epoch = train_chars, on_epoch
        self._epoch_start = self._train_seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)
        self._epoch_start = time.perf_counter()

    def on_test_begin(self, logs=None):
        # Validation streams start at the beginning of validate.txt, so must the state.
        self._train_seconds = time.perf_counter() - self._epoch_start
        reset_states(self.model)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss, val_loss = float(logs.get("loss", math.nan)), float(logs.get("val_loss", math.nan))
        if not (math.isfinite(loss) and math.isfinite(val_loss)):
            self.state.stop_reason = "nan_loss"
            self.model.stop_training = True
            return
        record = EpochRecord(
            epoch=epoch + 1, loss=loss, val_loss=val_loss,
            val_bits_per_char=val_loss / math.log(2),
            epoch_seconds=time.perf_counter() - self._epoch_start,
            chars_per_second=self.train_chars / max(self._train_seconds, 1e-9),
            learning_rate=float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate)))
        self._commit(record)
        verdict = self.on_epoch(record)
        wait = epochs_without_improvement([r.val_loss for r in self.state.epochs],
                                          self.job.fit.min_delta)
        if verdict is None and wait >= self.job.fit.patience:
            verdict = "early_stopping"
        if verdict:
            self.state.stop_reason = verdict
            self.model.stop_training = True
            self.state.save(self.directory)

    def _commit(self, record: EpochRecord) -> None:
        previous = self.state.last_checkpoint
        name = epoch_checkpoint_name(record.epoch)
        _save_model(self.model, self.directory / name)
        self.state.record_file(self.directory, name)
        if self.state.improves_best(record.val_loss):
            _save_model(self.model, self.directory / BEST_FILENAME)
            self.state.record_file(self.directory, BEST_FILENAME)
            self.state.best_epoch = record.epoch
        self.state.epochs.append(record)
        self.state.last_checkpoint = name
        if previous != name:
            self.state.file_sha256.pop(previous, None)
        self.state.save(self.directory)  # the commit point
        if previous and previous != name:
            (self.directory / previous).unlink(missing_ok=True)


def _save_model(model: keras.Model, path: Path) -> None:
    with replacing(path) as partial:
        model.save(partial)


def fit_model(job: TrainJob, vocab: Vocabulary, state: TrainingState,
              on_epoch: Callable[[EpochRecord], str | None] = lambda record: None,
              verbose: int | None = None) -> FitResult:
    """Train (or continue) the job from ``state`` (see ``open_state``).

    ``on_epoch`` sees every epoch once it is safely on disk; if it returns a
    reason (say ``"pruned"``), training stops there with that ``stop_reason``.
    Splits must have passed ``training.data.splits.check_splits``.
    """
    directory = job.checkpoint_dir
    directory.mkdir(parents=True, exist_ok=True)
    result = FitResult(state, directory)
    if state.stop_reason in STOPPED_FOR_GOOD or state.epochs_done >= job.fit.num_epochs:
        state.save(directory)
        return result
    state.stop_reason = None
    state.save(directory)
    if job.fit.seed is not None:
        keras.utils.set_random_seed(job.fit.seed + state.epochs_done)

    hyperparams = job.hyperparams
    if state.last_checkpoint:
        if state.best_epoch:
            state.checked_file(directory, BEST_FILENAME)  # what a resumed run ships
        model = keras.models.load_model(state.checked_file(directory, state.last_checkpoint),
                                        safe_mode=True)
    else:
        model = build_training_model(hyperparams, vocab.size)
        compile_model(model, hyperparams)
    train = StatefulBatches(split_path(job.data_dir, TRAIN), hyperparams, vocab,
                            max_bytes=job.fit.max_train_chars)
    validate = StatefulBatches(split_path(job.data_dir, VALIDATE), hyperparams, vocab)
    callbacks = [
        _EpochBookkeeping(state, directory, train.chars_per_epoch, job, on_epoch),
        keras.callbacks.TerminateOnNaN(),
    ]
    # Keras writes TensorBoard's event files with TensorFlow's summary writer, on
    # any backend; an install with only JAX trains without them.
    if importlib.util.find_spec("tensorflow") is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(directory / LOGS_DIRNAME)))
    if job.fit.reduce_lr_on_plateau:
        # Halving at the first epoch without improvement leaves early stopping's
        # patience to try the smaller rates before it gives up.
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=1, min_delta=job.fit.min_delta))
    try:
        model.fit(train, validation_data=validate, epochs=job.fit.num_epochs,
                  initial_epoch=state.epochs_done, shuffle=False, callbacks=callbacks,
                  verbose=(1 if sys.stdout.isatty() else 2) if verbose is None else verbose)
    finally:
        train.close()
        validate.close()
    if state.stop_reason == "nan_loss" or _last_loss_is_nan(model):
        state.stop_reason = "nan_loss"
        state.save(directory)
        raise TrainingDiverged(f"loss became NaN in epoch {state.epochs_done + 1}; "
                               f"try a lower --learning-rate or a --clip-norm")
    if state.stop_reason is None:
        state.stop_reason = "completed"
        state.save(directory)
    if state.best is None:
        raise TrainingDiverged("no epoch finished with a finite val_loss")
    return result


def _last_loss_is_nan(model: keras.Model) -> bool:
    # TerminateOnNaN stops mid-epoch, before on_epoch_end ever sees the loss.
    history = getattr(model, "history", None)
    losses = history.history.get("loss", []) if history else []
    return bool(losses) and not math.isfinite(losses[-1])
