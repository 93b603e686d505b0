"""What a step's process costs, charged to the MLflow run it worked on.

The placement says how many accelerators a step holds, in its environment as
``TWEETBOT_ACCELERATORS`` (the GPUs its pod requests, or the worker's
``TWEETBOT_LOCAL_ACCELERATORS``: ``tweetbot_airflow.placement``); a process
told nothing holds none. The three step entrypoints (``training.trial``,
``training.train``, ``training.evaluate``) wrap their work in
``recording_cost``: at its end, however it ends (a result, a failure, pruning,
a stop signal), the wall seconds since the entrypoint started and accelerators
x wall seconds are added to the run (``tracking.cost``). A process killed
outright (SIGKILL, the OOM killer) records nothing for that attempt.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from training.core.errors import InputError
from training.core.records import Step
from training.tracking import cost

ACCELERATORS = "TWEETBOT_ACCELERATORS"


def accelerator_count(variable: str, environ: Mapping[str, str] = os.environ) -> int:
    """The number of accelerators ``variable`` says; 0 when it is unset."""
    raw = environ.get(variable, "").strip() or "0"
    try:
        count = int(raw)
    except ValueError:
        count = -1
    if count < 0:
        raise InputError(f"{variable}: {raw!r} is not a number of accelerators "
                         f"(a whole number, 0 or more)")
    return count


def holding(step: Step, accelerators: int) -> Step:
    """``step`` told how many accelerators it holds (the placement decides)."""
    return step.model_copy(update={"environment": {**step.environment,
                                                   ACCELERATORS: str(accelerators)}})


class StepClock:
    """Times one attempt of a step; ``run_id`` is the run its cost is charged to,
    once the step knows it."""

    def __init__(self, accelerators: int, run_id: str | None = None):
        self.accelerators = accelerators
        self.run_id = run_id
        self._started = time.monotonic()

    def charge_to(self, run_id: str) -> None:
        self.run_id = run_id

    @property
    def wall_seconds(self) -> float:
        return time.monotonic() - self._started


@contextmanager
def recording_cost(prefix: str, run_id: str | None = None) -> Iterator[StepClock]:
    """Charge the step's wall seconds and accelerator-seconds to its run, under
    ``prefix`` (``tracking.cost``), when the block ends; a bad
    ``TWEETBOT_ACCELERATORS`` is an ``InputError`` before any work."""
    clock = StepClock(accelerator_count(ACCELERATORS), run_id)
    try:
        yield clock
    finally:
        if clock.run_id is not None:
            total = cost.charge(clock.run_id, prefix, clock.accelerators, clock.wall_seconds)
            if total is not None:
                held = f"{clock.accelerators} accelerator{'' if clock.accelerators == 1 else 's'}"
                print(f"this step's cost, every attempt so far: {total.describe()} (this "
                      f"attempt held {held})")
