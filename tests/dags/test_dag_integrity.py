"""The DAG files: they import under each placement, have the expected shape, and
refuse bad parameters and bad settings before anything runs."""

import json
from pathlib import Path

import pytest

from training.core.errors import InputError
from training.core.records import Step
from training.pipeline.run_config import TRIALS_POOL, RunConfig, params_schema

DAGS = Path(__file__).resolve().parents[2] / "dags"
K8S_ENV = {"TWEETBOT_TRIAL_EXECUTOR": "kubernetes",
           "TWEETBOT_TRAINER_IMAGE": "registry.example/tweetbot-trainer:1.2.3"}


def parse(monkeypatch, environment: dict):
    """The DAG folder as a dag-processor with this environment parses it."""
    from airflow.dag_processing.dagbag import DagBag

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return DagBag(dag_folder=str(DAGS))


def operator_class(task) -> type:
    return getattr(task, "operator_class", type(task))  # a mapped task names its class


@pytest.fixture
def kubernetes_dagbag(airflow_db, monkeypatch):
    return parse(monkeypatch, K8S_ENV)


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"tweetbot_training", "tweetbot_prepare_splits"} <= set(dagbag.dag_ids)
    # The Airflow-facing package beside the DAGs is code, not DAG files.
    assert not [path for path in dagbag.dagbag_stats if "tweetbot_airflow" in path.file]


@pytest.mark.parametrize("placement", ["local", "kubernetes"])
def test_training_dag_shape(airflow_db, monkeypatch, placement):
    dagbag = parse(monkeypatch, {**K8S_ENV, "TWEETBOT_TRIAL_EXECUTOR": placement})
    assert dagbag.import_errors == {}
    dag = dagbag.get_dag("tweetbot_training")
    assert set(dag.task_ids) == {"validate_splits", "start_search", "trial", "select",
                                 "base_model_arguments", "train_base_model",
                                 "evaluate_arguments", "evaluate", "register",
                                 "approve_promotion", "promote"}
    downstream = lambda task_id: dag.get_task(task_id).downstream_task_ids  # noqa: E731
    assert "start_search" in downstream("validate_splits")
    assert "trial" in downstream("start_search")
    assert "select" in downstream("trial")
    assert "train_base_model" in downstream("base_model_arguments")
    assert "evaluate" in downstream("evaluate_arguments")
    assert "register" in downstream("evaluate")
    assert {"approve_promotion", "promote"} <= downstream("register")
    assert "promote" in downstream("approve_promotion")
    assert dag.max_active_runs == 1 and not dag.catchup
    assert dag.get_task("trial").pool == TRIALS_POOL
    assert dag.get_task("select").trigger_rule == "all_done"
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert dag.doc_md and "validate_splits" in dag.doc_md
    # Where steps run is decided once: every step task is a pod, or none is.
    expected = {"local": "_PythonDecoratedOperator", "kubernetes": "StepPodOperator"}[placement]
    for task_id in ("trial", "train_base_model", "evaluate"):
        assert operator_class(dag.get_task(task_id)).__name__ == expected, task_id
    pods = {t.task_id for t in dag.tasks if operator_class(t).__name__ == "StepPodOperator"}
    assert pods == (set() if placement == "local" else {"trial", "train_base_model",
                                                        "evaluate"})
    # Local steps that train need a GPU worker; a pod task only watches its pod.
    gpu = {t.task_id for t in dag.tasks if t.queue == "tweetbot_gpu"}
    assert gpu == ({"train_base_model", "trial"} if placement == "local" else set())


class _RecordedDag:
    """What a task instance's ``get_dag`` answers: the dag-processor's copy."""

    def __init__(self, dag):
        self.tags = dag.tags

    def get_dag(self, dag_id):
        return self


@pytest.mark.parametrize(("worker_environment", "parsed"), [
    ({"TWEETBOT_TRIAL_EXECUTOR": "kubernetes"}, "gpu-queue:tweetbot_gpu, placement:kubernetes"),
    ({"TWEETBOT_GPU_QUEUE": "default"}, "gpu-queue:default, placement:local")])
