"""The DAG's steps refuse, before any work, what would split a run's record
across machines: local splits or a local MLflow store when steps can run
elsewhere, a password in the tracking URI, a worker pointed at another store."""

from __future__ import annotations

import pytest

from training.core.errors import InputError
from training.core.records import FAILED, OK, PRUNED
from training.pipeline import steps
from training.pipeline.run_config import search_id_for
from training.tracking.search_store import SearchStore
from training.tuning.suggest import next_trial, search_plan

TINY = {"num_trials": 1, "parallel": 1, "max_epochs": 1, "final_epochs": 1,
        "space_overrides": {"batch_size": 8, "seq_len": 16}}


def test_a_distributed_run_refuses_splits_on_this_machine(sample_splits):
    with pytest.raises(InputError, match=(
            f"data_location: {sample_splits} is a folder on this machine, but steps run on "
            "other machines")):
        steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "run-1",
                              distributed=True)


def test_a_distributed_run_refuses_a_store_on_this_machine():
    # Refused before the splits are read: this bucket does not exist.
    with pytest.raises(InputError, match=r"MLFLOW_TRACKING_URI: sqlite:///.* is a store on "
                                         r"this machine, but steps run on other machines"):
        steps.validate_splits({**TINY, "data_location": "s3://no-such-bucket/splits"},
                              "run-1", distributed=True)


def test_a_password_in_the_tracking_uri_is_refused_without_printing_it(monkeypatch,
                                                                       sample_splits):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://mlflow:s3cr3t@db:5432/mlflow")
    with pytest.raises(InputError, match="MLFLOW_TRACKING_URI holds a password") as refused:
        steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "run-1")
    assert "s3cr3t" not in str(refused.value)


def test_a_worker_on_another_store_refuses_the_runs_steps(monkeypatch, sample_splits):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "run-1")
    assert run.tracking.experiment == "tweetbot" and run.tracking.uri.startswith("sqlite:")
    assert run.data_location == str(sample_splits)
    monkeypatch.setenv("TWEETBOT_EXPERIMENT", "elsewhere")
    with pytest.raises(InputError, match="this worker's MLflow store .* experiment elsewhere"
                                         r"\) is not this run's"):
        steps.start_search(run)
    monkeypatch.delenv("TWEETBOT_EXPERIMENT")
    assert SearchStore(run.search_id).find_parent() is None  # nothing was started


def test_every_step_command_carries_the_runs_store(sample_splits):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "run-2")
    trial, = steps.start_search(run)
    assert trial.environment == {"MLFLOW_TRACKING_URI": run.tracking.uri,
                                 "TWEETBOT_EXPERIMENT": "tweetbot"}


def test_start_search_gives_one_trial_per_number_each_waiting_for_its_slot(sample_splits):
    run = steps.validate_splits({**TINY, "num_trials": 5, "parallel": 2,
                                 "data_location": str(sample_splits)}, "run-slots")
    trials = steps.start_search(run)
    assert [t.trial_num for t in trials] == [1, 2, 3, 4, 5]
    assert [t.label for t in trials] == [f"trial {n}" for n in range(1, 6)]
    # Trial n starts once n - parallel trials have ended: two at once.
    assert [t.wait_for_ended for t in trials] == [0, 0, 1, 2, 3]
    # Nothing is suggested yet: each trial suggests itself as it starts.
    assert SearchStore(run.search_id).trials() == []
    assert "--rnn-size" not in trials[0].arguments


def test_a_trial_budget_in_characters_becomes_epochs_of_this_runs_train_split(sample_splits):
    run = steps.validate_splits({**TINY, "max_epochs": 30, "data_location": str(sample_splits),
                                 "trial_chars": 2_000_000}, "run-budget")
    train_bytes = run.split_bytes["train"]
    trial, = steps.start_search(run)
    expected = round(2_000_000 / train_bytes)
    assert 3 <= expected < 30  # the sample's train split: a few hundred kB
    arguments = list(trial.arguments)
    assert arguments[arguments.index("--num-epochs") + 1] == str(expected)
    assert "--budget-chars" not in arguments  # spent once, here, for every trial alike
    params = SearchStore(run.search_id).find_parent().data.params
    assert (params["trial_chars"], params["max_epochs"]) == ("2000000", str(expected))


def test_a_search_larger_than_airflow_maps_is_refused_before_anything(sample_splits):
    with pytest.raises(InputError, match=r"^num_trials: 1025 is more than the 1024 trial "
                                         r"tasks Airflow maps at most \(\[core\] "
                                         r"max_map_length\)$"):
        steps.validate_splits({**TINY, "num_trials": 1025, "data_location": str(sample_splits)},
                              "run-huge", max_trials=1024)
    assert SearchStore(search_id_for("run-huge")).find_parent() is None


def test_a_runs_past_trials_are_read_once_and_recorded_on_its_search(sample_splits):
    csv_path = sample_splits.parent / "tutorial-trials.csv"
    csv_path.write_text(
        "rank,trial_num,val_loss,train_loss,num_epochs,avg_epoch_seconds,batch_size,"
        "drop_rate,embedding_size,num_layers,rnn_size,seq_len,optimizer,clip_norm,status\n"
        "1,1,1.6,1.5,10,60,8,0.0,64,1,256,16,adam,5.0,ok\n"
        "2,2,1.9,1.8,10,60,8,0.0,64,1,256,16,adagrad,5.0,ok\n")  # adagrad at 0.01: outside
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits),
                                    "past_trials": str(csv_path)}, "run-3")
    assert [t.val_loss for t in run.past_trials.trials] == [1.6]
    # The parsed rows travel with the run (XCom), so no later step reads the file.
    assert type(run).from_json(run.to_json()).past_trials == run.past_trials
    steps.start_search(run)
    params = SearchStore(run.search_id).find_parent().data.params
    assert (params["past_trials"], params["past_trials_used"],
            params["past_trials_skipped"]) == (str(csv_path), "1", "1")

    csv_path.write_text("trial,loss\n1,1.6\n")
    with pytest.raises(InputError, match=r"past_trials: .*tutorial-trials.csv: no column"):
        steps.validate_splits({**TINY, "data_location": str(sample_splits),
                                  "past_trials": str(csv_path)}, "run-4")


def test_select_names_the_trials_to_compare(sample_splits):
    run = steps.validate_splits({**TINY, "num_trials": 3, "parallel": 3,
                                    "data_location": str(sample_splits)}, "run-5")
    trials = steps.start_search(run)
    store = SearchStore(run.search_id)
    plan = search_plan(store)
    for trial in trials:
        next_trial(store, plan, trial.trial_num)  # as each trial does when it starts
    for record, (status, loss) in zip(store.trials(), [(OK, 2.0), (PRUNED, 3.0),
                                                       (FAILED, None)], strict=True):
        if loss is not None:
            for key, value in (("best_val_loss", loss), ("best_train_loss", loss),
                               ("num_epochs", 1), ("avg_epoch_seconds", 1.0)):
                store.client.log_metric(record.run_id, key, value)
        store.set_status(record.run_id, status)
        store.client.set_terminated(record.run_id)
    chosen = steps.select(run)
    assert len(trials) == 3
    assert chosen.experiment_id == store.experiment_id
    assert chosen.trial_run_ids == tuple(r.run_id for r in store.trials()[:2])  # not failed
