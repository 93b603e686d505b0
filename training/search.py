"""A hyper-parameter search on this machine: trials as local processes.

    python -m training.search --data-dir data/tweets-split --num-trials 8 --parallel 2 \\
        --num-epochs 4 --search-id try-1

Runs ``parallel`` trials at a time through the local runner, each the very
command a Kubernetes pod runs (``training.trial``), suggests a new trial
whenever one finishes, then selects the winner (``training.search_report``).
All state lives in MLflow under the search id, so running the same command
again continues the search: finished trials are not trained again,
suggested-but-unfinished ones are run, and only the remaining budget is
suggested anew.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from training import past_trials, runner, storage
from training.config import (
    FitSettings,
    HyperParams,
    PruningSettings,
    SearchSettings,
    SelectionPolicy,
    add_arguments,
    command_parser,
    given_arguments,
)
from training.data import check_splits
from training.errors import InputError
from training.past_trials import PastTrials
from training.records import FAILED, TrialRecord, trial_name
from training.search_report import describe, finish_search, format_table, search_params
from training.selection import NoTrialSucceeded
from training.space import SearchSpace
from training.suggest import suggest_trials
from training.tracking.search_store import SearchStore
from training.trial import TrialSpec, run_as_process
from training.vocab import Vocabulary


class LocalSearch:
    """Runs a search's trials as local processes, ``parallel`` at a time."""

    def __init__(self, search_id: str, data_dir: str, space: SearchSpace,
                 search: SearchSettings, fit: FitSettings, pruning: PruningSettings,
                 report: Callable[[str], None] = print,
                 split_bytes: Mapping[str, int] | None = None,
                 past: PastTrials | None = None):
        """``split_bytes``: the splits' sizes, so that no trial is suggested whose
        batch is longer than a split (see ``measure_splits``). ``past``: an earlier
        search's trials to learn from (``training.past_trials``)."""
        self.store = SearchStore(search_id)
        self.data_dir, self.space, self.search = data_dir, space, search
        self.split_bytes, self.past = split_bytes, past or PastTrials()
        self.fit, self.pruning, self.report = fit, pruning, report
        self.folder = runner.folder(search_id)
        self.finished = 0

    def run(self) -> None:
        self.store.open_parent(search_params(self.space, self.search, self.fit,
                                             str(self.data_dir), past=self.past))
        records = self.store.trials()
        # Trials suggested by an earlier, interrupted run go first.
        queue = [(r.trial_num, r.hyperparams) for r in records if not r.finished]
        self.finished = sum(r.finished for r in records)
        running: dict[Future, int] = {}
        with ThreadPoolExecutor(max_workers=self.search.parallel) as pool:
            try:
                while True:
                    free = self.search.parallel - len(running)
                    if free > 0 and not queue:
                        queue = suggest_trials(self.store, self.space, self.search, free,
                                               split_bytes=self.split_bytes,
                                               max_train_chars=self.fit.max_train_chars,
                                               past=self.past)
                    while queue and len(running) < self.search.parallel:
                        trial_num, params = queue.pop(0)
                        running[pool.submit(self._run_trial, trial_num, params)] = trial_num
                    if not running:
                        return
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        del running[future]
                        self._report(future.result())
            except KeyboardInterrupt:
                # Ctrl-C reached the trial processes too; start nothing more.
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def _run_trial(self, trial_num: int, params: HyperParams) -> TrialRecord:
        spec = TrialSpec(search_id=self.store.search_id, trial_num=trial_num,
                         data_dir=self.data_dir, hyperparams=params, fit=self.fit,
                         pruning=self.pruning)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.report(f"trial {trial_num} started: {describe(params)}")
        with open(self._log_path(trial_num), "a") as log:
            return run_as_process(spec.step(), output=log)

    def _log_path(self, trial_num: int) -> Path:
        return self.folder / f"{trial_name(trial_num)}.log"

    def _report(self, result: TrialRecord) -> None:
        self.finished += 1
        prefix = f"[{self.finished}/{self.search.num_trials}] trial {result.trial_num}"
        if result.status == FAILED:
            self.report(f"{prefix}: failed ({result.failure_reason}; "
                        f"log: {self._log_path(result.trial_num)})")
            return
        self.report(f"{prefix}: {result.status}, val_loss {result.val_loss:.4f} "
                    f"after {result.num_epochs} epoch(s), "
                    f"{result.avg_epoch_seconds:.1f} s/epoch")


def measure_splits(data_dir: str, space: SearchSpace, fit: FitSettings) -> dict[str, int]:
    """Check the train and validate splits before any trial starts (each holds at
    least the space's smallest batch) and return their sizes."""
    infos = check_splits(storage.local_splits(data_dir), space.smallest_batch(),
                         Vocabulary.default(), max_train_chars=fit.max_train_chars)
    return {name: info.num_bytes for name, info in infos.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("training.search", "Run a hyper-parameter search on this "
                            "machine, trials as local processes, and select the model to train.")
    where = parser.add_argument_group("search")
    where.add_argument("--data-dir", required=True,
                       help="folder or s3:// prefix holding train.txt and validate.txt")
    where.add_argument("--search-id", default=None,
                       help="name of the search; run again with the same id to continue "
                            "it (default: local-<timestamp>)")
    where.add_argument("--space", type=Path, default=None,
                       help="search space YAML (default: training/search_space.yaml)")
    add_arguments(parser, SearchSettings, "sampling")
    add_arguments(parser, FitSettings, "training (--num-epochs is each trial's maximum)")
    add_arguments(parser, PruningSettings, "pruning")
    add_arguments(parser, SelectionPolicy, "selection")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    search_id = args.search_id or dt.datetime.now().strftime("local-%Y%m%d-%H%M%S")
    try:
        space = SearchSpace.load(args.space)
        search = SearchSettings.from_mapping(given_arguments(args, SearchSettings))
        fit = FitSettings.from_mapping(given_arguments(args, FitSettings))
        pruning = PruningSettings.from_mapping(given_arguments(args, PruningSettings))
        policy = SelectionPolicy.from_mapping(given_arguments(args, SelectionPolicy))
        if not storage.is_s3(args.data_dir) and not Path(args.data_dir).is_dir():
            raise InputError(f"--data-dir {args.data_dir}: not a folder")
        past = past_trials.load(search.past_trials, space) if search.past_trials else None
        driver = LocalSearch(search_id, args.data_dir, space, search, fit, pruning,
                             split_bytes=measure_splits(args.data_dir, space, fit), past=past)
        print(f"search {search_id}: {search.num_trials} trials, {search.parallel} at a "
              f"time, at most {fit.num_epochs} epochs each; logs in {driver.folder}")
        if search.past_trials:
            print(f"--past-trials {search.past_trials}: {past.summary()}")
        driver.run()
        selection = finish_search(driver.store, policy, fit.num_epochs)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, runner.StepInterrupted):
        print(f"interrupted; run the same command to continue search {search_id}",
              file=sys.stderr)
        return 130
    except NoTrialSucceeded as error:
        print(format_table(driver.store.trials()))
        print(f"error: {error}; see the trial logs in {driver.folder}", file=sys.stderr)
        return 1
    print(format_table(driver.store.trials(), selection.trial))
    print(f"chosen: {selection.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
