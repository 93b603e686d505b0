"""The embedded SQLite store under parallel trials: 8 processes logging metrics
at once as a trial does (one call per value) lose nothing and raise no
"database is locked"; 8 logging the same splits as their dataset inputs at once
all record them. SQLite is for one machine (the docs); a deployment uses the
MLflow server."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from training import tracking
from training.data.splits import SplitInfo
from training.tracking import runs

pytestmark = [pytest.mark.fault, pytest.mark.slow]

WRITERS, STEPS = 8, 40


def log_like_a_trial(index: int, start) -> str:
    client = tracking.client()
    experiment_id = tracking.configure()
    start.wait()  # every writer imported and connected: now all write at once
    run = client.create_run(experiment_id, run_name=f"writer-{index}",
                            tags={"writer": str(index)})
    run_id = run.info.run_id
    for step in range(STEPS):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        client.log_metric(run_id, "val_loss", 2.0 / (step + 1), step=step)
        client.set_tag(run_id, "tweetbot.trial_status", f"epoch-{step}")
    client.set_terminated(run_id, status="FINISHED")
    return run_id


def test_eight_trial_processes_writing_at_once_lose_nothing(isolated_state):
    tracking.configure()  # the store exists before the trials start, as in a search
    spawn = multiprocessing.get_context("spawn")  # a trial is a fresh process
    with spawn.Manager() as manager, ProcessPoolExecutor(WRITERS, mp_context=spawn) as pool:
        start = manager.Barrier(WRITERS)
        run_ids = list(pool.map(log_like_a_trial, range(WRITERS), [start] * WRITERS))
    client = tracking.client()
    assert len(set(run_ids)) == WRITERS
    for run_id in run_ids:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        for key in ("loss", "val_loss"):
            assert [m.step for m in client.get_metric_history(run_id, key)] == list(
                range(STEPS))
        assert run.data.tags["tweetbot.trial_status"] == f"epoch-{STEPS - 1}"


def log_the_same_splits(index: int, start) -> str:
    client = tracking.client()
    run_id = client.create_run(tracking.configure(), run_name=f"trial-{index}").info.run_id
    splits = {name: SplitInfo(path=f"/data/{name}.txt", num_bytes=10, unknown_bytes=0,
                              sha256=name * 8) for name in ("train", "validate")}
    start.wait()
    runs.log_split_inputs(run_id, "/data", splits)
    return run_id


def test_parallel_trials_logging_the_same_splits_all_record_them(isolated_state):
    tracking.configure()
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(WRITERS, mp_context=spawn) as pool:
        start = manager.Barrier(WRITERS)
        run_ids = list(pool.map(log_the_same_splits, range(WRITERS), [start] * WRITERS))
    client = tracking.client()
    for run_id in run_ids:
        inputs = client.get_run(run_id).inputs.dataset_inputs
        assert sorted(i.dataset.name for i in inputs) == ["train.txt", "validate.txt"]
