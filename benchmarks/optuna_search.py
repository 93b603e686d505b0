"""The search a user would write instead of tweetbot's: Optuna, on the same space,
splits, budget and stopping rule, each trial one ``python -m training.train``.

``TPESampler(constant_liar=True, multivariate=True)`` proposes (constant liar:
trials running at once do not all draw the same point), after as many random
trials as tweetbot's TPE starts with (``n_startup_trials``: Optuna's default of
10 would leave a budget of 8 trials all random) and ``HyperbandPruner``
prunes between epochs, with an epoch as its unit of resource (1 to ``max_epochs``).
The trials run as processes, ``parallel`` at a time (``study.optimize``'s
threads, each waiting on its own process): each reads the trial's ``state.json``
as the trainer saves an epoch, reports its val_loss, and stops a pruned trial
the way Ctrl-C does, its finished epochs kept and counted. The space is
tweetbot's own (``training.tuning.space``), asked for define-by-run: a parameter
of a conditional choice's branch (the learning rate of each optimizer) is its own
Optuna parameter, named ``learning_rate|adam`` and so on, as its range differs.

The study knows what tweetbot's search knows of the splits (``split_bytes``):
a point whose batch is longer than a split is failed at once, without starting
the trainer, and does not count against the budget. The budget is exact:
``num_trials`` trainer runs, pruned and failed ones included, as tweetbot counts
its own; proposals past it are failed unrun and end the study.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from training.core.config import FitSettings, HyperParams, to_arguments
from training.data.splits import fits_splits
from training.model.checkpoints import TrainingState
from training.tuning.space import Dimension, SearchSpace

# How often a trial's driver thread reads its state.json (a benchmark driver, not
# a test: an epoch takes seconds to minutes).
POLL_SECONDS = 1.0
MAX_PROPOSALS = 10  # per trial of the budget


def suggest(trial, space: SearchSpace) -> HyperParams:
    """The trial's point of ``space``, define-by-run."""
    point = dict(space.fixed)
    for dimension in space.dimensions:
        _suggest(trial, dimension, point, branch_of=None)
    return HyperParams.from_mapping(point)


def _suggest(trial, dimension: Dimension, point: dict, branch_of: str | None) -> None:
    name = dimension.name if branch_of is None else f"{dimension.name}|{branch_of}"
    if dimension.kind == "choice":
        value = trial.suggest_categorical(name, list(dimension.values))
        branch = dimension.branch(value)
        if branch is not None:
            point.update(branch.fixed)
            for inner in branch.dimensions:
                _suggest(trial, inner, point, branch_of=str(value))
    else:
        low, high = dimension.values
        value = trial.suggest_float(name, low, high, log=dimension.kind == "loguniform")
    point[dimension.name] = value


class OptunaSearch:
    """One study: ``num_trials`` trials, ``parallel`` at once, in ``folder``."""

    def __init__(self, splits: Path, folder: Path, space: SearchSpace, fit: FitSettings,
                 num_trials: int, parallel: int, seed: int,
                 split_bytes: Mapping[str, int] | None = None, n_startup_trials: int = 5):
        self.splits, self.folder, self.space, self.fit = splits, folder, space, fit
        self.num_trials, self.parallel, self.seed = num_trials, parallel, seed
        self.split_bytes, self.n_startup_trials = split_bytes, n_startup_trials
        self.records: list[dict] = []
        self.started = 0
        self._lock = threading.Lock()

    def run(self) -> tuple[list[dict], dict]:
        """(the trials, as search_quality records them; the chosen trial)."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="minimize",
            sampler=optuna.samplers.TPESampler(
                seed=self.seed, constant_liar=True, multivariate=True,
                n_startup_trials=self.n_startup_trials),
            pruner=optuna.pruners.HyperbandPruner(min_resource=1,
                                                  max_resource=self.fit.num_epochs))
        # At most this many proposals, the unrunnable ones included: a space
        # mostly too large for the splits ends the study rather than spinning.
        study.optimize(self._objective, n_trials=self.num_trials * MAX_PROPOSALS,
                       n_jobs=self.parallel, catch=(TrialFailed,))
        finished = [t for t in self.records if t["val_loss"] is not None
                    and t["status"] == "ok"]
        if not finished:
            return self.records, {"trial_num": None, "params": None}
        # The user's choice: Optuna's best trial, the lowest val_loss of a finished one.
        best = min(finished, key=lambda t: t["val_loss"])
        return self.records, {"trial_num": best["trial_num"], "params": best["params"]}

    def _objective(self, trial) -> float:
        import optuna

        params = suggest(trial, self.space)
        if self.split_bytes is not None and not fits_splits(params, self.split_bytes,
                                                             self.fit.max_train_chars):
            raise TrialFailed("a batch longer than a split: not run")
        with self._lock:
            if self.started >= self.num_trials:
                trial.study.stop()
                raise TrialFailed("the budget is spent: not run")
            self.started += 1
            number = self.started
        folder = self.folder / f"trial-{number:03d}"
        command = [sys.executable, "-m", "training.train", "--checkpoint-dir", str(folder),
                   "--data-dir", str(self.splits), "--run-name", folder.name,
                   *to_arguments(params), *to_arguments(self.fit)]
        log = self.folder / f"{folder.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with open(log, "w") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
            reported, pruned = 0, False
            while process.poll() is None:
                reported = self._report(trial, folder, reported)
                # After its last epoch a trial is done: pruning it then would only
                # mislabel it.
                if 0 < reported < self.fit.num_epochs and trial.should_prune():
                    process.send_signal(signal.SIGINT)  # as Ctrl-C: epochs kept
                    process.wait()
                    pruned = True
                    break
                time.sleep(POLL_SECONDS)
        self._report(trial, folder, reported)
        state = TrainingState.load(folder)
        epochs = state.epochs if state else []
        status = "pruned" if pruned else "ok" if process.returncode == 0 else "failed"
        best = min((e.val_loss for e in epochs if math.isfinite(e.val_loss)), default=None)
        with self._lock:
            self.records.append({
                "trial_num": number, "status": status, "val_loss": best,
                "num_epochs": len(epochs),
                "avg_epoch_seconds": (sum(e.epoch_seconds for e in epochs) / len(epochs)
                                      if epochs else None),
                "failure_reason": _last_line(log) if status == "failed" else None,
                "params": params.to_dict(), "seconds": time.perf_counter() - started,
                "finished_at": time.time()})
        if pruned:
            raise optuna.TrialPruned()
        if status == "failed" or best is None:
            raise TrialFailed(_last_line(log))
        return best

    @staticmethod
    def _report(trial, folder: Path, reported: int) -> int:
        """Report the epochs saved since the last look; how many are reported now."""
        state = TrainingState.load(folder)
        epochs = state.epochs if state else []
        for step, epoch in enumerate(epochs[reported:], start=reported + 1):
            trial.report(epoch.val_loss, step)
        return len(epochs)


class TrialFailed(RuntimeError):
    """The trainer exited with an error (its last line says which)."""


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


if __name__ == "__main__":  # a study on its own: splits folder, scratch folder
    splits, scratch = Path(sys.argv[1]), Path(sys.argv[2])
    trials, chosen = OptunaSearch(splits, scratch, SearchSpace.load(),
                                  FitSettings(num_epochs=3), 8, 2, 1).run()
    print(json.dumps({"trials": trials, "chosen": chosen}))
