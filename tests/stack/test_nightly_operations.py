"""Operating the nightly run on the real stack: the alerts as an SMTP server and a
webhook receive them, the approval gate answered through the REST API, the
deadline alert."""

from __future__ import annotations

import pytest

from .conftest import ALERTS_TO
from .stack_clients import APPROVAL_TIMEOUT, PREPARE, TRAINING, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.stack]


def arrived(alerts, subject: str, timeout: float = 180) -> tuple[str, str]:
    """The (mail body, webhook text) of the alert with this subject, once both
    channels received it."""
    mailbox, webhook = alerts

    def both():
        mail = [body for title, body in mailbox.messages if title == subject]
        hook = [text for text in webhook.texts() if text.splitlines()[0] == subject]
        return mail and hook and (mail[-1], hook[-1])

    return wait_until(both, timeout, f"the alert {subject!r} by mail and webhook")


def test_the_first_champion_is_announced_with_its_links(clients, airflow, alerts, published):
    run_id = published["run"]["dag_run_id"]
    registration = airflow.xcom(TRAINING, run_id, "register")
    assert registration["champion"] and registration["version"] == 1
    mail, text = arrived(alerts, "tweetbot: new champion v1")
    mlflow_ui = clients.settings.addresses.mlflow_url
    for expected in ("the first champion", f"{mlflow_ui}/#/runs/{registration['run_id']}",
                     f"{mlflow_ui}/#/models/tweetbot-charrnn/versions/1",
                     f"/dags/{TRAINING}/runs/", "GPU-hours"):
        assert expected in text and expected in mail, expected
    assert f"test loss {registration['test_loss']:.4f}" in text
    mailbox, _ = alerts
    assert [ALERTS_TO] in mailbox.recipients


def test_the_version_says_what_data_code_and_cost_made_it(airflow, published, stack_mlflow):
    """Read back from the MLflow server, as its model-version page shows it."""
    import json

    from training.tracking import registry, tags

    run_id = published["run"]["dag_run_id"]
    registration = airflow.xcom(TRAINING, run_id, "register")
    version = stack_mlflow.get_model_version(registry.MODEL_NAME, str(registration["version"]))
    inputs = {i.tags[0].value: i.dataset
              for i in stack_mlflow.get_run(version.run_id).inputs.dataset_inputs
              if i.tags and i.tags[0].key == "mlflow.data.context"}
    assert sorted(inputs) == ["test", "train", "validate"]
    for name, dataset in inputs.items():
        assert json.loads(dataset.source)["uri"] == f"{published['location']}/{name}.txt"
        assert len(dataset.digest) == 32
    assert version.tags[tags.DAG_RUN_ID] == run_id
    assert version.tags[tags.CODE_VERSION] and version.tags[tags.CODE_REVISION]
    assert version.tags[tags.SEARCH_ID] and version.tags[tags.SEARCH_RUN_ID]
    # No GPU here: the stack's steps hold none, and took some time.
    assert float(version.tags[tags.ACCELERATOR_SECONDS]) == 0.0
    assert float(version.tags[tags.WALL_SECONDS]) > 0
    search = stack_mlflow.get_run(version.tags[tags.SEARCH_RUN_ID]).data.metrics
    base = stack_mlflow.get_run(version.run_id).data.metrics
    assert float(version.tags[tags.WALL_SECONDS]) == pytest.approx(
        search["trials_wall_seconds"] + base["train_wall_seconds"]
        + base["evaluate_wall_seconds"], abs=0.1)


def test_a_run_past_its_deadline_is_announced(alerts, published):
    """The stack's deadline is 20 s after a run is queued; every training run
    takes longer, so the triggerer sends each one's alert while it runs."""
    run_id = published["run"]["dag_run_id"]
    _, text = arrived(alerts, f"tweetbot: {TRAINING} run {run_id} is past its deadline")
    assert "not finished 0:00:20 after it was queued" in text


def test_failed_runs_of_both_dags_are_announced(clients, airflow, alerts, published):
    training = airflow.trigger(TRAINING, {"data_location": f"s3://{clients.bucket}/nowhere"})
    prepare = airflow.trigger(PREPARE, {
        "raw_location": f"s3://{clients.bucket}/raw/missing.csv",
        "splits_location": f"s3://{clients.bucket}/published/never"})
    for dag_id, run_id in ((TRAINING, training), (PREPARE, prepare)):
        assert airflow.wait_for_run(dag_id, run_id, timeout=300)["state"] == "failed"
        mail, text = arrived(alerts, f"tweetbot: {dag_id} run {run_id} failed")
        assert "Airflow run: " in text and f"/dags/{dag_id}/runs/" in text
        assert "last task to end: " in text and "last task to end: " in mail


