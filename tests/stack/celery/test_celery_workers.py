"""Trials on Celery workers that share nothing but PostgreSQL, S3, Redis and the
MLflow server: a REST-triggered run spreads its trials over both GPU-queue
workers and its other steps on the CPU worker, loses a GPU worker (SIGKILL, the
whole process tree, as a machine dies) in the middle of a trial, and still ends
with a registered champion and no MLflow run left RUNNING."""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path

import pandas as pd
import psutil
import pytest

from ..stack_clients import REST_CONF, TRAINING, mlflow_on, wait_until
from .wipe_between_tasks import WIPE_LOG

pytestmark = [pytest.mark.slow, pytest.mark.stack]
def trains(task_id: str) -> bool:
    """The steps that train, on the GPU queue: the trials and the base model."""
    return task_id in ("trial", "train_base_model")


def worker_of(instance: dict) -> str:
    """The stack's worker name in a task instance's hostname, ``<worker>@<machine>``."""
    return (instance["hostname"] or "").partition("@")[0]


def kill_machine(pid: int) -> None:
    """SIGKILL a worker and everything it started, all at once."""
    leader = psutil.Process(pid)
    for process in [leader, *leader.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)


def a_trial_training(airflow, run_id: str, search) -> dict | None:
    """A trial task after the first two (started when a slot freed), running on a
    GPU worker, whose trial has begun training (its MLflow record says running)."""
    running = [ti for ti in airflow.task_instances(TRAINING, run_id)
               if ti["task_id"] == "trial" and ti["map_index"] >= 2
               and ti["state"] == "running" and ti["hostname"]]
    for instance in running:
        trial_num = instance["map_index"] + 1
        record = search.find_trial(trial_num)
        if record is not None and record.status == "running":
            return {**instance, "trial_num": trial_num}
    return None


@pytest.fixture(scope="package")
def celery_run(clients, splits_in_s3) -> dict:
    """The run, with one GPU worker killed while it trains its third or fourth trial."""
    airflow = clients.airflow
    from training.pipeline.run_config import search_id_for
    from training.tracking.search_store import SearchStore

    airflow.unpause(TRAINING)
    run_id = airflow.trigger(TRAINING, {**REST_CONF, "data_location": splits_in_s3})
    with mlflow_on(clients):
        search = SearchStore(search_id_for(run_id))
        victim = wait_until(lambda: a_trial_training(airflow, run_id, search), 900,
                            "a third or fourth trial training on a GPU worker")
    name = worker_of(victim)
    kill_machine(clients.stack.pids[f"airflow-worker-{name}"])
    finished = airflow.wait_for_run(TRAINING, run_id, timeout=900)
    return {"run": finished, "victim": victim, "killed": name}


def test_trials_ran_on_both_gpu_workers_and_the_rest_on_the_cpu_worker(clients, celery_run):
    airflow = clients.airflow
    run_id = celery_run["run"]["dag_run_id"]
    states = airflow.task_states(TRAINING, run_id)
    assert celery_run["run"]["state"] == "success", states
    ran = [attempt for ti in airflow.task_instances(TRAINING, run_id)
           if ti["state"] not in ("skipped", "removed")
           for attempt in airflow.tries(TRAINING, run_id, ti)]
    gpu = [t for t in ran if trains(t["task_id"])]
    cpu = [t for t in ran if not trains(t["task_id"])]
    trials = [t for t in gpu if t["task_id"] == "trial"]
    assert {worker_of(t) for t in trials} == {"gpu-1", "gpu-2"}
    assert {worker_of(t) for t in gpu} <= {"gpu-1", "gpu-2"}
    assert {t["queue"] for t in gpu} == {"tweetbot_gpu"}
    assert {worker_of(t) for t in cpu} == {"cpu"} and {t["queue"] for t in cpu} == {"default"}
    print("\n" + "\n".join(f"{t['task_id']}[{t['map_index']}] try {t['try_number']}: "
                           f"{t['state']} on {t['hostname']}" for t in ran))


def test_the_killed_workers_trial_was_retried_on_the_other_and_continued(
        clients, celery_run, stack_mlflow):
    from training.pipeline.run_config import search_id_for
    from training.tracking.search_store import SearchStore

    airflow = clients.airflow
    run_id, victim = celery_run["run"]["dag_run_id"], celery_run["victim"]
    tries = airflow.tries(TRAINING, run_id, victim)
    assert [(worker_of(t), t["state"]) for t in tries] == [
        (celery_run["killed"], "failed"),
        ("gpu-2" if celery_run["killed"] == "gpu-1" else "gpu-1", "success")]
    result = airflow.xcom(TRAINING, run_id, "trial", victim["map_index"])
    record = SearchStore(search_id_for(run_id)).find_trial(victim["trial_num"])
    # The same MLflow run, created when the trial was suggested, carried on.
    assert result["run_id"] == record.run_id and record.status in ("ok", "pruned")
    assert stack_mlflow.get_run(record.run_id).info.status == "FINISHED"


def test_no_mlflow_run_is_left_running_and_the_champion_loads(celery_run, stack_mlflow):
    import mlflow

    from training.tracking import registry

    assert celery_run["run"]["state"] == "success"
    runs = mlflow.search_runs(experiment_names=["tweetbot"], output_format="list")
    assert len(runs) >= 6  # the search, 4 trials, the base model
    assert [r.info.run_id for r in runs if r.info.status == "RUNNING"] == []
    model = mlflow.pyfunc.load_model(registry.model_uri(registry.CHAMPION))
    tweets = model.predict(pd.DataFrame([{"prompt": "The ", "n": 2, "seed": 3,
                                          "max_chars": 40}]))
    assert len(tweets) == 2 and all(t.startswith("The ") for t in tweets.tweet)


def test_each_task_found_its_workers_folders_empty(clients, celery_run):
    """Every task started with its worker's TWEETBOT_HOME and working folder emptied,
    so no step read a file another step wrote, on any machine; the folders were
    used (the GPU workers' held files when the next task began)."""
    airflow, run_id = clients.airflow, celery_run["run"]["dag_run_id"]
    wipes = [json.loads(line) for line in
             (Path(clients.settings.home) / WIPE_LOG).read_text().splitlines()]
    # A task that started on a worker has its hostname, even one that then
    # skipped itself (approve_promotion, when no approval is required).
    started = [t for ti in airflow.task_instances(TRAINING, run_id)
               if ti["state"] not in ("skipped", "removed") or ti["hostname"]
               for t in airflow.tries(TRAINING, run_id, ti)]
    assert len(wipes) == len(started)
    assert {w["worker"] for w in wipes} == {"cpu", "gpu-1", "gpu-2"}
    assert [w for w in wipes if w["worker"].startswith("gpu") and w["removed"] > 0]