def test_a_worker_set_up_unlike_the_dag_processor_refuses_the_task(
        airflow_db, monkeypatch, worker_environment, parsed):
    """The dag-processor parsed the DAG with the local placement; a worker whose
    own parse differs refuses its tasks, naming the settings, even where the
    queues would not tell (a GPU queue named default)."""
    from airflow.sdk.exceptions import AirflowFailException

    from tweetbot_airflow.placement import check_same_settings

    recorded = _RecordedDag(parse(monkeypatch, {}).get_dag("tweetbot_training"))
    assert sorted(recorded.tags) == ["gpu-queue:tweetbot_gpu", "placement:local", "training",
                                     "tweetbot"]
    worker = parse(monkeypatch, {**K8S_ENV, "TWEETBOT_TRIAL_EXECUTOR": "local",
                                 **worker_environment}).get_dag("tweetbot_training")
    with pytest.raises(AirflowFailException, match=(
            "the dag-processor parsed tweetbot_training with gpu-queue:tweetbot_gpu, "
            f"placement:local, this worker with {parsed}: TWEETBOT_TRIAL_EXECUTOR or "
            "TWEETBOT_GPU_QUEUE differ")):
        check_same_settings({"ti": recorded, "dag": worker})
    check_same_settings({"ti": _RecordedDag(worker), "dag": worker})  # agreeing: no error


@pytest.mark.parametrize(("executor", "placement", "expected"), [
    ("LocalExecutor", "local", False),
    ("CeleryExecutor", "local", True),
    ("airflow.providers.celery.executors.celery_executor.CeleryExecutor", "local", True),
    ("LocalExecutor,KubernetesExecutor", "local", True),
    ("LocalExecutor", "kubernetes", True)])
def test_steps_can_leave_the_machine_under_celery_or_pods(airflow_db, monkeypatch, executor,
                                                          placement, expected):
    from airflow.sdk.configuration import conf

    from tweetbot_airflow import placement as placement_module

    monkeypatch.setattr(conf, "get", lambda section, key, **_: executor)
    monkeypatch.setenv("TWEETBOT_TRIAL_EXECUTOR", placement)
    assert placement_module.distributed(placement_module.from_environment()) is expected


def test_the_kubernetes_dag_serializes_as_the_scheduler_stores_it(kubernetes_dagbag):
    from airflow.serialization.serialized_objects import DagSerialization

    dag = kubernetes_dagbag.get_dag("tweetbot_training")
    stored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    trial = stored.get_task("trial")
    assert trial.pool == TRIALS_POOL and trial.partial_kwargs["map_index_template"]
    base = stored.get_task("train_base_model")
    assert base.image == "registry.example/tweetbot-trainer:1.2.3"
    assert base.downstream_task_ids == {"evaluate_arguments", "register"}


@pytest.mark.parametrize("value", ["k8s", "kubernets", "Local"])
def test_a_misspelt_placement_is_an_import_error_naming_the_variable(airflow_db, monkeypatch,
                                                                    value):
    dagbag = parse(monkeypatch, {"TWEETBOT_TRIAL_EXECUTOR": value})
    (error,) = [e for path, e in dagbag.import_errors.items() if "tweetbot_training" in path]
    assert f"TWEETBOT_TRIAL_EXECUTOR: {value!r} is not one of local, kubernetes" in error
    assert "tweetbot_training" not in dagbag.dag_ids


def test_bad_pod_settings_fail_the_import_not_a_task(airflow_db, monkeypatch):
    dagbag = parse(monkeypatch, {**K8S_ENV, "TWEETBOT_K8S_NODE_SELECTOR": "gpu=a100"})
    (error,) = [e for path, e in dagbag.import_errors.items() if "tweetbot_training" in path]
    assert "TWEETBOT_K8S_NODE_SELECTOR: not valid JSON" in error


