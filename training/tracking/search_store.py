"""MLflow as the record of a search: one parent run, one child run per trial.

A search is named by its ``search_id`` (a tag), so any process - the local
driver, an Airflow task, a trial pod - finds the same runs without being handed
run ids. The parent run holds the search's plan (``search_plan.json``: what
suggesting any of its trials needs) and which trial took which drawn point
(``point.<digest>`` params). A trial run is created when the trial is
*suggested* (status tag ``pending``), so a suggestion survives a crash, counts as
taken for the next suggestion, and a re-run finds it instead of suggesting again.

Trial status lives in the ``tweetbot.trial_status`` tag: pending, running, ok,
pruned or failed. MLflow's own run status says whether the process finished.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from mlflow.entities import Param, Run
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, ErrorCode

from training import tracking
from training.core.config import HyperParams
from training.core.errors import InputError
from training.core.records import FAILED, OK, PENDING, TrialRecord, trial_name
from training.tracking import cost, tags

PLAN_FILE = "search_plan.json"
# The parent run's params that say which trial took which point (``claim_point``).
CLAIM_PREFIX = "point."


class SearchStore:
    def __init__(self, search_id: str):
        if not search_id or any(c in search_id for c in "'\"\\`"):
            raise InputError(f"search_id: {search_id!r} must be non-empty, without quotes")
        self.search_id = search_id
        self.experiment_id = tracking.configure()
        self.client = tracking.client()

    # --- the parent run ---------------------------------------------------------

    def find_parent(self) -> Run | None:
        runs = self._search(f"tags.`{tags.KIND}` = '{tags.SEARCH}'")
        return runs[0] if runs else None

    def open_parent(self, description: dict[str, Any] | None = None,
                    run_tags: dict[str, str] | None = None) -> str:
        """The search's parent run id, created on first use (with ``description``
        as params and ``run_tags`` as tags)."""
        parent = self.find_parent()
        if parent is not None:
            if parent.info.status != "RUNNING":
                self.client.update_run(parent.info.run_id, status="RUNNING")
            return parent.info.run_id
        run = self.client.create_run(
            self.experiment_id, run_name=f"search-{self.search_id}",
            tags={tags.KIND: tags.SEARCH, tags.SEARCH_ID: self.search_id, **(run_tags or {})})
        for key, value in (description or {}).items():
            self.client.log_param(run.info.run_id, key, value)
        return run.info.run_id

    def close_parent(self, metrics: dict[str, float], run_tags: dict[str, str],
                     files: list[Path], status: str) -> str:
        """Record how the search ended on its parent run and close it."""
        parent_id = self.open_parent()
        for key, value in metrics.items():
            self.client.log_metric(parent_id, key, value)
        for key, value in run_tags.items():
            self.client.set_tag(parent_id, key, value)
        for path in files:
            self.client.log_artifact(parent_id, str(path))
        self.client.set_terminated(parent_id, status=status)
        return parent_id

    def abandon(self, reason: str) -> None:
        """The search's DAG run ended without it: close its parent run and every
        unfinished trial FAILED, so nothing is left RUNNING in MLflow."""
        for record in self.trials():
            if not record.finished:
                self.fail_run(record.run_id, reason)
        parent = self.find_parent()
        if parent is not None and parent.info.status == "RUNNING":
            self.close_parent({}, {tags.SELECTION: reason}, [], "FAILED")

    # --- trial runs -------------------------------------------------------------

    def trials(self) -> list[TrialRecord]:
        records = {}
        for run in self._recorded(self._search(f"tags.`{tags.KIND}` = '{tags.TRIAL}'")):
            record = self._record(run)
            # Oldest wins if a race ever made two runs for one trial number.
            records.setdefault(record.trial_num, record)
        return sorted(records.values(), key=lambda r: r.trial_num)

    def find_trial(self, trial_num: int) -> TrialRecord | None:
        runs = self._recorded(self._search(f"tags.`{tags.KIND}` = '{tags.TRIAL}' and "
                                           f"tags.`{tags.TRIAL_NUM}` = '{trial_num}'"))
        return self._record(runs[0]) if runs else None

    @staticmethod
    def _recorded(runs: list[Run]) -> list[Run]:
        """The trial runs that hold their hyper-parameters. ``create_trial`` logs them
        just after creating the run: a trial suggesting itself at that instant (trials
        start concurrently) must not read the half-made run, and a process that died
        in between left one that a retry replaces."""
        return [run for run in runs if run.data.params]

    def create_trial(self, trial_num: int, hyperparams: HyperParams,
                     seeded: str | None = None) -> str:
        """Record a suggested trial (status pending); ``seeded``: where a point no
        sampler chose came from."""
        parent_id = self.open_parent()
        extra_tags = {} if seeded is None else {tags.SEEDED: seeded}
        run = self.client.create_run(
            self.experiment_id, run_name=trial_name(trial_num),
            tags={tags.KIND: tags.TRIAL, tags.SEARCH_ID: self.search_id,
                  tags.TRIAL_NUM: str(trial_num), tags.TRIAL_STATUS: PENDING,
                  tags.PARENT_RUN_ID: parent_id, **extra_tags})
        self.client.log_batch(run.info.run_id, params=[
            Param(key, str(value)) for key, value in hyperparams.to_dict().items()])
        self.client.update_run(run.info.run_id, status="SCHEDULED")
        return run.info.run_id

    def claim_point(self, point: str, trial_num: int) -> bool:
        """Take ``point`` (a digest) for trial ``trial_num``: False when another
        trial took it first. The claim is a param of the search's run, and MLflow
        refuses to change a logged param (atomically, in its SQL stores): of trials
        claiming one point at the same instant exactly one wins and all agree which,
        and a retried trial that draws its own point again wins it again."""
        try:
            self.client.log_param(self.open_parent(), f"{CLAIM_PREFIX}{point}", str(trial_num))
        except MlflowException as error:
            if error.error_code != ErrorCode.Name(INVALID_PARAMETER_VALUE):
                raise
            return False
        return True

    # --- the plan ---------------------------------------------------------------

    def save_plan(self, plan: dict[str, Any]) -> None:
        """Keep the search's plan on its parent run; the first one kept stays."""
        if self.load_plan() is not None:
            return
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / PLAN_FILE
            path.write_text(json.dumps(plan))
            self.client.log_artifact(self.open_parent(), str(path))

    def load_plan(self) -> dict[str, Any] | None:
        parent = self.find_parent()
        if parent is None:
            return None
        if PLAN_FILE not in {a.path for a in self.client.list_artifacts(parent.info.run_id)}:
            return None
        with tempfile.TemporaryDirectory() as scratch:
            path = self.client.download_artifacts(parent.info.run_id, PLAN_FILE, scratch)
            return json.loads(Path(path).read_text())

    def set_status(self, run_id: str, status: str, reason: str | None = None) -> None:
        self.client.set_tag(run_id, tags.TRIAL_STATUS, status)
        if reason:
            # MLflow tag values are limited in length; the first line says enough.
            self.client.set_tag(run_id, tags.FAILURE_REASON, reason.splitlines()[0][:500])

    def fail_run(self, run_id: str, reason: str) -> None:
        """A trial that failed: its status, its reason, its run closed FAILED."""
        self.set_status(run_id, FAILED, reason)
        self.client.set_terminated(run_id, status="FAILED")

    def mark_failed(self, trial_num: int, reason: str) -> TrialRecord | None:
        """Record a trial whose process died without reporting (a kill, an OOM);
        returns the trial as it now stands."""
        record = self.find_trial(trial_num)
        if record is not None and not record.finished:
            self.fail_run(record.run_id, reason)
            record = self.find_trial(trial_num)
        return record

    def trials_cost(self) -> cost.Cost:
        """What the search's trials cost, every attempt of each (``tracking.cost``)."""
        return cost.total(self._search(f"tags.`{tags.KIND}` = '{tags.TRIAL}'"))

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

    def best_trials_elsewhere(self, limit: int) -> list[HyperParams]:
        """The hyper-parameters of the best ``ok`` trials of other searches."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=(f"tags.`{tags.KIND}` = '{tags.TRIAL}' and "
                           f"tags.`{tags.TRIAL_STATUS}` = '{OK}' and "
                           f"tags.`{tags.SEARCH_ID}` != '{self.search_id}'"),
            order_by=["metrics.best_val_loss ASC"], max_results=limit)
        return [HyperParams.from_text(run.data.params) for run in runs]

    def _search(self, condition: str) -> list[Run]:
        return self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{tags.SEARCH_ID}` = '{self.search_id}' and {condition}",
            order_by=["attributes.start_time ASC"], max_results=5000)

    def _record(self, run: Run) -> TrialRecord:
        run_tags, metrics = run.data.tags, run.data.metrics

        def finite(key: str) -> float | None:
            value = metrics.get(key)
            return value if value is not None and math.isfinite(value) else None

        return TrialRecord(
            search_id=self.search_id,
            trial_num=int(run_tags[tags.TRIAL_NUM]),
            run_id=run.info.run_id,
            hyperparams=HyperParams.from_text(run.data.params),
            status=run_tags.get(tags.TRIAL_STATUS, PENDING),
            val_loss=finite("best_val_loss"),
            train_loss=finite("best_train_loss"),
            num_epochs=int(metrics.get("num_epochs", 0)),
            avg_epoch_seconds=finite("avg_epoch_seconds"),
            failure_reason=run_tags.get(tags.FAILURE_REASON),
            seeded=run_tags.get(tags.SEEDED),
        )


def night_cost(search_run_id: str, base_run_id: str | None = None) -> cost.Cost:
    """What a DAG run's steps cost: its search's trials and the base model's
    training and evaluation. The trials' part is the roll-up on the search's
    run, or, for a search that never finished (a night that failed in its
    search), their sum as MLflow holds it now. ``base_run_id`` None: no base
    model was trained."""
    client = tracking.client()
    search = client.get_run(search_run_id)
    if cost.TRIALS + cost.ACCELERATOR_SECONDS in search.data.metrics:
        trials = cost.Cost.from_metrics(search.data.metrics, cost.TRIALS)
    else:
        trials = SearchStore(search.data.tags[tags.SEARCH_ID]).trials_cost()
    if base_run_id is None:
        return trials
    base = client.get_run(base_run_id).data.metrics
    return (trials + cost.Cost.from_metrics(base, cost.TRAIN)
            + cost.Cost.from_metrics(base, cost.EVALUATE))
