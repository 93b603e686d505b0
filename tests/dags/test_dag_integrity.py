"""The DAG files: they import, have the expected shape, and refuse bad parameters."""

import pytest

from training.pipeline import MAX_ROUNDS, RunConfig, params_schema
from training.errors import InputError


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"tweetbot_training", "tweetbot_prepare_splits"} <= set(dagbag.dag_ids)


def test_training_dag_shape(dagbag):
    dag = dagbag.get_dag("tweetbot_training")
    rounds = [f"suggest_r{r}" for r in range(MAX_ROUNDS)] + [f"trial_r{r}" for r in range(MAX_ROUNDS)]
    assert set(dag.task_ids) == {"validate_splits", "start_search", *rounds, "select",
                                 "base_model_arguments", "train_base_model",
                                 "evaluate_arguments", "evaluate", "register"}
    downstream = lambda task_id: dag.get_task(task_id).downstream_task_ids  # noqa: E731
    assert "start_search" in downstream("validate_splits")
    assert "suggest_r0" in downstream("start_search")
    for r in range(MAX_ROUNDS):
        assert f"trial_r{r}" in downstream(f"suggest_r{r}")
        assert (f"suggest_r{r + 1}" if r + 1 < MAX_ROUNDS else "select") in downstream(f"trial_r{r}")
    assert "train_base_model" in downstream("base_model_arguments")
    assert "evaluate" in downstream("evaluate_arguments")
    assert "register" in downstream("evaluate")
    assert dag.max_active_runs == 1 and not dag.catchup
    assert dag.get_task("trial_r0").pool == "tweetbot_trials"
    assert dag.get_task("suggest_r1").trigger_rule == "all_done"
    assert dag.get_task("select").trigger_rule == "all_done"
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert dag.doc_md and "validate_splits" in dag.doc_md


def test_no_cycles(dagbag):
    dag = dagbag.get_dag("tweetbot_training")
    order = [t.task_id for t in dag.topological_sort()]
    assert len(order) == len(dag.task_ids)


def test_every_param_has_a_description_and_a_default(dagbag):
    dag = dagbag.get_dag("tweetbot_training")
    assert set(dag.params) == set(params_schema())
    for name in dag.params:
        param = dag.params.get_param(name)
        assert param.description, name
        param.resolve()  # the default itself validates


@pytest.mark.parametrize("name, value", [
    ("num_trials", 0), ("num_trials", 100000), ("parallel", 0), ("max_epochs", -1),
    ("tolerance", -0.5), ("policy", "best-guess"), ("force", "yes"), ("pruning", "always"),
    ("space_overrides", "rnn_size=64"), ("algorithm", "grid"),
])
def test_params_schema_rejects_bad_values(dagbag, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    param = dagbag.get_dag("tweetbot_training").params.get_param(name)
    with pytest.raises(ParamValidationError):
        param.resolve(value)


def test_cross_parameter_rules_fail_before_any_trial():
    with pytest.raises(InputError, match="num_trials: 20 needs more than 6 rounds of 2"):
        RunConfig.from_params({"num_trials": 20, "parallel": 2})
    with pytest.raises(InputError, match="rnn_size"):
        RunConfig.from_params({"space_overrides": {"rnn_size": {"choice": [0]}}})
    with pytest.raises(InputError, match="unknown run parameter 'num_trails'"):
        RunConfig.from_params({"num_trails": 3})
