"""One model trained inside an MLflow run: the train step, and a trial's training.

Checks the splits and the parameters before anything starts, trains with the fit
loop (``training.model.fit``), logs every epoch, the outcome and the artifacts on
the run, and, for the registry, the model that generates tweets.
"""


from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from training.core.config import (
    TrainJob,
)
from training.data.splits import TRAIN, check_splits, split_path
from training.data.vocab import VOCAB_FILENAME, Vocabulary
from training.model.checkpoints import (
    BEST_FILENAME,
    LOGS_DIRNAME,
    STATE_FILENAME,
    EpochRecord,
)
from training.pipeline.deadline import epoch_deadline
from training.tracking import runs, tags

DEFAULT_DATA_DIR = Path("data/tweets-split")


def run_training(job: TrainJob, *, run_id: str | None = None,
                 run_tags: dict[str, str] | None = None,
                 judge_epoch: Callable[[list[EpochRecord]], str | None] | None = None,
                 log_model: bool = False, on_run: Callable[[str], None] | None = None):
    """Check inputs, then train ``job`` inside an MLflow run; returns the FitResult.

    ``run_id`` continues an existing run (a trial created at suggestion time);
    otherwise a resumed job continues its own run and a new one starts a run.
    ``judge_epoch`` sees the epochs so far after each one and may return a
    reason to stop (the search's pruning). ``log_model`` also logs the best
    checkpoint as an MLflow model that generates tweets (its URI goes in the
    run's ``tweetbot.model_uri`` tag), ready for the registry. ``on_run`` is told
    the MLflow run's id once it is open.
    """
    vocab = (Vocabulary.load(job.checkpoint_dir) if job.restore
             else Vocabulary.default())
    if job.fit.budget_chars is not None:
        train = split_path(job.data_dir, TRAIN)
        if train.is_file():  # a missing split: check_splits says so, next
            job = replace(job, fit=job.fit.for_train_split(train.stat().st_size))
    splits = check_splits(job.data_dir, job.hyperparams, vocab,
                          max_train_chars=job.fit.max_train_chars)
    from training.model.fit import fit_model, open_state  # Keras: only past the checks
    from training.model.network import check_training_backend

    backend = check_training_backend()
    state = open_state(job, splits)
    with runs.training_run(run_id or state.mlflow_run_id, job.run_name,
                           {tags.KIND: tags.TRAIN, tags.KERAS_BACKEND: backend,
                            **(run_tags or {})}) as run:
        state.mlflow_run_id = run.run_id
        if on_run is not None:
            on_run(run.run_id)
        job.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        vocab.save(job.checkpoint_dir)
        run.log_params({**job.hyperparams.to_dict(), **job.fit.to_dict(),
                        "vocab_size": vocab.size,
                        **{f"{name}_bytes": info.num_bytes for name, info in splits.items()},
                        **{f"{name}_sha256": info.sha256 for name, info in splits.items()}})
        runs.log_split_inputs(run.run_id, job.data_location or str(job.data_dir), splits)
        run.backfill_epochs(state.epochs)
        run.log_metrics_once({f"{name}_unknown_char_rate": info.unknown_rate
                              for name, info in splits.items()})

        with epoch_deadline(job.fit.epoch_timeout) as progressed:
            def on_epoch(record: EpochRecord) -> str | None:
                progressed()
                run.log_epoch(record)
                return judge_epoch(state.epochs) if judge_epoch else None

            result = fit_model(job, vocab, state, on_epoch=on_epoch)
        _log_outcome(run, result)
        if log_model:
            run.log_model_once(job.checkpoint_dir)
    return result


def _log_outcome(run: runs.TrainingRun, result) -> None:
    from training.model.plots import learning_curve

    state, directory = result.state, result.checkpoint_dir
    best = state.best
    curve = learning_curve(state.epochs, directory / "learning_curve.png",
                           title=f"val_loss {best.val_loss:.3f} at epoch {best.epoch}")
    run.log_outcome(state, [
        ("checkpoint", directory / BEST_FILENAME),
        ("checkpoint", directory / VOCAB_FILENAME),
        ("checkpoint", directory / STATE_FILENAME),
        ("tensorboard", directory / LOGS_DIRNAME),
        ("plots", curve),
    ])
