"""The MLflow server unreachable for a while: calls are retried with backoff by
MLflow's own HTTP retries (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``..._BACKOFF_FACTOR``)
and succeed once it is back; unreachable for good, the call fails with the
address it could not reach (see also test_registry_state)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from mlflow.exceptions import MlflowException

from training.tracking import registry

pytestmark = [pytest.mark.fault, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_server_that_comes_back_is_waited_for(tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "8")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    # The server starts now and takes seconds to listen: the outage.
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert not listening(port)  # the first attempts are refused
        assert registry.champion() is None  # answered once the server is up
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_server_that_stays_away_fails_the_call_naming_it(monkeypatch):
    port = free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    with pytest.raises(MlflowException, match=rf"127.0.0.1:{port}.*Max retries exceeded"):
        registry.champion()
