"""The stack's one definition and what is rendered from it; the stack itself runs
in tests/stack."""

import re
from pathlib import Path

from training.stack import compose
from training.stack.definition import Addresses, Secrets, StackSettings, Worker, services

REPO = Path(__file__).resolve().parents[2]
SECRETS = Secrets(**{name: f"secret-{name}-value" for name in Secrets.model_fields})


def native_like(**settings) -> StackSettings:
    return StackSettings(addresses=Addresses(
        postgres="postgresql+psycopg2://postgres:pg-secret-value@127.0.0.1:5432",
        s3_host="127.0.0.1", mlflow_host="127.0.0.1", airflow_host="127.0.0.1"),
        home="/tmp/stack", **settings)


def celery_like() -> StackSettings:
    return native_like(executor="CeleryExecutor", workers=(
        Worker(name="cpu", queues=("default",)),
        Worker(name="gpu-1", queues=("tweetbot_gpu",)),
        Worker(name="gpu-2", queues=("tweetbot_gpu",))))


def test_the_committed_compose_file_is_rendered_from_the_definition():
    assert (REPO / "docker-compose.yml").read_text() == compose.render(), (
        "run: python -m training.stack compose > docker-compose.yml")
    assert (REPO / ".env.example").read_text() == compose.env_example()


def test_compose_asks_env_for_every_secret_and_only_declared_variables():
    text = compose.render()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used == {name for name, _ in compose.VARIABLES}
    assert "latest" not in text


def test_no_secret_reaches_a_command_line():
    """Command lines are visible to every user of the machine (ps); secrets go in
    the environment and 0600 files only."""
    secret_values = [*SECRETS.model_dump().values(), "pg-secret-value"]
    for service in [*services(native_like(), SECRETS), *services(celery_like(), SECRETS)]:
        for command in service.commands:
            assert not [s for s in secret_values if s in " ".join(command)], service.name


def test_every_service_starts_after_what_it_needs():
    names = []
    for service in services(native_like(), SECRETS):
        assert set(service.after) <= set(names), service.name
        names.append(service.name)
    assert names[-4:] == ["airflow-api-server", "airflow-scheduler",
                          "airflow-dag-processor", "airflow-triggerer"]
    celery = [service.name for service in services(celery_like(), SECRETS)]
    assert celery == [*names, "airflow-worker-cpu", "airflow-worker-gpu-1",
                      "airflow-worker-gpu-2"]


def test_celery_workers_share_no_folder_and_serve_their_queues():
    workers = [s for s in services(celery_like(), SECRETS) if s.name.startswith("airflow-w")]
    folders = [(s.environment["TWEETBOT_HOME"], s.environment["TMPDIR"], s.workdir)
               for s in workers]
    every = [path for paths in folders for path in paths]
    assert len(set(every)) == len(every) == 9
    for one in every:  # none inside another's
        assert not [other for other in every if other != one and other.startswith(one)]
    queues = [s.commands[-1][s.commands[-1].index("--queues") + 1] for s in workers]
    assert queues == ["default", "tweetbot_gpu", "tweetbot_gpu"]
    assert {s.environment["AIRFLOW__CORE__EXECUTOR"] for s in workers} == {"CeleryExecutor"}
    assert len({s.environment["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]
                for s in workers}) == 3


def test_home_is_taken_before_or_after_the_command():
    from training.stack.__main__ import build_parser

    parser = build_parser()
    for command in ("up", "down", "status"):
        assert parser.parse_args([command, "--home", "/after"]).home == "/after"
        assert parser.parse_args(["--home", "/before", command]).home == "/before"
        assert parser.parse_args([command]).home is None


def test_the_mlflow_server_remembers_a_checked_login(tmp_path, monkeypatch):
    """Every MLflow call of a task is a login, and checking one costs ~0.2 s of
    scrypt: the server's own auth cache must be on, as MLflow reads its config."""
    from mlflow.server.auth.config import read_auth_config

    from training.stack.definition import MLFLOW_AUTH_CACHE_SECONDS

    mlflow = next(s for s in services(native_like(), SECRETS) if s.name == "mlflow")
    [(path, text)] = mlflow.files.items()
    ini = tmp_path / Path(path).name
    ini.write_text(text)
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(ini))
    config = read_auth_config()
    assert config.auth_cache_ttl_seconds == MLFLOW_AUTH_CACHE_SECONDS > 0
    assert config.authorization_function.endswith(":authenticate_request_basic_auth")
