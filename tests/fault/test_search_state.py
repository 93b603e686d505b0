"""A search's record in MLflow ends in a defined state whatever its trials' tasks
did: a trial whose task ended before it started is failed, not suggested again
every round; a trial that fails before training is a failed trial with its
reason; nothing is left pending or RUNNING."""

from __future__ import annotations

import mlflow
import pytest

from training import tracking
from training.core.records import FAILED, PENDING
from training.pipeline import steps
from training.pipeline.trial_run import TrialSpec, run_trial
from training.tracking.search_store import SearchStore
from training.tuning.selection import NoTrialSucceeded

pytestmark = pytest.mark.fault

TINY = {"num_trials": 4, "parallel": 2, "max_epochs": 1, "final_epochs": 1,
        "space_overrides": {"batch_size": 8, "seq_len": 16, "rnn_size": 16,
                            "embedding_size": 8, "num_layers": 1}}


def test_a_trial_whose_task_ended_before_it_started_is_failed_not_requeued(sample_splits):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "night-1")
    steps.start_search(run)
    first = steps.suggest_round(run, round_index=0)
    # trial_r0's pods never started (an image pull failure, say): both stay pending.
    second = steps.suggest_round(run, round_index=1)
    assert [step.name for step in first] == ["trial-001", "trial-002"]
    assert [step.name for step in second] == ["trial-003", "trial-004"]
    store = SearchStore(run.search_id)
    never_started = [t for t in store.trials() if t.trial_num <= 2]
    assert [t.status for t in never_started] == [FAILED, FAILED]
    assert "trial_r0 ended before the trial started" in never_started[0].failure_reason
    assert {mlflow.get_run(t.run_id).info.status for t in never_started} == {"FAILED"}


def test_a_retried_suggest_reruns_the_trials_it_already_suggested(sample_splits):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "night-2")
    steps.start_search(run)
    first = steps.suggest_round(run, round_index=0)
    again = steps.suggest_round(run, round_index=0)  # the task retried after a crash
    assert again == first
    assert [t.status for t in SearchStore(run.search_id).trials()] == [PENDING, PENDING]


def test_select_fails_what_never_started_and_leaves_nothing_running(sample_splits):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "night-3")
    steps.start_search(run)
    steps.suggest_round(run, round_index=0)
    with pytest.raises(NoTrialSucceeded, match="none of 2 trials finished ok"):
        steps.select(run)
    store = SearchStore(run.search_id)
    assert {t.status for t in store.trials()} == {FAILED}
    assert store.find_parent().info.status == "FAILED"
    tracking.configure()
    running = mlflow.search_runs(filter_string="attributes.status = 'RUNNING'")
    assert running.empty


def test_unreadable_splits_make_a_failed_trial_with_the_reason(sample_splits, monkeypatch):
    run = steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "night-4")
    steps.start_search(run)
    step, _ = steps.suggest_round(run, round_index=0)
    store = SearchStore(run.search_id)
    record = store.trials()[0]
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
    for run in (nightly, manual):
        steps.start_search(run)
    nightly_trials = steps.suggest_round(nightly, round_index=0)
    manual_trials = steps.suggest_round(manual, round_index=0)
    assert {s.folder for s in nightly_trials} == {nightly.search_id}
    assert {s.folder for s in manual_trials} == {manual.search_id}
    assert [t.trial_num for t in SearchStore(nightly.search_id).trials()] == [1, 2]
    assert [t.trial_num for t in SearchStore(manual.search_id).trials()] == [1, 2]
    assert (SearchStore(nightly.search_id).find_parent().info.run_id
            != SearchStore(manual.search_id).find_parent().info.run_id)
