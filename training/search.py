"""A hyper-parameter search on this machine: trials as local processes.

    python -m training.search --data-dir data/tweets-split --num-trials 8 --parallel 2 \\
        --num-epochs 4 --search-id try-1

Runs ``parallel`` trials at a time through the local runner, each the very
command a Kubernetes pod runs (``training.trial``), suggests a new trial
whenever one finishes, then selects the winner (``training.tuning.report``).
All state lives in MLflow under the search id, so running the same command
again continues the search: finished trials are not trained again,
suggested-but-unfinished ones are run, and only the remaining budget is
suggested anew.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from training.core.config import (
    FitSettings,
    PruningSettings,
    SearchSettings,
    SelectionPolicy,
    add_arguments,
    command_parser,
    given_arguments,
)
from training.core.errors import InputError
from training.data import storage
from training.pipeline import runner
from training.pipeline.local_search import LocalSearch, measure_splits
from training.tuning import past_trials
from training.tuning.report import finish_search, format_table
from training.tuning.selection import NoTrialSucceeded
from training.tuning.space import SearchSpace


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
              f"time, at most {driver.fit.num_epochs} epochs each; logs in {driver.folder}")
        if search.past_trials:
            print(f"--past-trials {search.past_trials}: {past.summary()}")
        driver.run()
        selection = finish_search(driver.store, policy, driver.fit.num_epochs)
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
