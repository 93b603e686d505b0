"""A search on this machine: ``parallel`` trials at a time as local processes,
each the very command a Kubernetes pod runs (``training.trial``); all state in
MLflow under the search id, so running it again continues the search.
"""


from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from training.core.config import (
    FitSettings,
    PruningSettings,
    SearchSettings,
)
from training.core.records import FAILED, NothingLeft, TrialRecord, trial_name
from training.data import storage
from training.data.splits import TRAIN, check_splits
from training.data.vocab import Vocabulary
from training.pipeline import runner
from training.pipeline.trial_run import TrialSpec, run_as_process
from training.tracking.search_store import SearchStore
from training.tuning.past_trials import PastTrials
from training.tuning.report import describe, search_params
from training.tuning.space import SearchSpace
from training.tuning.suggest import open_search


class LocalSearch:
    """Runs a search's trials as local processes, ``parallel`` at a time: as soon
    as one ends the next starts, and suggests itself from every trial finished by
    then (``training.tuning.suggest.next_trial``, the same as the DAG's trials)."""

    def __init__(self, search_id: str, data_dir: str, space: SearchSpace,
                 search: SearchSettings, fit: FitSettings, pruning: PruningSettings,
                 report: Callable[[str], None] = print,
                 split_bytes: Mapping[str, int] | None = None,
                 past: PastTrials | None = None):
        """``split_bytes``: the splits' sizes, so that no trial is suggested whose
        batch is longer than a split (see ``measure_splits``), and a budget in
        characters (``fit.budget_chars``) is spent on the train split's size.
        ``past``: an earlier search's trials to learn from
        (``training.tuning.past_trials``)."""
        self.budget_chars = fit.budget_chars
        if split_bytes is not None:
            fit = fit.for_train_split(split_bytes[TRAIN])
        self.store = SearchStore(search_id)
        self.data_dir, self.space, self.search = data_dir, space, search
        self.split_bytes, self.past = split_bytes, past or PastTrials()
        self.fit, self.pruning, self.report = fit, pruning, report
        self.folder = runner.folder(search_id)
        self.finished = 0

    def run(self) -> None:
        self.store.open_parent(search_params(self.space, self.search, self.fit,
                                             str(self.data_dir), past=self.past,
                                             trial_chars=self.budget_chars))
        plan = open_search(self.store, self.space, self.search, split_bytes=self.split_bytes,
                           max_train_chars=self.fit.max_train_chars, past=self.past)
        done = {r.trial_num for r in self.store.trials() if r.finished}
        # Trials an earlier, interrupted run started go first: they hold the lowest numbers.
        todo = [num for num in range(1, plan.search.num_trials + 1) if num not in done]
        self.finished = len(done)
        self.run_trials(todo)

    def run_trials(self, todo: list[int]) -> None:
        """Run these trials, ``parallel`` at a time, each as soon as a slot frees."""
        with ThreadPoolExecutor(max_workers=self.search.parallel) as pool:
            running = [pool.submit(self._run_trial, num) for num in todo]
            try:
                for future in as_completed(running):
                    self._report(future.result())
            except KeyboardInterrupt:
                # Ctrl-C reached the trial processes too; start nothing more.
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def _run_trial(self, trial_num: int) -> TrialRecord | NothingLeft:
        spec = TrialSpec(search_id=self.store.search_id, trial_num=trial_num,
                         data_dir=self.data_dir, fit=self.fit, pruning=self.pruning)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.report(f"trial {trial_num} started")
        with open(self._log_path(trial_num), "a") as log:
            return run_as_process(spec.step(), output=log)

    def _log_path(self, trial_num: int) -> Path:
        return self.folder / f"{trial_name(trial_num)}.log"

    def _report(self, result: TrialRecord | NothingLeft) -> None:
        self.finished += 1
        prefix = f"[{self.finished}/{self.search.num_trials}] trial {result.trial_num}"
        if isinstance(result, NothingLeft):
            self.report(f"{prefix}: nothing left to try ({result.reason})")
            return
        if result.status == FAILED:
            self.report(f"{prefix}: failed ({result.failure_reason}; "
                        f"log: {self._log_path(result.trial_num)})")
            return
        self.report(f"{prefix}: {result.status}, val_loss {result.val_loss:.4f} "
                    f"after {result.num_epochs} epoch(s), "
                    f"{result.avg_epoch_seconds:.1f} s/epoch: {describe(result.hyperparams)}")


def measure_splits(data_dir: str, space: SearchSpace, fit: FitSettings) -> dict[str, int]:
    """Check the train and validate splits before any trial starts (each holds at
    least the space's smallest batch) and return their sizes."""
    infos = check_splits(storage.local_splits(data_dir), space.smallest_batch(),
                         Vocabulary.default(), max_train_chars=fit.max_train_chars)
    return {name: info.num_bytes for name, info in infos.items()}
