"""What a training run records in MLflow, and what is read back from a run.

``training_run`` opens (or reopens, to continue) the MLflow run a
``python -m training.train`` or a trial trains in; the ``TrainingRun`` it yields
logs params, per-epoch metrics, the outcome and the model. A run that raises
ends FAILED, never RUNNING forever.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random

from training import tracking
from training.data import storage
from training.data.splits import SplitInfo
from training.model.checkpoints import EpochRecord, TrainingState
from training.tracking import tags

METRIC_KEYS = ("loss", "val_loss", "val_bits_per_char", "epoch_seconds",
               "chars_per_second", "learning_rate")


class TrainingRun:
    """The active MLflow run of one training job."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.client = mlflow.MlflowClient()

    def log_params(self, params: dict) -> None:
        """Log params, skipping ones already logged (MLflow params are write-once)."""
        existing = self.client.get_run(self.run_id).data.params
        fresh = {k: v for k, v in params.items() if k not in existing}
        if fresh:
            mlflow.log_params(fresh)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        mlflow.log_metrics(metrics)

    def log_metrics_once(self, metrics: dict[str, float]) -> None:
        """Log the metrics this run does not hold yet: a resumed run (a retried
        task) logs each at its step once, not once per attempt."""
        existing = self.client.get_run(self.run_id).data.metrics
        fresh = {k: v for k, v in metrics.items() if k not in existing}
        if fresh:
            mlflow.log_metrics(fresh)

    def log_epoch(self, record: EpochRecord) -> None:
        mlflow.log_metrics({key: getattr(record, key) for key in METRIC_KEYS},
                           step=record.epoch)

    def backfill_epochs(self, records: list[EpochRecord]) -> None:
        """Log epochs that finished on disk but never reached MLflow (a kill between
        the checkpoint and the log), so a resumed run's curves have no hole."""
        logged = {m.step for m in self.client.get_metric_history(self.run_id, "val_loss")}
        for record in records:
            if record.epoch not in logged:
                self.log_epoch(record)

    def log_outcome(self, state: TrainingState, files: list[tuple[str, Path]]) -> None:
        """The best epoch's numbers, why training stopped, and each
        ``(artifact folder, file or folder)`` that exists."""
        best = state.best
        mlflow.log_metrics({
            "best_val_loss": best.val_loss,
            "best_val_bits_per_char": best.val_bits_per_char,
            "best_train_loss": best.loss,
            "best_epoch": best.epoch,
            "num_epochs": state.epochs_done,
            "avg_epoch_seconds": sum(r.epoch_seconds for r in state.epochs) / state.epochs_done,
        })
        mlflow.set_tag(tags.STOP_REASON, state.stop_reason)
        self.log_files(files)

    def log_files(self, files: list[tuple[str, Path]]) -> None:
        """Each ``(artifact folder, file or folder)`` that exists."""
        for artifact_path, path in files:
            if Path(path).is_dir():
                mlflow.log_artifacts(str(path), artifact_path)
            elif Path(path).exists():
                mlflow.log_artifact(str(path), artifact_path)

    def log_model_once(self, checkpoint_dir: Path) -> str:
        """Log the best checkpoint as the tweet-writing pyfunc, unless this run
        already did (a retried task); returns the model URI."""
        from training.tracking.pyfunc import log_generator_model

        uri = model_uri(self.run_id)
        if uri is None:
            uri = log_generator_model(checkpoint_dir)
            mlflow.set_tag(tags.MODEL_URI, uri)
        return uri


@contextlib.contextmanager
def training_run(run_id: str | None, run_name: str | None,
                 initial_tags: dict[str, str]) -> Iterator[TrainingRun]:
    """Start a run, or reopen ``run_id`` to continue it; it ends FAILED on error."""
    from training.core import settings

    experiment_id = tracking.configure()
    with mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id,
                          run_name=None if run_id else run_name) as active:
        mlflow.set_tags({tags.CODE_VERSION: settings.code_version(),
                         tags.CODE_REVISION: settings.code_revision(), **initial_tags})
        yield TrainingRun(active.info.run_id)


def model_uri(run_id: str) -> str | None:
    """The URI of the model a training run logged, if it logged one."""
    return tags_of(run_id).get(tags.MODEL_URI)


def mark_damaged(run_id: str, reason: str) -> None:
    """Say on the run, and on the model it logged, that its stored model is
    damaged: the MLflow UI shows why before anyone registers it by hand."""
    client = tracking.client()
    client.set_tag(run_id, tags.DAMAGED, reason)
    uri = model_uri(run_id)
    if uri and uri.startswith("models:/"):  # MLflow 3's logged model: models:/<id>
        client.set_logged_model_tags(uri.removeprefix("models:/"), {tags.DAMAGED: reason})


def tags_of(run_id: str) -> dict[str, str]:
    return tracking.client().get_run(run_id).data.tags


def download_checkpoint(run_id: str, destination: Path) -> Path:
    """The ``checkpoint`` folder a training run logged (best.keras, vocab.json)."""
    tracking.configure()
    return Path(mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="checkpoint", dst_path=str(destination)))


# Parallel trials log the same splits at once: MLflow's store looks a dataset up,
# then inserts it, so one of two writers can collide on its unique key; retried,
# it finds the dataset the other wrote.
@retry(retry=retry_if_exception_type(MlflowException), stop=stop_after_attempt(4),
       wait=wait_random(0.1, 1.0), reraise=True)
def log_split_inputs(run_id: str, location: str, splits: Mapping[str, SplitInfo]) -> None:
    """The splits a run read, as its MLflow dataset inputs: context ``train``,
    ``validate`` or ``test``, the file's SHA-256 as digest (its first 32 hex
    digits: MLflow keeps at most 36), the file's location as source. Logging
    one again (a resumed run) changes nothing."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    inputs = []
    for name, info in splits.items():
        with warnings.catch_warnings():  # a path is a local file "in more than one way"
            warnings.simplefilter("ignore", UserWarning)
            source = resolve_dataset_source(storage.split_location(location, name))
        dataset = MetaDataset(source=source, name=f"{name}.txt", digest=info.sha256[:32])
        inputs.append(DatasetInput(dataset._to_mlflow_entity(),
                                   tags=[InputTag(MLFLOW_DATASET_CONTEXT, name)]))
    tracking.client().log_inputs(run_id, datasets=inputs)


def log_metric(run_id: str, key: str, value: float) -> None:
    """A metric on a finished run (the test loss, measured after training)."""
    tracking.client().log_metric(run_id, key, value)
