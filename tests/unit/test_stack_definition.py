"""The stack's one definition and what is rendered from it; the stack itself runs
in tests/stack."""

import re
from pathlib import Path

from training.stack import compose
from training.stack.definition import Addresses, Secrets, StackSettings, services

REPO = Path(__file__).resolve().parents[2]
SECRETS = Secrets(**{name: f"secret-{name}-value" for name in Secrets.model_fields})


def native_like() -> StackSettings:
    return StackSettings(addresses=Addresses(
        postgres="postgresql+psycopg2://postgres:pg-secret-value@127.0.0.1:5432",
        s3_host="127.0.0.1", mlflow_host="127.0.0.1", airflow_host="127.0.0.1"),
        home="/tmp/stack")


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
    for service in services(native_like(), SECRETS):
        for command in service.commands:
            assert not [s for s in secret_values if s in " ".join(command)], service.name


def test_every_service_starts_after_what_it_needs():
    names = []
    for service in services(native_like(), SECRETS):
        assert set(service.after) <= set(names), service.name
        names.append(service.name)
    assert names[-4:] == ["airflow-api-server", "airflow-scheduler",
                          "airflow-dag-processor", "airflow-triggerer"]
