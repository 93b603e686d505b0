"""Pulling the registered model: pyfunc, the generate CLI, `mlflow models serve`,
and a real MLflow tracking server. A tiny model is trained here first."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from training import tracking
from training.core.config import FitSettings, HyperParams, TrainJob
from training.generate import main as generate_main
from training.pipeline.training_run import run_training
from training.tracking import registry

pytestmark = pytest.mark.slow
CHAMPION_URI = f"models:/{registry.MODEL_NAME}@champion"
TINY = HyperParams(batch_size=16, seq_len=32, rnn_size=32, embedding_size=16,
                   optimizer="adam", learning_rate=0.01, drop_rate=0.0)


def _train_and_register(checkpoint_dir, splits) -> str:
    job = TrainJob(data_dir=splits, checkpoint_dir=checkpoint_dir, hyperparams=TINY,
                   fit=FitSettings(num_epochs=2, seed=4))
    result = run_training(job, log_model=True)
    run = mlflow.get_run(result.state.mlflow_run_id)
    version = registry.register(run.info.run_id, run.data.tags["tweetbot.model_uri"], {})
    assert registry.promote_if_better(version, 1.0, None)
    return run.info.run_id


@pytest.fixture(scope="module")
def local_champion(tmp_path_factory, sample_splits):
    home = tmp_path_factory.mktemp("serving-home")
    env = pytest.MonkeyPatch()
    env.setenv("TWEETBOT_HOME", str(home))
    env.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking.configure()
    _train_and_register(home / "ck", sample_splits)
    yield home
    env.undo()


@pytest.fixture
def champion_env(local_champion, monkeypatch):
    monkeypatch.setenv("TWEETBOT_HOME", str(local_champion))
    tracking.configure()
    return local_champion


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, process, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    raise AssertionError(f"{url} did not come up")


def _post(url: str, body: dict):
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_pyfunc_generates_well_formed_reproducible_tweets(champion_env):
    model = mlflow.pyfunc.load_model(CHAMPION_URI)
    assert model.metadata.signature.inputs.input_names()[0] == "prompt"
    assert model.metadata.saved_input_example_info is not None
    request = pd.DataFrame([{"prompt": "The ", "n": 3, "seed": 11, "max_chars": 50},
                            {"prompt": "Big news: ", "seed": 2, "temperature": 0.5}])
    tweets = model.predict(request)
    assert list(tweets.row) == [0, 0, 0, 1]
    assert tweets.equals(model.predict(request))  # same seed, same tweets
    for row, tweet in zip(tweets.row, tweets.tweet, strict=True):
        assert tweet.startswith("The " if row == 0 else "Big news: ")
        assert "\n" not in tweet and "\ufffd" not in tweet
    assert all(len(t) <= 50 for t in tweets.tweet[:3])
    with pytest.raises(mlflow.exceptions.MlflowException, match="temperature"):
        model.predict(pd.DataFrame([{"prompt": "x", "temperature": 0.0}]))


@pytest.mark.fault
def test_the_registered_model_holds_no_pickle(champion_env):
    """Loading a version runs the project's code file, never unpickles an object."""
    local = Path(mlflow.artifacts.download_artifacts(CHAMPION_URI))
    files = [path.relative_to(local).as_posix() for path in local.rglob("*") if path.is_file()]
    assert not [name for name in files if name.endswith((".pkl", ".pickle", ".cloudpickle"))]
    assert "generator_model.py" in {Path(name).name for name in files}
    model = mlflow.pyfunc.load_model(CHAMPION_URI)
    with pytest.raises(mlflow.exceptions.MlflowException, match="at most 1000 per request"):
        model.predict(pd.DataFrame([{"prompt": "x", "n": 600}] * 2))


def test_generate_cli_pulls_the_champion(champion_env, capsys):
    assert generate_main(["--model-uri", CHAMPION_URI, "--prompt", "The ", "-n", "3",
                          "--temperature", "0.8", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("The ") for line in lines)
    assert generate_main(["--model-uri", "models:/no-such-model@champion"]) == 2
    assert "cannot load" in capsys.readouterr().err


def test_mlflow_models_serve_answers_invocations(champion_env):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", CHAMPION_URI,
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        # mlflow execs uvicorn from PATH: the environment's bin, as when it is activated.
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking.tracking_uri(),
             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/ping", server)
        status, body = _post(f"{base}/invocations", {"dataframe_records": [
            {"prompt": "The ", "n": 2, "seed": 1, "max_chars": 60}]})
        assert status == 200, body
        tweets = [p["tweet"] for p in body["predictions"]]
        assert len(tweets) == 2 and all(t.startswith("The ") and len(t) > 4 for t in tweets)

        status, body = _post(f"{base}/invocations", {"dataframe_records": [{"promt": "The "}]})
        assert status == 400 and "prompt" in body["message"]
        status, body = _post(f"{base}/invocations", {"dataframe_records": [
            {"prompt": "The ", "temperature": 0}]})
        assert status == 400 and "temperature" in body["message"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_pulling_from_a_remote_tracking_server(tmp_path, sample_splits, monkeypatch, capsys,
                                               isolated_state):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"],
        # Without its job runner (a tree of consumer processes this test never uses).
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        uri = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{uri}/health", server)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        tracking.configure()
        run_id = _train_and_register(tmp_path / "ck", sample_splits)
        assert not (isolated_state / "mlflow.db").exists()  # nothing went to a local store
        assert mlflow.get_run(run_id).info.artifact_uri.startswith("mlflow-artifacts:")
        capsys.readouterr()  # drop the training output
        assert generate_main(["--model-uri", CHAMPION_URI, "-n", "2", "--seed", "5"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)
