"""A search, written down: what it searches, then the choice, ``trials.csv``, the
plot and the table.

``search_params`` is what the search's parent run records when it opens.
``finish_search`` is the DAG's ``select`` task and the local driver's last
step: it chooses the trial (``training.tuning.selection``), logs the ranked
``trials.csv`` (the tutorial's columns), the loss-against-time plot and what the
trials cost (``tracking.cost``) to the search's parent run, tags the choice and
its reason, and closes the run (FAILED if no trial succeeded). ``format_table``
is the same ranking for a terminal.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from training.core.config import FitSettings, SearchSettings, SelectionPolicy
from training.core.records import FAILED, OK, PRUNED, TrialRecord
from training.tracking import tags
from training.tracking.cost import TRIALS
from training.tuning.past_trials import PastTrials
from training.tuning.selection import NoTrialSucceeded, Selection, pareto_front, rank, select
from training.tuning.space import SearchSpace

if TYPE_CHECKING:  # a store is handed in; this module stays free of MLflow
    from training.tracking.search_store import SearchStore

CSV_COLUMNS = ("rank", "trial_num", "val_loss", "train_loss", "num_epochs",
               "avg_epoch_seconds", "batch_size", "drop_rate", "embedding_size",
               "num_layers", "rnn_size", "seq_len", "optimizer", "clip_norm",
               "learning_rate", "status", "failure_reason", "run_id", "seeded")


def search_params(space: SearchSpace, search: SearchSettings, trial_fit: FitSettings,
                  data_location: str, data_sha256: str | None = None,
                  past: PastTrials | None = None, trial_chars: int | None = None) -> dict:
    """What a search's parent run records about it, as MLflow params: the trials'
    epochs and cut as ``trial_chars`` (their budget, if any) came out on the split."""
    params = {"space": json.dumps(space.describe()), **search.to_dict(),
              "trial_chars": trial_chars or trial_fit.budget_chars or "none",
              "max_epochs": trial_fit.num_epochs,
              "max_train_chars": trial_fit.max_train_chars or "all",
              "data_location": data_location}
    if past is not None and search.past_trials:
        params |= {"past_trials_used": len(past.trials),
                   "past_trials_skipped": sum(past.skipped.values())}
    return {**params, "data_sha256": data_sha256} if data_sha256 else params


def finish_search(store: SearchStore, policy: SelectionPolicy,
                  max_epochs: int) -> Selection:
    """Select the winner and record the search on its parent run; raises
    ``NoTrialSucceeded`` (after closing the run FAILED) if there is none."""
    trials = store.trials()
    pruned = [t for t in trials if t.status == PRUNED]
    metrics = {"trials_pruned": len(pruned),
               "trial_epochs_saved_by_pruning": sum(max(0, max_epochs - t.num_epochs)
                                                    for t in pruned),
               **store.trials_cost().metrics(TRIALS)}
    with tempfile.TemporaryDirectory() as scratch:
        table = write_trials_csv(trials, Path(scratch) / "trials.csv")
        try:
            selection = select(trials, policy)
        except NoTrialSucceeded as error:
            store.close_parent(metrics, {tags.SELECTION: str(error)}, [table], "FAILED")
            raise
        chosen = selection.trial
        plot = trade_off(trials, pareto_front(trials), chosen,
                         Path(scratch) / "trade_off.png",
                         title=f"search {store.search_id}: {len(trials)} trials")
        store.close_parent(
            {**metrics, "chosen_val_loss": chosen.val_loss},
            {tags.CHOSEN_TRIAL: str(chosen.trial_num), tags.CHOSEN_RUN_ID: chosen.run_id,
             tags.SELECTION: selection.reason},
            [table, plot], "FINISHED")
    return selection


def write_trials_csv(trials: Sequence[TrialRecord], path: Path) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for position, trial in enumerate(rank(trials), start=1):
            writer.writerow({
                "rank": position, "trial_num": trial.trial_num,
                "val_loss": _number(trial.val_loss), "train_loss": _number(trial.train_loss),
                "num_epochs": trial.num_epochs,
                "avg_epoch_seconds": _number(trial.avg_epoch_seconds),
                **{k: v for k, v in trial.hyperparams.to_dict().items()
                   if k in CSV_COLUMNS},
                "status": trial.status, "failure_reason": trial.failure_reason or "",
                "run_id": trial.run_id, "seeded": trial.seeded or ""})
    return Path(path)


def format_table(trials: Sequence[TrialRecord], chosen: TrialRecord | None = None) -> str:
    lines = [f"{'rank':>4} {'trial':>5} {'status':>7} {'val_loss':>8} {'epochs':>6} "
             f"{'s/epoch':>7}  params"]
    for position, trial in enumerate(rank(trials), start=1):
        loss = f"{trial.val_loss:.4f}" if trial.val_loss is not None else "-"
        seconds = f"{trial.avg_epoch_seconds:.1f}" if trial.avg_epoch_seconds else "-"
        mark = f" [{trial.seeded}]" if trial.seeded else ""
        if chosen is not None and trial.trial_num == chosen.trial_num:
            mark += " <- chosen"
        detail = (trial.failure_reason if trial.status == FAILED
                  else describe(trial.hyperparams))
        lines.append(f"{position:>4} {trial.trial_num:>5} {trial.status:>7} {loss:>8} "
                     f"{trial.num_epochs:>6} {seconds:>7}  {detail}{mark}")
    return "\n".join(lines)


def describe(hyperparams, names=None) -> str:
    """``batch_size=64 rnn_size=128 ...``: the set values (or just ``names``)."""
    return " ".join(f"{k}={v}" for k, v in hyperparams.to_dict().items()
                    if v is not None and (names is None or k in names))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def trade_off(trials, front, chosen, path: Path, title: str = "") -> Path:
    """val_loss against seconds per epoch: every trial, the Pareto front, the choice."""
    from matplotlib.figure import Figure  # only when a search finishes

    figure = Figure(figsize=(6.5, 4.5), dpi=100)
    axes = figure.subplots()
    for status, marker, color in ((OK, "o", "tab:blue"), (PRUNED, "x", "tab:gray")):
        points = [t for t in trials if t.status == status and t.val_loss is not None
                  and t.avg_epoch_seconds is not None]
        axes.scatter([t.avg_epoch_seconds for t in points], [t.val_loss for t in points],
                     marker=marker, color=color, label=f"{status} ({len(points)})")
        for t in points:
            axes.annotate(str(t.trial_num), (t.avg_epoch_seconds, t.val_loss),
                          textcoords="offset points", xytext=(4, 3), fontsize=7)
    axes.plot([t.avg_epoch_seconds for t in front], [t.val_loss for t in front],
              color="tab:orange", drawstyle="steps-post", label="Pareto front")
    axes.scatter([chosen.avg_epoch_seconds], [chosen.val_loss], s=220, facecolors="none",
                 edgecolors="red", linewidths=2, label=f"chosen: trial {chosen.trial_num}")
    axes.set_xlabel("seconds per epoch")
    axes.set_ylabel("best val_loss")
    axes.set_title(title or "trials: loss against cost")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)