def test_both_dags_alert_on_failure_and_training_has_a_deadline(airflow_db, monkeypatch):
    dagbag = parse(monkeypatch, {"TWEETBOT_DEADLINE": "PT6H"})
    for dag_id in ("tweetbot_training", "tweetbot_prepare_splits"):
        callback = dagbag.get_dag(dag_id).on_failure_callback
        assert type(callback).__name__ == "RunFailed", dag_id
    dag = dagbag.get_dag("tweetbot_training")
    [deadline] = dag.deadline
    assert str(deadline.interval) == "6:00:00"
    assert type(deadline.reference).__name__ == "DagRunQueuedAtDeadline"
    assert deadline.callback.path.endswith("alerts.DeadlineMissed")
    for task_id in ("register", "promote"):
        callbacks = dag.get_task(task_id).on_success_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert [type(c).__name__ for c in callbacks] == ["ChampionChanged"], task_id
    approval = dag.get_task("approve_promotion")
    assert approval.defaults == ["Reject"] and str(approval.response_timeout) == "12:00:00"
    assert parse(monkeypatch, {"TWEETBOT_DEADLINE": "0"}).get_dag(
        "tweetbot_training").deadline is None


def test_a_bad_deadline_fails_the_import_naming_the_variable(airflow_db, monkeypatch):
    dagbag = parse(monkeypatch, {"TWEETBOT_DEADLINE": "tomorrow"})
    (error,) = [e for path, e in dagbag.import_errors.items() if "tweetbot_training" in path]
    assert "TWEETBOT_DEADLINE: 'tomorrow' is not a duration" in error


BASE_STEP = Step(module="training.train", arguments=(), folder="nightly", name="base",
                 environment={"TWEETBOT_EXPERIMENT": "nightly"})


@pytest.mark.parametrize(("worker", "gpu", "held"), [
    ({}, True, "0"),
    ({"TWEETBOT_LOCAL_ACCELERATORS": "2"}, True, "2"),
    ({"TWEETBOT_LOCAL_ACCELERATORS": "2"}, False, "0")])
def test_a_local_step_that_trains_holds_the_workers_accelerators(monkeypatch, worker, gpu,
                                                                 held):
    """Read on the worker as the task runs, and handed to the step's process."""
    from training.pipeline import runner
    from tweetbot_airflow.placement import run_step

    monkeypatch.delenv("TWEETBOT_LOCAL_ACCELERATORS", raising=False)
    for name, value in worker.items():
        monkeypatch.setenv(name, value)
    placed = []
    monkeypatch.setattr(runner, "run", lambda command, output=None: placed.append(command))
    run_step.function(BASE_STEP.to_json(), gpu=gpu)
    command, = placed
    assert command.step.environment == {"TWEETBOT_EXPERIMENT": "nightly",
                                        "TWEETBOT_ACCELERATORS": held}


@pytest.mark.parametrize("value", ["1.5", "all", "-1"])
def test_a_bad_local_accelerator_count_fails_the_task_naming_the_variable(monkeypatch, value):
    from airflow.sdk.exceptions import AirflowFailException

    from training.pipeline import runner
    from tweetbot_airflow.placement import run_step

    monkeypatch.setenv("TWEETBOT_LOCAL_ACCELERATORS", value)
    monkeypatch.setattr(runner, "run", lambda command, output=None: pytest.fail("it ran"))
    with pytest.raises(AirflowFailException) as refused:  # failed for good: no retry
        run_step.function(BASE_STEP.to_json(), gpu=True)
    assert str(refused.value) == (f"TWEETBOT_LOCAL_ACCELERATORS: {value!r} is not a number "
                                  f"of accelerators (a whole number, 0 or more)")


def test_every_param_has_a_description_and_a_default(dagbag):
    dag = dagbag.get_dag("tweetbot_training")
    assert set(dag.params) == set(params_schema())
    for name in dag.params:
        param = dag.params.get_param(name)
        assert param.description, name
        param.resolve()  # the default itself validates


