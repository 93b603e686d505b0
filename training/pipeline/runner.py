"""The one local runner: a step as a process on this machine.

The DAG's local placement runs one step per Airflow task through it, and
``python -m training.search`` runs a pool of trials through it. The command is
exactly what a pod runs, ``python -m <module> <arguments>``, plus where this
machine keeps the step's result and checkpoints:

    $TWEETBOT_HOME/runs/<search id>/<step name>.json   --result-path
    $TWEETBOT_HOME/runs/<search id>/<step name>/       --checkpoint-dir (if the step takes one)

A process's output goes, line by line, to the task log or the given file, so a
long run can be watched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from training.core import settings
from training.core.errors import DAMAGED_EXIT_STATUS
from training.core.records import Step


class StepFailed(RuntimeError):
    """A step's process ended without a result (a crash, a kill, an OOM)."""


class StepRefused(StepFailed):
    """A step's process refused a damaged file (``DAMAGED_EXIT_STATUS``):
    running it again reads the same file, so it is not retried."""


class StepInterrupted(RuntimeError):
    """A step's process was interrupted (Ctrl-C): it did not fail, and running
    it again continues it from its last checkpoint."""


@dataclass(frozen=True)
class LocalCommand:
    """A step placed on this machine."""

    step: Step
    result_path: Path
    checkpoint_dir: Path | None

    @property
    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", self.step.module, *self.step.arguments,
                "--result-path", str(self.result_path)]
        if self.checkpoint_dir is not None:
            argv += ["--checkpoint-dir", str(self.checkpoint_dir)]
        return argv


def folder(name: str) -> Path:
    """Where this machine keeps a search's step results, checkpoints and logs."""
    return settings.state_dir() / "runs" / name


def place(step: Step) -> LocalCommand:
    folder_path = folder(step.folder)
    return LocalCommand(step, folder_path / f"{step.name}.json",
                        folder_path / step.name if step.checkpoint else None)


STOP_GRACE_SECONDS = 30  # what a step gets to finish its epoch's bookkeeping


def _stop(process: subprocess.Popen) -> None:
    """Whatever ended the wait (Airflow's execution timeout, the task killed),
    the step's process does not outlive it, training on unseen: SIGTERM, which
    a step answers by stopping where it can continue, then SIGKILL."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def how_it_ended(status: int) -> str:
    """``exited with status 1``, or the signal that ended the process."""
    if status < 0:
        name = signal.Signals(-status).name
        cause = " (out of memory, or killed by hand)" if -status == signal.SIGKILL else ""
        return f"was killed by {name}{cause}"
    if status > 128 and status - 128 in set(signal.Signals):
        return f"exited with status {status} ({signal.Signals(status - 128).name})"
    return f"exited with status {status}"


def run(command: LocalCommand, output: TextIO | None = None) -> dict:
    """Run the command; its JSON result, or ``StepFailed``."""
    command.result_path.unlink(missing_ok=True)
    environment = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ, **command.step.environment}
    process = subprocess.Popen(command.argv, env=environment, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for line in process.stdout:
            print(line, end="", file=output or sys.stdout, flush=True)
        status = process.wait()
    finally:
        _stop(process)
    if status == -signal.SIGINT:
        raise StepInterrupted(f"python -m {command.step.module} was interrupted")
    if status == DAMAGED_EXIT_STATUS:
        raise StepRefused(f"python -m {command.step.module} refused a damaged file (see its "
                          f"log); running it again cannot succeed")
    if status != 0 or not command.result_path.exists():
        missing = "" if command.result_path.exists() else " without a result"
        raise StepFailed(f"python -m {command.step.module} {how_it_ended(status)}{missing}")
    return json.loads(command.result_path.read_text())
