"""What a night's steps cost, as MLflow holds it: wall seconds, and
accelerator-seconds (accelerators held x wall seconds; 3600 of them a GPU-hour).

Each step charges the run it worked on when its process ends
(``training.pipeline.step_cost``), under these metric names:

    run              metrics
    a trial          wall_seconds, accelerator_seconds
    the base model   train_wall_seconds, train_accelerator_seconds         (training.train)
                     evaluate_wall_seconds, evaluate_accelerator_seconds   (training.evaluate)
    the search       trials_wall_seconds, trials_accelerator_seconds: the sums over its
                     trials, logged when the search finishes
                     (``training.tuning.report.finish_search``)

A step that runs again (a retried task, a resumed pod) adds to what its earlier
attempts charged, so a retried night is not undercounted: each value logged is
the running total, at step = the attempt's number, so the latest value is the
total whatever the clocks of the machines that logged it say. Only the steps
that run as processes of their own are charged; the tasks between them
(suggesting, selecting, registering) hold no accelerator.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from training import tracking
from training.core.config import Frozen

if TYPE_CHECKING:
    from mlflow.entities import Run

# Metric-name prefixes: whose cost a run holds.
TRIAL, TRIALS, TRAIN, EVALUATE = "", "trials_", "train_", "evaluate_"
WALL_SECONDS, ACCELERATOR_SECONDS = "wall_seconds", "accelerator_seconds"


class Cost(Frozen):
    accelerator_seconds: float = 0.0
    wall_seconds: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(accelerator_seconds=self.accelerator_seconds + other.accelerator_seconds,
                    wall_seconds=self.wall_seconds + other.wall_seconds)

    def metrics(self, prefix: str) -> dict[str, float]:
        return {prefix + WALL_SECONDS: self.wall_seconds,
                prefix + ACCELERATOR_SECONDS: self.accelerator_seconds}

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, float], prefix: str) -> Cost:
        """What a run's metrics say under ``prefix``; nothing charged is no cost."""
        return cls(accelerator_seconds=metrics.get(prefix + ACCELERATOR_SECONDS, 0.0),
                   wall_seconds=metrics.get(prefix + WALL_SECONDS, 0.0))

    def describe(self) -> str:
        """``0.12 GPU-hours (430 accelerator-seconds), 25 min of step time``."""
        return (f"{self.accelerator_seconds / 3600:.2f} GPU-hours "
                f"({self.accelerator_seconds:.0f} accelerator-seconds), "
                f"{_duration(self.wall_seconds)} of step time")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def charge(run_id: str, prefix: str, accelerators: int, wall_seconds: float) -> Cost | None:
    """Add one attempt of a step to what its run holds under ``prefix``; the run's
    total. None when the run takes no more metrics (deleted meanwhile) or MLflow
    cannot be reached: the step's own outcome stands and only this attempt's
    cost is lost, which is said on stderr."""
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException

    attempt = Cost(accelerator_seconds=accelerators * wall_seconds, wall_seconds=wall_seconds)
    try:
        client = tracking.client()
        latest = [_latest(client, run_id, key) for key in attempt.metrics(prefix)]
        earlier = Cost.from_metrics({m.key: m.value for m in latest if m}, prefix)
        attempt_number = 1 + max((m.step for m in latest if m), default=0)
        running = earlier + attempt
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(key, value, now, attempt_number)
                                          for key, value in running.metrics(prefix).items()])
    except MlflowException as error:
        reason = (str(error).strip().splitlines() or [""])[0]
        print(f"warning: this step's cost ({attempt.describe()}) was not recorded on "
              f"MLflow run {run_id}: {reason}", file=sys.stderr)
        return None
    return running


def _latest(client, run_id: str, key: str):
    history = client.get_metric_history(run_id, key)
    return max(history, key=lambda metric: (metric.step, metric.timestamp), default=None)


def total(runs: Iterable[Run], prefix: str = TRIAL) -> Cost:
    return sum((Cost.from_metrics(run.data.metrics, prefix) for run in runs), Cost())
