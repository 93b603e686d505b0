"""A hyper-parameter search: suggest trials, run them, select the winner.

    python -m training.search --data-dir data/tweets-split --num-trials 8 --parallel 2 \\
        --num-epochs 4 --search-id try-1

The three steps are functions the Airflow DAG calls as tasks, and this module's
CLI is the local driver that runs them on one machine: P trial processes at a
time, each the very command a Kubernetes pod runs (``training.trial``). All state
lives in MLflow under the search id, so running the same command again continues
the search: finished trials are not trained again, suggested-but-unfinished ones
are run, and only the remaining budget is suggested anew.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mlflow.exceptions import MlflowException

from training import settings, storage
from training.config import (FitSettings, HyperParams, PruningSettings, SearchSettings,
                             SelectionPolicy, add_arguments, given_arguments)
from training.errors import InputError
from training.sampler import HyperoptSampler, Observation, point_key
from training.search_store import OK, PRUNED, SearchStore, TrialRecord, typed_params
from training.selection import (NoTrialSucceeded, Selection, pareto_front, rank,
                                select, write_trials_csv)
from training.space import SearchSpace
from training.trial import TrialSpec

REGISTERED_MODEL = "tweetbot-charrnn"


def suggest_trials(store: SearchStore, space: SearchSpace, search: SearchSettings,
                   k: int) -> list[tuple[int, HyperParams]]:
    """Record up to ``k`` new trials (status pending) and return them.

    Conditioned on every finished trial of the search as MLflow holds it;
    unfinished ones count as pending. Never exceeds ``num_trials`` in total.
    """
    records = store.trials()
    k = min(k, search.num_trials - len(records))
    if k <= 0:
        return []
    observations = [Observation(_point(space, r.hyperparams),
                                r.val_loss if r.status in (OK, PRUNED) else None)
                    for r in records if r.finished]
    taken = [_point(space, r.hyperparams) for r in records if not r.finished]
    chosen: list[HyperParams] = []
    if not records and search.warm_start:
        chosen = warm_start_points(store, search.warm_start)[:k]
        taken += [_point(space, params) for params in chosen]
    sampler = HyperoptSampler(space, search.algorithm, search.n_startup_jobs,
                              search.sampler_seed)
    points = sampler.suggest(observations, taken, k - len(chosen))
    chosen += [space.to_hyperparams(point) for point in points]
    first = max((r.trial_num for r in records), default=0) + 1
    trials = list(enumerate(chosen, start=first))
    for trial_num, params in trials:
        store.create_trial(trial_num, params)
    return trials


def warm_start_points(store: SearchStore, limit: int) -> list[HyperParams]:
    """The champion's params, then the best ok trials of earlier searches."""
    points: list[HyperParams] = []
    champion = _champion_params(store.client)
    if champion is not None:
        points.append(champion)
    earlier = store.client.search_runs(
        [store.experiment_id],
        filter_string=(f"tags.`tweetbot.kind` = 'trial' and "
                       f"tags.`tweetbot.trial_status` = 'ok' and "
                       f"tags.`tweetbot.search_id` != '{store.search_id}'"),
        order_by=["metrics.best_val_loss ASC"], max_results=limit * 4)
    for run in earlier:
        params = HyperParams.from_mapping(typed_params(run.data.params))
        if all(point_key(params.to_dict()) != point_key(p.to_dict()) for p in points):
            points.append(params)
    return points[:limit + (champion is not None)]


def _champion_params(client) -> HyperParams | None:
    try:
        version = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    except MlflowException:
        return None  # no registered model or no champion yet
    return HyperParams.from_mapping(typed_params(client.get_run(version.run_id).data.params))


def _point(space: SearchSpace, params: HyperParams) -> dict:
    return {name: getattr(params, name) for name in space.names}


def finish_search(store: SearchStore, policy: SelectionPolicy,
                  max_epochs: int) -> Selection:
    """Select the winner and record the search on its parent run.

    Logs the ranked ``trials.csv`` and the loss-against-time plot, tags the
    choice and its reason, then closes the parent run (FAILED if no trial
    succeeded, in which case ``NoTrialSucceeded`` is raised).
    """
    from training.plots import trade_off

    parent_id = store.open_parent()
    trials = store.trials()
    pruned = [t for t in trials if t.status == PRUNED]
    saved = sum(max(0, max_epochs - t.num_epochs) for t in pruned)
    store.client.log_metric(parent_id, "trials_pruned", len(pruned))
    store.client.log_metric(parent_id, "trial_epochs_saved_by_pruning", saved)
    with tempfile.TemporaryDirectory() as scratch:
        store.client.log_artifact(parent_id, str(write_trials_csv(trials, Path(scratch) / "trials.csv")))
        try:
            selection = select(trials, policy)
        except NoTrialSucceeded as error:
            store.client.set_tag(parent_id, "tweetbot.selection", str(error))
            store.client.set_terminated(parent_id, status="FAILED")
            raise
        plot = trade_off(trials, pareto_front(trials), selection.trial,
                         Path(scratch) / "trade_off.png",
                         title=f"search {store.search_id}: {len(trials)} trials")
        store.client.log_artifact(parent_id, str(plot))
    chosen = selection.trial
    store.client.set_tag(parent_id, "tweetbot.chosen_trial", str(chosen.trial_num))
    store.client.set_tag(parent_id, "tweetbot.chosen_run_id", chosen.run_id)
    store.client.set_tag(parent_id, "tweetbot.selection", selection.reason)
    store.client.log_metric(parent_id, "chosen_val_loss", chosen.val_loss)
    store.client.set_terminated(parent_id, status="FINISHED")
    return selection


