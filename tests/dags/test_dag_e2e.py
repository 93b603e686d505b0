"""Both DAGs end to end, in-process (``dag.test()``), on the embedded defaults:
a SQLite MLflow store, trials and training as local processes, tiny models."""

import mlflow
import pytest

from training import tracking
from training.data.sample_corpus import write_sample_corpus
from training.tracking import registry, tags
from training.tracking.search_store import SearchStore

pytestmark = pytest.mark.slow

TINY_SPACE = {"batch_size": {"choice": [16, 32]}, "seq_len": 16,
              "rnn_size": {"choice": [16, 32]}, "embedding_size": 8, "num_layers": 1,
              "optimizer": "adam", "learning_rate": 0.01, "clip_norm": 5.0, "drop_rate": 0.0}
RUN = {"num_trials": 2, "parallel": 2, "max_epochs": 1, "final_epochs": 2,
       "space_overrides": TINY_SPACE}


def _task_states(run):
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_prepare_then_train_registers_a_champion_then_short_circuits(dagbag, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("TWEETBOT_SPLITS", str(tmp_path / "published"))
    raw = write_sample_corpus(tmp_path / "raw.csv", num_tweets=1500, seed=5)

    prepared = dagbag.get_dag("tweetbot_prepare_splits").test(
        run_conf={"raw_location": str(raw)})
    assert prepared.state == "success"
    assert (tmp_path / "published" / "train.txt").stat().st_size > 10_000

    first = dagbag.get_dag("tweetbot_training").test(run_conf=RUN)
    states = _task_states(first)
    assert first.state == "success", states
    assert states["register"] == "success"
    # No approval asked for: the gate and promote skip, register moved the champion.
    assert states["approve_promotion"] == "skipped" and states["promote"] == "skipped"
    labels = sorted(ti.rendered_map_index or "" for ti in first.get_task_instances()
                    if ti.task_id == "trial")
    assert [label.split(":")[0] for label in labels] == ["trial 1", "trial 2"]
    assert "rnn_size=" in labels[0]  # each mapped trial is named by its params

    tracking.configure()
    champion = registry.version_by_alias(registry.CHAMPION)
    assert champion is not None and str(champion.version) == "1"
    assert str(registry.version_by_alias(registry.CANDIDATE).version) == "1"
    assert champion.tags["tweetbot.dag_run_id"] == first.run_id
    assert float(champion.tags[tags.TEST_LOSS]) > 0
    assert len(champion.tags[tags.DATA_SHA256]) == 64

    search_run = mlflow.get_run(champion.tags["tweetbot.search_run_id"])
    assert search_run.info.status == "FINISHED"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(search_run.info.run_id)}
    assert {"trials.csv", "trade_off.png"} <= artifacts
    trials = SearchStore(search_run.data.tags["tweetbot.search_id"]).trials()
    assert len(trials) == 2 and all(t.finished for t in trials)

    base_run = mlflow.get_run(champion.run_id)
    assert base_run.data.tags["tweetbot.search_run_id"] == search_run.info.run_id
    assert base_run.data.params["num_epochs"] == "2"

    # The registered model generates tweets.
    model = mlflow.pyfunc.load_model(f"models:/{registry.MODEL_NAME}@champion")
    import pandas as pd
    tweets = model.predict(pd.DataFrame([{"prompt": "The ", "n": 2, "seed": 1,
                                          "max_chars": 60}]))
    assert len(tweets) == 2 and all(t.startswith("The ") for t in tweets.tweet)

    # The Airflow UI's "MLflow run" link on register opens the base model's run.
    from tweetbot_mlflow_links import MlflowRunLink
    monkeypatch.setenv("TWEETBOT_MLFLOW_UI_URL", "http://mlflow.example:5000")
    register_ti = next(ti for ti in first.get_task_instances() if ti.task_id == "register")
    assert MlflowRunLink().get_link(None, ti_key=register_ti.key) == (
        f"http://mlflow.example:5000/#/runs/{champion.run_id}")

    # A fresh worker process has no MLflow settings of its own: validate_splits must
    # find the champion in the configured store, not in MLflow's default one.
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'not-the-store.db'}")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # set_tracking_uri exports it; a worker has none
    second = dagbag.get_dag("tweetbot_training").test(run_conf=RUN)
    states = _task_states(second)
    assert second.state == "success"
    assert states["validate_splits"] == "success"
    assert states["train_base_model"] == "skipped" and states["register"] == "skipped"
    tracking.configure()
    versions = mlflow.MlflowClient().search_model_versions(f"name = '{registry.MODEL_NAME}'")
    assert len(versions) == 1
