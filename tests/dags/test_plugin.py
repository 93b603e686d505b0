from tweetbot_mlflow_links import MlflowRunLink, TweetbotPlugin, run_id_of, run_url


def test_the_plugin_adds_the_mlflow_link_to_every_task():
    assert [link.name for link in TweetbotPlugin.global_operator_extra_links] == ["MLflow run"]
    assert isinstance(TweetbotPlugin.global_operator_extra_links[0], MlflowRunLink)


def test_links_come_from_run_ids_in_task_results():
    assert run_id_of({"run_id": "abc", "status": "ok"}) == "abc"
    assert run_id_of(["arguments"]) is None and run_id_of({"run_id": ""}) is None
    assert run_url("http://mlflow:5000", "abc") == "http://mlflow:5000/#/runs/abc"
    assert run_url(None, "abc") == "" and run_url("http://mlflow:5000", None) == ""
