"""A step that stops making progress fails instead of hanging.

No epoch finished within ``--epoch-timeout`` seconds (counted from the start,
then from each finished epoch) raises ``StepHung`` in the step's main thread,
through SIGALRM: a trial stuck on a dead file system or a wedged data loader
becomes a failed trial with that reason, and the search goes on. Only what
returns to Python can be interrupted this way; a hang inside native code is
left to the task's own timeout (Airflow's ``execution_timeout``, the pod's).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from training.core.errors import StepHung


@contextmanager
def epoch_deadline(seconds: int) -> Iterator[Callable[[], None]]:
    """Arm the deadline; the yielded function re-arms it after each epoch."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None  # signals reach the main thread only: no deadline here
        return
    message = (f"no epoch finished within {seconds} s (--epoch-timeout); stopped as hung")
    expired = []

    def on_alarm(signum, frame):
        expired.append(signum)
        raise StepHung(message)

    def rearm() -> None:
        signal.setitimer(signal.ITIMER_REAL, seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    rearm()
    try:
        yield rearm
    except Exception as error:
        # Library code may turn the exception into one of its own (TensorFlow does
        # with interruptions): the deadline is still the reason.
        if expired and not isinstance(error, StepHung):
            raise StepHung(message) from error
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
