"""MLflow as the record of a search: one parent run, one child run per trial.

A search is named by its ``search_id`` (a tag), so any process - the local
driver, an Airflow task, a trial pod - finds the same runs without being handed
run ids. A trial run is created when the trial is *suggested* (status tag
``pending``), so a suggestion survives a crash, counts as pending for the next
suggestion, and a re-run finds it instead of suggesting again.

Trial status lives in the ``tweetbot.trial_status`` tag: pending, running, ok,
pruned or failed. MLflow's own run status says whether the process finished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import mlflow
from mlflow.entities import Run

from training import tracking
from training.config import HyperParams

TAG_KIND = "tweetbot.kind"
TAG_SEARCH = "tweetbot.search_id"
TAG_TRIAL = "tweetbot.trial_num"
TAG_STATUS = "tweetbot.trial_status"
TAG_REASON = "tweetbot.failure_reason"
TAG_PARENT = "mlflow.parentRunId"

PENDING, RUNNING, OK, PRUNED, FAILED = "pending", "running", "ok", "pruned", "failed"
FINISHED_STATUSES = (OK, PRUNED, FAILED)


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the search record holds it."""

    trial_num: int
    run_id: str
    hyperparams: HyperParams
    status: str
    val_loss: float | None = None
    train_loss: float | None = None
    num_epochs: int = 0
    avg_epoch_seconds: float | None = None
    failure_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class SearchStore:
    def __init__(self, search_id: str):
        if not search_id or any(c in search_id for c in "'\"\\"):
            raise ValueError(f"search_id: {search_id!r} must be non-empty, without quotes")
        self.search_id = search_id
        self.experiment_id = tracking.configure()
        self.client = mlflow.MlflowClient()

    # --- the parent run ---------------------------------------------------------

    def find_parent(self) -> Run | None:
        runs = self._search(f"tags.`{TAG_KIND}` = 'search'")
        return runs[0] if runs else None

    def open_parent(self, description: dict[str, Any] | None = None) -> str:
        """The search's parent run id, created on first use."""
        parent = self.find_parent()
        if parent is not None:
            if parent.info.status != "RUNNING":
                self.client.update_run(parent.info.run_id, status="RUNNING")
            return parent.info.run_id
        run = self.client.create_run(
            self.experiment_id, run_name=f"search-{self.search_id}",
            tags={TAG_KIND: "search", TAG_SEARCH: self.search_id})
        for key, value in (description or {}).items():
            self.client.log_param(run.info.run_id, key, value)
        return run.info.run_id

    # --- trial runs -------------------------------------------------------------

    def trials(self) -> list[TrialRecord]:
        runs = self._search(f"tags.`{TAG_KIND}` = 'trial'")
        records = {}
        for run in runs:
            record = _record(run)
            # Oldest wins if a race ever made two runs for one trial number.
            records.setdefault(record.trial_num, record)
        return sorted(records.values(), key=lambda r: r.trial_num)

    def find_trial(self, trial_num: int) -> TrialRecord | None:
        runs = self._search(f"tags.`{TAG_KIND}` = 'trial' and "
                            f"tags.`{TAG_TRIAL}` = '{trial_num}'")
        return _record(runs[0]) if runs else None

    def create_trial(self, trial_num: int, hyperparams: HyperParams) -> str:
        parent_id = self.open_parent()
        run = self.client.create_run(
            self.experiment_id, run_name=f"trial-{trial_num:03d}",
            tags={TAG_KIND: "trial", TAG_SEARCH: self.search_id, TAG_TRIAL: str(trial_num),
                  TAG_STATUS: PENDING, TAG_PARENT: parent_id})
        for key, value in hyperparams.to_dict().items():
            self.client.log_param(run.info.run_id, key, value)
        self.client.update_run(run.info.run_id, status="SCHEDULED")
        return run.info.run_id

    def set_status(self, run_id: str, status: str, reason: str | None = None) -> None:
        self.client.set_tag(run_id, TAG_STATUS, status)
        if reason:
            # MLflow tag values are limited in length; the first line says enough.
            self.client.set_tag(run_id, TAG_REASON, reason.splitlines()[0][:500])

    def mark_failed(self, trial_num: int, reason: str) -> None:
        """Record a trial whose process died without reporting (a kill, an OOM)."""
        record = self.find_trial(trial_num)
        if record is None or record.finished:
            return
        self.set_status(record.run_id, FAILED, reason)
        self.client.set_terminated(record.run_id, status="FAILED")

    def val_loss_curves(self, exclude_run_id: str | None = None) -> dict[int, list[float]]:
        """Each other trial's val_loss by epoch, for pruning decisions."""
        curves = {}
        for record in self.trials():
            if record.run_id == exclude_run_id or record.status == PENDING:
                continue
            history = self.client.get_metric_history(record.run_id, "val_loss")
            by_epoch = {m.step: m.value for m in history}
            curves[record.trial_num] = [by_epoch[e] for e in sorted(by_epoch)]
        return curves

    def _search(self, condition: str) -> list[Run]:
        return self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{TAG_SEARCH}` = '{self.search_id}' and {condition}",
            order_by=["attributes.start_time ASC"], max_results=5000)


def _record(run: Run) -> TrialRecord:
    tags, metrics = run.data.tags, run.data.metrics
    status = tags.get(TAG_STATUS, PENDING)
    finite = lambda key: metrics[key] if key in metrics and math.isfinite(metrics[key]) else None  # noqa: E731
    return TrialRecord(
        trial_num=int(tags[TAG_TRIAL]),
        run_id=run.info.run_id,
        hyperparams=HyperParams.from_mapping(typed_params(run.data.params)),
        status=status,
        val_loss=finite("best_val_loss"),
        train_loss=finite("best_train_loss"),
        num_epochs=int(metrics.get("num_epochs", 0)),
        avg_epoch_seconds=finite("avg_epoch_seconds"),
        failure_reason=tags.get(TAG_REASON),
    )


def typed_params(params: dict[str, str]) -> dict[str, Any]:
    """MLflow keeps params as text; turn the hyper-parameters back into values."""
    import typing

    types = typing.get_type_hints(HyperParams)
    typed = {}
    for name, hint in types.items():
        if name not in params:
            continue
        text = params[name]
        if text == "None":
            typed[name] = None
        elif hint is int:
            typed[name] = int(text)
        elif hint is str:
            typed[name] = text
        else:
            typed[name] = float(text)
    return typed