@pytest.mark.parametrize("name, value", [
    ("num_trials", 0), ("num_trials", 2.5), ("parallel", 0), ("max_epochs", -1),
    ("tolerance", -0.5), ("policy", "best-guess"), ("force", "yes"), ("pruning", "always"),
    ("space_overrides", "rnn_size=64"), ("algorithm", "grid"), ("max_train_chars", 0),
])
def test_params_schema_rejects_bad_values(dagbag, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    param = dagbag.get_dag("tweetbot_training").params.get_param(name)
    with pytest.raises(ParamValidationError):
        param.resolve(value)


def test_cross_parameter_rules_fail_before_any_trial():
    # No rounds: any number of trials, any number at once.
    assert RunConfig.from_params({"num_trials": 20, "parallel": 2}).search.num_trials == 20
    with pytest.raises(InputError, match="rnn_size"):
        RunConfig.from_params({"space_overrides": {"rnn_size": {"choice": [0]}}})
    with pytest.raises(InputError, match="unknown run parameter 'num_trails'"):
        RunConfig.from_params({"num_trails": 3})


def test_a_training_subset_is_for_the_trials_only():
    config = RunConfig.from_params({"max_train_chars": 80_000})
    assert config.trial_fit.max_train_chars == 80_000
    assert config.base_model_fit.max_train_chars is None
    assert RunConfig.from_params({}).trial_fit.max_train_chars is None


def test_the_form_opens_ready_to_submit_in_titled_sections(airflow_db, monkeypatch):
    """Airflow's form requires every field whose type has no "null"; the optional
    ones must say so, and every default must already be valid. Parsed afresh: a
    dag.test() run earlier in this process leaves its conf in the session
    dagbag's DAG object's params (seen since the DAG has approve_promotion); a
    dag-processor's copy never runs a task."""
    dagbag = parse(monkeypatch, {})
    params = dagbag.get_dag("tweetbot_training").params
    for name in params:
        schema = params.get_param(name).schema
        assert schema["title"] and schema["section"] in (
            "Data", "Search", "Selection", "Search space"), name
    assert params.get_param("data_location").schema["type"] == ["string", "null"]
    assert params.get_param("data_location").resolve() is None
    prepare = dagbag.get_dag("tweetbot_prepare_splits").params
    assert all(prepare.get_param(name).resolve() is None for name in prepare)


def test_a_deployment_sets_the_run_defaults_and_a_bad_file_fails_the_import(
        airflow_db, monkeypatch, tmp_path):
    defaults = tmp_path / "defaults.yaml"
    defaults.write_text("num_trials: 2\nmax_epochs: 1\n"
                        "space_overrides: {rnn_size: {choice: [16, 32]}}\n")
    dag = parse(monkeypatch, {"TWEETBOT_RUN_DEFAULTS": str(defaults)}).get_dag(
        "tweetbot_training")
    assert dag.params.get_param("num_trials").resolve() == 2
    assert dag.params.get_param("space_overrides").resolve() == {
        "rnn_size": {"choice": [16, 32]}}
    assert dag.params.get_param("warm_start").resolve() == 3  # the DAG's own, kept
    defaults.write_text("num_trials: 0\n")
    dagbag = parse(monkeypatch, {"TWEETBOT_RUN_DEFAULTS": str(defaults)})
    (error,) = [e for path, e in dagbag.import_errors.items() if "tweetbot_training" in path]
    assert f"TWEETBOT_RUN_DEFAULTS {defaults}: num_trials: 0 is outside [1, inf)" in error


@pytest.mark.parametrize("unpaused_at, first_run", [
    ("2026-11-30T03:35:00", "2026-12-01T03:00:00"),  # just after tonight's: not run now
    ("2026-11-30T02:59:00", "2026-11-30T03:00:00"),
    ("2026-11-30T15:00:00", "2026-12-01T03:00:00"),
])
def test_unpausing_waits_for_the_next_night_even_just_after_one(dagbag, monkeypatch,
                                                                unpaused_at, first_run):
    """The scheduler's copy of the schedule: a deployment unpaused at 03:35 must not
    start the 03:00 run it missed (Airflow's default runs it within 10 % of the
    interval, 2.4 hours, unless told otherwise)."""
    import pendulum
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables import trigger
    from airflow.timetables.base import TimeRestriction

    stored = DagSerialization.from_dict(json.loads(json.dumps(DagSerialization.to_dict(
        dagbag.get_dag("tweetbot_training")))))  # as the metadata database holds it
    monkeypatch.setattr(trigger, "utcnow", lambda: pendulum.parse(unpaused_at, tz="UTC"))
    info = stored.timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=None, latest=None, catchup=False))
    assert info.run_after == pendulum.parse(first_run, tz="UTC")
