"""A local step never outlives its Airflow task: whatever ends the runner's wait
(Airflow's execution timeout raises in the task process; a kill signal) stops
the step's process too, instead of leaving it training on unseen."""

from __future__ import annotations

import os
import signal

import pytest

from training.core.records import Step
from training.pipeline import runner

pytestmark = pytest.mark.fault


class TaskTimeout(Exception):
    """What Airflow raises in a task that ran past its execution_timeout."""


def slow_step(marker: str) -> Step:
    return Step(module="tests.fault.slow_step", folder="faults", name="slow",
                arguments=(marker,))


def processes_running(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if marker.encode() in cmdline.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_a_timed_out_task_stops_its_step_process(tmp_path):
    marker = f"tweetbot-fault-{os.getpid()}-{tmp_path.name}"
    started = []

    def on_alarm(signum, frame):
        raise TaskTimeout("ran past execution_timeout")

    class Output:
        """The task log: the step's first line shows it started; then time runs out."""

        def write(self, text):
            if not started:
                started.append(processes_running(marker))
                signal.setitimer(signal.ITIMER_REAL, 0.5)

        def flush(self):
            pass

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        with pytest.raises(TaskTimeout):
            runner.run(runner.place(slow_step(marker)), output=Output())
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert started and started[0], "the step process never started"
    assert processes_running(marker) == []


@pytest.mark.parametrize("status, said", [
    (-9, "was killed by SIGKILL (out of memory, or killed by hand)"),
    (-15, "was killed by SIGTERM"),
    (143, "exited with status 143 (SIGTERM)"),
    (1, "exited with status 1"),
])
def test_a_step_that_died_says_how(status, said):
    assert runner.how_it_ended(status) == said