# --- the local driver -------------------------------------------------------------

@dataclass
class _Running:
    process: subprocess.Popen
    spec: TrialSpec
    log: object


class LocalSearch:
    """Runs a search's trials as local processes, ``parallel`` at a time."""

    def __init__(self, search_id: str, data_dir: str, space: SearchSpace,
                 search: SearchSettings, fit: FitSettings, pruning: PruningSettings,
                 report: Callable[[str], None] = print):
        self.store = SearchStore(search_id)
        self.data_dir, self.space, self.search = data_dir, space, search
        self.fit, self.pruning, self.report = fit, pruning, report
        self.folder = settings.state_dir() / "searches" / search_id
        self.finished = 0

    def run(self) -> None:
        self.store.open_parent({"space": json.dumps(self.space.describe()),
                                **self.search.to_dict(), "max_epochs": self.fit.num_epochs,
                                "data_dir": str(self.data_dir)})
        # Trials suggested by an earlier, interrupted run go first.
        queue = [(r.trial_num, r.hyperparams) for r in self.store.trials() if not r.finished]
        self.finished = sum(r.finished for r in self.store.trials())
        running: list[_Running] = []
        while True:
            free = self.search.parallel - len(running)
            if free > 0 and not queue:
                queue = suggest_trials(self.store, self.space, self.search, free)
            while queue and len(running) < self.search.parallel:
                running.append(self._launch(*queue.pop(0)))
            if not running:
                return
            done = self._wait_for_one(running)
            running.remove(done)
            self._collect(done)

    def _launch(self, trial_num: int, params: HyperParams) -> _Running:
        spec = TrialSpec(search_id=self.store.search_id, trial_num=trial_num,
                         data_dir=self.data_dir, hyperparams=params, fit=self.fit,
                         pruning=self.pruning,
                         result_path=self.folder / "results" / f"trial-{trial_num:03d}.json")
        spec.result_path.unlink(missing_ok=True)
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "logs" / f"trial-{trial_num:03d}.log", "ab")
        command = [sys.executable, "-m", "training.trial", *spec.arguments()]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        self.report(f"trial {trial_num} started: {_describe(params)}")
        return _Running(process, spec, log)

    @staticmethod
    def _wait_for_one(running: list[_Running]) -> _Running:
        while True:
            for item in running:
                if item.process.poll() is not None:
                    return item
            time.sleep(0.2)

    def _collect(self, done: _Running) -> None:
        done.log.close()
        spec, code = done.spec, done.process.returncode
        self.finished += 1
        prefix = f"[{self.finished}/{self.search.num_trials}] trial {spec.trial_num}"
        if not spec.result_path.exists():
            reason = f"trial process exited with status {code} without a result"
            self.store.mark_failed(spec.trial_num, reason)
            self.report(f"{prefix}: failed ({reason}; log: {done.log.name})")
            return
        result = json.loads(spec.result_path.read_text())
        if result["status"] == "failed":
            self.report(f"{prefix}: failed ({result['failure_reason']})")
            return
        self.report(f"{prefix}: {result['status']}, val_loss {result['val_loss']:.4f} "
                    f"after {result['num_epochs']} epoch(s), "
                    f"{result['avg_epoch_seconds']:.1f} s/epoch")


def _describe(params: HyperParams) -> str:
    return " ".join(f"{k}={v}" for k, v in params.to_dict().items() if v is not None)


def format_table(trials: list[TrialRecord], chosen: TrialRecord | None = None) -> str:
    lines = [f"{'rank':>4} {'trial':>5} {'status':>7} {'val_loss':>8} {'epochs':>6} "
             f"{'s/epoch':>7}  params"]
    for position, trial in enumerate(rank(trials), start=1):
        loss = f"{trial.val_loss:.4f}" if trial.val_loss is not None else "-"
        seconds = f"{trial.avg_epoch_seconds:.1f}" if trial.avg_epoch_seconds else "-"
        mark = " <- chosen" if chosen is not None and trial.trial_num == chosen.trial_num else ""
        detail = trial.failure_reason if trial.status == "failed" else _describe(trial.hyperparams)
        lines.append(f"{position:>4} {trial.trial_num:>5} {trial.status:>7} {loss:>8} "
                     f"{trial.num_epochs:>6} {seconds:>7}  {detail}{mark}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.search",
        description="Run a hyper-parameter search on this machine, trials as local "
                    "processes, and select the model to train.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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
        driver = LocalSearch(search_id, args.data_dir, space, search, fit, pruning)
        print(f"search {search_id}: {search.num_trials} trials, {search.parallel} at a "
              f"time, at most {fit.num_epochs} epochs each; logs in {driver.folder}")
        driver.run()
        selection = finish_search(driver.store, policy, fit.num_epochs)
    except (InputError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except NoTrialSucceeded as error:
        print(format_table(driver.store.trials()))
        print(f"error: {error}; see the trial logs in {driver.folder / 'logs'}",
              file=sys.stderr)
        return 1
    print(format_table(driver.store.trials(), selection.trial))
    print(f"chosen: {selection.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
