"""A DAG run that fails early fails once, at the step that failed, and says so:
the ``all_done`` task that follows (``select``) fails at once, without a retry,
naming that step, instead of tripping over its missing result. A trial killed in
the middle is a failed trial; the search goes on."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from tweetbot_airflow import upstream

pytestmark = pytest.mark.fault


def test_bad_input_fails_validate_splits_once_and_no_later_step_retries(dagbag, tmp_path):
    run = dagbag.get_dag("tweetbot_training").test(
        run_conf={"data_location": str(tmp_path / "no-such-splits"), "num_trials": 1,
                  "parallel": 1})
    tries = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert tries["validate_splits"] == ("failed", 1)  # bad input is not retried
    assert tries["start_search"][0] == "upstream_failed"
    assert tries["trial"][0] == "upstream_failed"
    assert tries["select"] == ("failed", 1)
    assert tries["register"][0] == "upstream_failed"


class TaskInstance:
    """What ``upstream.require`` reads of a running task: its run's states."""

    dag_id, run_id = "tweetbot_training", "manual__1"

    def __init__(self, states):
        self.states = states

    def get_task_states(self, dag_id, run_ids, task_ids):
        assert (dag_id, run_ids) == (self.dag_id, [self.run_id])
        return {self.run_id: {k: v for k, v in self.states.items() if k in task_ids}}


@pytest.mark.parametrize("states, named", [
    ({"validate_splits": "failed", "start_search": "upstream_failed"},
     "validate_splits ended failed"),
    ({"validate_splits": "success", "start_search": "failed"}, "start_search ended failed"),
    ({"validate_splits": "success"}, "start_search has not run"),
])
def test_a_task_after_a_failed_first_step_fails_naming_it(states, named):
    with pytest.raises(AirflowFailException, match=named):
        upstream.require_first_steps({"ti": TaskInstance(states)})


def test_nothing_is_raised_once_the_first_steps_succeeded():
    states = {"validate_splits": "success", "start_search": "success"}
    upstream.require_first_steps({"ti": TaskInstance(states)})


TINY_SPACE = {"batch_size": 16, "seq_len": 16, "rnn_size": {"choice": [16, 32]},
              "embedding_size": 8, "num_layers": 1, "optimizer": "adam",
              "learning_rate": 0.01, "clip_norm": 5.0, "drop_rate": 0.0}


def run_killing_trials(dagbag, splits, folder, monkeypatch, *trial_nums: int):
    """A tiny training run whose trials ``trial_nums`` are killed as they start
    training (suggested, and recorded), as by the out-of-memory killer."""
    (folder / "sitecustomize.py").write_text(
        "import os, signal, sys\n"
        "argv = sys.orig_argv\n"
        "if 'training.trial' in argv and "
        f"int(argv[argv.index('--trial-num') + 1]) in {set(trial_nums)!r}:\n"
        "    import training.pipeline.trial_run as trial_run\n"
        "    trial_run.run_training = lambda *args, **kwargs: "
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    monkeypatch.setenv("PYTHONPATH", str(folder))
    return dagbag.get_dag("tweetbot_training").test(run_conf={
        "data_location": str(splits), "num_trials": 2, "parallel": 2,
        "max_epochs": 1, "final_epochs": 1, "space_overrides": TINY_SPACE})


@pytest.mark.slow
def test_one_trial_killed_the_run_goes_on_with_the_other(dagbag, sample_splits, tmp_path,
                                                        monkeypatch):
    from training.pipeline.run_config import search_id_for
    from training.tracking import registry
    from training.tracking.search_store import SearchStore

    run = run_killing_trials(dagbag, sample_splits, tmp_path, monkeypatch, 1)
    assert run.state == "success"
    killed, survived = SearchStore(search_id_for(run.run_id)).trials()
    assert killed.status == "failed" and "killed by SIGKILL" in killed.failure_reason
    assert survived.status == "ok"
    assert registry.champion().tags["tweetbot.dag_run_id"] == run.run_id


@pytest.mark.slow
def test_every_trial_killed_fails_the_run_at_select_and_leaves_nothing_running(
        dagbag, sample_splits, tmp_path, monkeypatch):
    import mlflow

    from training import tracking
    from training.pipeline.run_config import search_id_for
    from training.tracking import registry
    from training.tracking.search_store import SearchStore

    run = run_killing_trials(dagbag, sample_splits, tmp_path, monkeypatch, 1, 2)
    tries = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()
             if ti.map_index < 1}
    assert run.state == "failed"
    assert tries["trial"][0] == "success"  # a killed trial is a result: failed
    assert tries["select"] == ("failed", 1)  # no trial succeeded: not retried
    assert tries["train_base_model"][0] == "upstream_failed"
    store = SearchStore(search_id_for(run.run_id))
    trials = store.trials()
    assert [t.status for t in trials] == ["failed", "failed"]
    assert all("killed by SIGKILL" in t.failure_reason for t in trials)
    assert store.find_parent().info.status == "FAILED"
    assert "none of 2 trials finished ok" in store.find_parent().data.tags[
        "tweetbot.selection"]
    tracking.configure()
    assert mlflow.search_runs(filter_string="attributes.status = 'RUNNING'").empty
    assert registry.champion() is None
