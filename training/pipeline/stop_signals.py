"""How a step's process stops on a signal: Ctrl-C (SIGINT) or a task kill or
pod eviction (SIGTERM).

Both unwind the process (``KeyboardInterrupt``, ``SystemExit(143)``) so the
MLflow run is closed instead of left RUNNING, and checkpoints already on disk
let the next run continue. Both are also remembered: the exception can land in
the middle of library code that turns it into an error of its own (TensorFlow,
interrupted while building an input pipeline, went on to raise
``AttributeError: 'list' object has no attribute '_type_spec'``), and a step
must not record such an error as its own failure.
"""

from __future__ import annotations

import signal

_received: list[int] = []


def unwind_on_stop_signals() -> None:
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def _on_signal(signum: int, frame) -> None:
    _received.append(signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def stopped() -> BaseException | None:
    """What the process should raise instead of an error, once a stop signal came:
    ``KeyboardInterrupt`` leaves the exit status Ctrl-C gives (the local runner
    reads it as "interrupted, to be continued")."""
    if not _received:
        return None
    signum = _received[0]
    return KeyboardInterrupt() if signum == signal.SIGINT else SystemExit(128 + signum)
