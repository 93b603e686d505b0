"""A search's record in MLflow ends in a defined state whatever its trials' tasks
did: a trial whose task ended before it trained is failed with that reason; a
retried trial task continues its own trial; a trial that fails before training is
a failed trial with its reason; nothing is left pending or RUNNING."""

from __future__ import annotations

import mlflow
import pytest

from training import tracking
from training.core.records import FAILED, PENDING
from training.pipeline import steps
from training.pipeline.trial_run import TrialSpec, run_trial
from training.tracking.search_store import SearchStore
from training.tuning.selection import NoTrialSucceeded
from training.tuning.suggest import next_trial, search_plan

pytestmark = pytest.mark.fault

TINY = {"num_trials": 4, "parallel": 2, "max_epochs": 1, "final_epochs": 1,
        "space_overrides": {"batch_size": 8, "seq_len": 16, "rnn_size": 16,
                            "embedding_size": 8, "num_layers": 1}}


def test_a_trial_whose_task_ended_before_it_trained_is_failed_by_select(sample_splits):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "night-1")
    trials = steps.start_search(run)
    store = SearchStore(run.search_id)
    # Trial 1's pod was suggested, then never started (an image pull failure, say);
    # trial 2's task ended before it even suggested; 3 and 4 never ran.
    next_trial(store, search_plan(store), trials[0].trial_num)
    with pytest.raises(NoTrialSucceeded, match="none of 1 trials finished ok"):
        steps.select(run)
    never_started, = store.trials()
    assert never_started.status == FAILED
    assert "its task ended before the trial started" in never_started.failure_reason
    assert mlflow.get_run(never_started.run_id).info.status == "FAILED"


def test_a_retried_trial_task_continues_its_own_trial(sample_splits):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "night-2")
    first = steps.start_search(run)
    assert steps.start_search(run) == first  # start_search retried after a crash
    store = SearchStore(run.search_id)
    suggested = next_trial(store, search_plan(store), 1)
    assert next_trial(SearchStore(run.search_id), search_plan(store), 1) == suggested
    assert store.trials() == [suggested] and suggested.status == PENDING


def test_select_fails_what_never_started_and_leaves_nothing_running(sample_splits):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "night-3")
    steps.start_search(run)
    store = SearchStore(run.search_id)
    for num in (1, 2):
        next_trial(store, search_plan(store), num)
    with pytest.raises(NoTrialSucceeded, match="none of 2 trials finished ok"):
        steps.select(run)
    assert {t.status for t in store.trials()} == {FAILED}
    assert store.find_parent().info.status == "FAILED"
    tracking.configure()
    running = mlflow.search_runs(filter_string="attributes.status = 'RUNNING'")
    assert running.empty


def test_unreadable_splits_make_a_failed_trial_with_the_reason(sample_splits, monkeypatch):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "night-4")
    steps.start_search(run)
    store = SearchStore(run.search_id)
    record = next_trial(store, search_plan(store), 1)
    # The pod cannot read the bucket: the splits are gone by the time it starts.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nothing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    spec = TrialSpec(search_id=run.search_id, trial_num=record.trial_num,
                     data_dir="s3://tweetbot-splits/nightly", hyperparams=record.hyperparams)
    result = run_trial(spec)
    assert result.status == FAILED
    assert "s3://tweetbot-splits/nightly" in result.failure_reason
    assert store.find_trial(record.trial_num).status == FAILED
    assert mlflow.get_run(record.run_id).info.status == "FAILED"


def test_two_runs_at_once_keep_their_searches_and_checkpoints_apart(sample_splits):
    """max_active_runs raised, or a manual run during the nightly one."""
    params = {**TINY, "data_location": str(sample_splits)}
    nightly = steps.validate_splits(params, "scheduled__2026-11-30T03:00:00+00:00")
    manual = steps.validate_splits(params, "manual__2026-11-30T03:01:12+00:00")
    assert nightly.search_id != manual.search_id
    nightly_trials, manual_trials = steps.start_search(nightly), steps.start_search(manual)
    assert {s.folder for s in nightly_trials} == {nightly.search_id}
    assert {s.folder for s in manual_trials} == {manual.search_id}
    for run in (nightly, manual):
        store = SearchStore(run.search_id)
        for num in (1, 2):
            next_trial(store, search_plan(store), num)
    assert [t.trial_num for t in SearchStore(nightly.search_id).trials()] == [1, 2]
    assert [t.trial_num for t in SearchStore(manual.search_id).trials()] == [1, 2]
    assert (SearchStore(nightly.search_id).find_parent().info.run_id
            != SearchStore(manual.search_id).find_parent().info.run_id)