# --- the approval gate ----------------------------------------------------------------

@pytest.fixture
def without_champion(stack_mlflow):
    """No champion during the test, so that tonight's version beats it and the
    gate is asked; the champion is put back afterwards."""
    from training.tracking import registry

    before = registry.champion()
    if before is not None:
        stack_mlflow.delete_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION)
    yield
    if before is not None:
        stack_mlflow.set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION,
                                                before.version)


def run_to_approval(airflow, published) -> tuple[str, dict]:
    """A run with ``require_approval``, once ``approve_promotion`` waits for an answer."""
    run_id = airflow.trigger(TRAINING, {"force": True, "require_approval": True,
                                        "num_trials": 1, "parallel": 1,
                                        "data_location": published["location"]})
    wait_until(lambda: airflow.task_states(TRAINING, run_id).get("approve_promotion")
               == "awaiting_input", 900, f"{run_id}'s approve_promotion to wait")
    return run_id, airflow.xcom(TRAINING, run_id, "register")


def answer(clients, run_id: str, option: str) -> None:
    """Answer ``approve_promotion`` once the scheduler has seen its parked process
    exit, and answer again if Airflow asks again.

    Airflow 3.3.2 loses an answer given before then: when the scheduler reads the
    parked process's exit only after the answer has already scheduled the task
    again, it takes the task for killed externally and retries it ("finished with
    state success, but the task instance's state attribute is queued" in its log),
    and the retry asks again. A person answers minutes later, long after that
    exit; a test answering within a second of the request met the race, and lost
    the run when it met it on the retry too. The scheduler logs the exit it read
    ("TaskInstance Finished: ..."), which is the state this waits for."""
    airflow = clients.airflow
    answered = 0

    def done() -> bool:
        nonlocal answered
        [ti] = [ti for ti in airflow.task_instances(TRAINING, run_id)
                if ti["task_id"] == "approve_promotion"]
        if (ti["state"] == "awaiting_input" and ti["try_number"] > answered
                and clients.scheduler_read_exit(TRAINING, run_id, "approve_promotion",
                                                ti["try_number"])):
            airflow.respond(TRAINING, run_id, "approve_promotion", option)
            answered = ti["try_number"]
        return ti["state"] in ("success", "failed", "skipped")

    wait_until(done, 600, f"{run_id}'s approve_promotion to take the answer {option!r}")


def test_an_approved_version_becomes_the_champion(clients, airflow, alerts, published, stack_mlflow,
                                                  without_champion):
    from training.tracking import registry

    run_id, registration = run_to_approval(airflow, published)
    version = registration["version"]
    assert registration["awaiting_approval"] and not registration["champion"]
    assert registry.champion() is None  # not before the answer
    _, request = arrived(alerts, f"tweetbot: approve v{version} as the new champion?")
    assert f"/dags/{TRAINING}/runs/" in request and "/required_actions" in request
    # The registry's verdict in words, first (no champion when it was tested).
    assert request.splitlines()[1] == (f"v{version} is the first champion: it stays "
                                       f"candidate until approved")
    answer(clients, run_id, "Approve")
    assert airflow.wait_for_run(TRAINING, run_id)["state"] == "success"
    assert airflow.task_states(TRAINING, run_id)["promote"] == "success"
    assert str(registry.champion().version) == str(version)
    _, text = arrived(alerts, f"tweetbot: new champion v{version}")
    assert "the first champion" in text  # there was none when it was tested


@pytest.mark.parametrize("option", ["Reject", None], ids=["rejected", "unanswered"])
def test_a_rejected_or_unanswered_version_stays_candidate(clients, airflow, alerts, published,
                                                          stack_mlflow, without_champion,
                                                          option):
    from training.tracking import registry

    run_id, registration = run_to_approval(airflow, published)
    if option:
        answer(clients, run_id, option)
    run = airflow.wait_for_run(TRAINING, run_id, timeout=APPROVAL_TIMEOUT + 300)
    states = airflow.task_states(TRAINING, run_id)
    assert run["state"] == "success", {task: state for task, state in states.items()
                                       if state not in ("success", "skipped")}
    assert states["approve_promotion"] == "success" and states["promote"] == "skipped"
    detail = airflow.hitl_detail(TRAINING, run_id, "approve_promotion")
    assert detail["chosen_options"] == ["Reject"]
    # Unanswered: the timeout chose the default, and nobody responded.
    assert (detail["responded_by_user"] is None) == (option is None)
    assert registry.champion() is None  # where it was
    candidate = registry.version_by_alias(registry.CANDIDATE)
    assert str(candidate.version) == str(registration["version"])
    _, webhook = alerts
    assert f"tweetbot: new champion v{registration['version']}" not in [
        text.splitlines()[0] for text in webhook.texts()]
