"""What a Celery worker of the stack needs beyond Airflow's own command.

    hostname   Airflow's ``[core] hostname_callable`` for a worker: ``<worker>@<machine>``,
               so task instances say which worker ran them even when several
               share a machine (the native stack)
    ready      the worker's health check: it answers a Celery ping
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    machine = socket.gethostname()
    worker = os.environ.get("TWEETBOT_WORKER")
    return f"{worker}@{machine}" if worker else machine


def ready(name: str, timeout: float = 5.0) -> bool:
    """Whether the worker ``name`` on this machine answers a ping over the broker."""
    from airflow.providers.celery.executors.celery_executor import app

    node = f"{name}@{socket.gethostname()}"
    return bool(app.control.ping(destination=[node], timeout=timeout))
