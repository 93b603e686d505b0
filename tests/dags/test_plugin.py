"""The "MLflow run" link: found by Airflow's plugin manager, answers only for
tweetbot's DAGs, and never breaks a page. The link computed from a real task's
result is checked end to end in test_dag_e2e."""

import logging

import pytest

import tweetbot_mlflow_links as links
from tweetbot_mlflow_links import (
    MlflowCompareLink,
    MlflowRunLink,
    compare_url,
    run_id_of,
    run_url,
)


class Key:
    def __init__(self, dag_id, task_id="register"):
        self.dag_id, self.task_id, self.run_id, self.map_index = dag_id, task_id, "r", -1


def test_airflow_loads_the_link_from_the_plugins_folder(airflow_db):
    from airflow import plugins_manager

    assert plugins_manager.get_import_errors() == {}
    names = [type(link).__name__ for link in plugins_manager.get_global_operator_extra_links()]
    assert "MlflowRunLink" in names and "MlflowCompareLink" in names


def test_other_dags_get_no_link_and_no_database_lookup(monkeypatch):
    looked_up = []

    def lookup(ti_key):
        looked_up.append(ti_key.dag_id)
        return {"run_id": "abc"}

    monkeypatch.setattr(links, "return_value", lookup)
    monkeypatch.setenv("TWEETBOT_MLFLOW_UI_URL", "http://mlflow.example:5000")
    assert MlflowRunLink().get_link(None, ti_key=Key("someone_elses_dag")) == ""
    assert MlflowRunLink().get_link(None, ti_key=Key("tweetbot_training")) == (
        "http://mlflow.example:5000/#/runs/abc")
    assert looked_up == ["tweetbot_training"]


def test_a_failing_lookup_shows_no_link_and_logs_why(monkeypatch, caplog):
    def lookup(ti_key):
        raise RuntimeError("metadata database unreachable")

    monkeypatch.setattr(links, "return_value", lookup)
    monkeypatch.setenv("TWEETBOT_MLFLOW_UI_URL", "http://mlflow.example:5000")
    with caplog.at_level(logging.WARNING):
        assert MlflowRunLink().get_link(None, ti_key=Key("tweetbot_training")) == ""
    assert "metadata database unreachable" in caplog.text


@pytest.mark.parametrize("value, expected", [
    ({"run_id": "abc", "status": "ok"}, "abc"), (["arguments"], None),
    ({"run_id": ""}, None), ({"run_id": 7}, None), (None, None),
])
def test_links_come_from_run_ids_in_task_results(value, expected):
    assert run_id_of(value) == expected


def test_the_url_needs_both_a_ui_and_a_run():
    assert run_url("http://mlflow:5000", "abc") == "http://mlflow:5000/#/runs/abc"
    assert run_url(None, "abc") == "" and run_url("http://mlflow:5000", None) == ""


def test_select_links_to_mlflows_comparison_of_the_searchs_trials(monkeypatch):
    chosen = {"run_id": "parent", "trial_run_ids": ["t1", "t2", "t3"], "experiment_id": "4"}
    monkeypatch.setattr(links, "return_value", lambda ti_key: chosen)
    monkeypatch.setenv("TWEETBOT_MLFLOW_UI_URL", "http://mlflow.example:5000")
    # The runs and experiments as JSON lists, as MLflow's own compare button writes them.
    assert MlflowCompareLink().get_link(None, ti_key=Key("tweetbot_training", "select")) == (
        "http://mlflow.example:5000/#/compare-runs?runs=%5B%22t1%22%2C%20%22t2%22%2C%20%22t3"
        "%22%5D&experiments=%5B%224%22%5D")
    assert MlflowRunLink().get_link(None, ti_key=Key("tweetbot_training", "select")) == (
        "http://mlflow.example:5000/#/runs/parent")


@pytest.mark.parametrize("value", [
    {"run_id": "abc"}, {"trial_run_ids": [], "experiment_id": "1"},
    {"trial_run_ids": ["a"]}, {"trial_run_ids": "a", "experiment_id": "1"}, None,
])
def test_a_result_without_trials_gets_no_compare_link(value):
    assert compare_url("http://mlflow:5000", value) == ""
    assert compare_url(None, {"trial_run_ids": ["a"], "experiment_id": "1"}) == ""
