"""Orchestration overhead: the time of a local DAG run that is not training.

    .venv/bin/python -m benchmarks.orchestration --scratch /tmp/bench

Runs ``tweetbot_training`` end to end the way ``make demo`` does (``airflow dags
test``, SQLite metadata and MLflow store, every step a local process) with 4 and
then 16 one-epoch trials of one small fixed model, and a one-epoch base model,
each run in a fresh home. Training time is what the runs' epochs took (MLflow's
``epoch_seconds`` of every trial and of the base model: training and
validation); the rest of the DAG run's span is overhead: Airflow's task
bookkeeping, the step processes' start-up, MLflow calls, reading splits,
building the model, checkpoints, evaluating the test split and registering.

Then one trial's start-up, broken down: starting the interpreter, importing
Keras (and TensorFlow), importing MLflow, importing all a trial imports, each
the median of ``--repeats`` fresh processes; what a trial task spent beyond
that and its epoch is the rest (Airflow starting the task, MLflow lookups and
logging, the model built, checkpoints). Python modules load from the bytecode
``make setup`` compiles (``uv sync --compile-bytecode``); without it, where
``PYTHONDONTWRITEBYTECODE`` is set, every process compiles them again.

The target is about runs whose trials train a minute or more: their overhead
fraction is computed from the measured per-trial and fixed overheads as
``(N o + F) / (N (60 + o) + F)`` (N trials of 60 s, o per trial, F the rest;
the base model's training left out, which only makes the fraction larger),
with the trial length at which it falls to 10 %.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from benchmarks.common import REPO, emit, make_splits, median, section_parser
from training.demo import airflow, airflow_env, set_up_airflow

# One model; only the dropout rate varies, so that every trial is a new point of
# the space at the same cost.
MODEL = {"batch_size": 64, "seq_len": 32, "rnn_size": 128, "embedding_size": 32,
         "num_layers": 1, "optimizer": "adam", "learning_rate": 0.003, "clip_norm": 5.0,
         "drop_rate": {"uniform": [0.0, 0.3]}}
RUN_TIMEOUT = 3600  # seconds; a DAG run stuck on a failed task fails the section
TRIAL_COUNTS = (4, 16)
PARALLEL = 4  # `dags test` runs the mapped trials one after the other whatever this is
TARGET_TRIAL_SECONDS = 60.0
ALL_A_TRIAL_IMPORTS = "import training.trial and the fit loop (all a trial imports)"
START_UP = {
    "interpreter": "pass",
    "import keras (TensorFlow with it)": "import keras",
    "import mlflow": "import mlflow",
    ALL_A_TRIAL_IMPORTS: "import training.trial, training.model.fit, training.model.plots",
}


def bench_env(home: Path) -> dict[str, str]:
    # The splits live next to the homes, under the data root the DAG accepts.
    return {**airflow_env(home), "TWEETBOT_DATA_ROOT": str(home.parent),
            "TF_CPP_MIN_LOG_LEVEL": "3"}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


GATE = ("approve_promotion", "promote")


def task_seconds(airflow_db: Path) -> tuple[float, list[dict]]:
    """The DAG run's span, and each task instance's duration, from Airflow's DB."""
    with sqlite3.connect(airflow_db) as db:
        start, end = db.execute("SELECT start_date, end_date FROM dag_run").fetchone()
        rows = db.execute("SELECT task_id, map_index, start_date, end_date, state "
                          "FROM task_instance WHERE start_date IS NOT NULL").fetchall()
    tasks = [{"task_id": task_id, "map_index": map_index, "state": state,
              "seconds": (_when(ended) - _when(started)).total_seconds()}
             for task_id, map_index, started, ended, state in rows]
    return (_when(end) - _when(start)).total_seconds(), tasks


def epoch_seconds(mlflow_db: Path) -> dict[str, float]:
    """Seconds of epochs per kind of run (trial, train), from the MLflow store."""
    from mlflow import MlflowClient

    from training.tracking import tags

    client = MlflowClient(tracking_uri=f"sqlite:///{mlflow_db}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    spent: dict[str, float] = {}
    for run in client.search_runs(experiments, max_results=1000):
        kind = run.data.tags.get(tags.KIND, "")
        history = client.get_metric_history(run.info.run_id, "epoch_seconds")
        spent[kind] = spent.get(kind, 0.0) + sum(m.value for m in history)
    return spent


def dag_run(num_trials: int, splits: Path, scratch: Path, template_db: Path) -> dict:
    """One ``tweetbot_training`` run in a fresh home; its time, split up."""
    home = scratch / f"run-{num_trials}"
    shutil.rmtree(home, ignore_errors=True)
    (home / "airflow").mkdir(parents=True)
    shutil.copy(template_db, home / "airflow" / "airflow.db")
    env = bench_env(home)
    conf = {"data_location": str(splits), "num_trials": num_trials,
            "parallel": min(PARALLEL, num_trials), "max_epochs": 1, "final_epochs": 1,
            "pruning": "none", "warm_start": 0, "space_overrides": MODEL}
    log = home / "dags-test.log"
    started = time.perf_counter()
    airflow(["dags", "test", "tweetbot_training", "-c", json.dumps(conf)], env, log,
            timeout=RUN_TIMEOUT)
    command_seconds = time.perf_counter() - started
    span, tasks = task_seconds(home / "airflow" / "airflow.db")
    # The promotion gate skips itself unless the run requires approval.
    failed = [t["task_id"] for t in tasks if t["state"] != "success"
              and not (t["task_id"] in GATE and t["state"] == "skipped")]
    if failed:
        raise SystemExit(f"error: tasks {failed} did not succeed; see {log}")
    spent = epoch_seconds(home / "mlflow.db")
    trials = [t for t in tasks if t["task_id"] == "trial"]
    trial_task_seconds = sum(t["seconds"] for t in trials)
    training = spent.get("trial", 0.0) + spent.get("train", 0.0)
    per_task: dict[str, float] = {}
    for t in tasks:
        name = "trial (each)" if t in trials else t["task_id"]
        per_task[name] = per_task.get(name, 0.0) + t["seconds"]
    per_task["trial (each)"] /= len(trials)
    return {
        "num_trials": num_trials, "command_seconds": command_seconds,
        "dag_run_seconds": span, "training_seconds": training,
        "trial_epoch_seconds": spent.get("trial", 0.0),
        "base_model_epoch_seconds": spent.get("train", 0.0),
        "overhead_seconds": span - training,
        "overhead_fraction": (span - training) / span,
        "per_trial_overhead_seconds":
            (trial_task_seconds - spent.get("trial", 0.0)) / len(trials),
        "fixed_overhead_seconds":
            span - trial_task_seconds - spent.get("train", 0.0),
        "task_seconds": per_task,
    }


def start_up(repeats: int) -> dict[str, float]:
    """Median seconds of a fresh process doing each of START_UP, the interpreter's
    own start taken off the imports."""
    measured = {}
    for name, code in START_UP.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            times.append(time.perf_counter() - started)
        measured[name] = median(times)
    base = measured["interpreter"]
    return {name: (value if name == "interpreter" else value - base)
            for name, value in measured.items()}


def main() -> None:
    args = section_parser(__doc__).parse_args()
    splits = make_splits(args.corpus, args.scratch / "splits",
                         20_000 if args.quick else 400_000)
    template = args.scratch / "template"
    template.mkdir(parents=True, exist_ok=True)
    set_up_airflow(bench_env(template), template / "migrate.log", trial_slots=PARALLEL)
    counts = (2,) if args.quick else TRIAL_COUNTS
    runs = [dag_run(n, splits, args.scratch, template / "airflow" / "airflow.db")
            for n in counts]
    imports = start_up(1 if args.quick else args.repeats)
    largest = runs[-1]
    o, f = largest["per_trial_overhead_seconds"], largest["fixed_overhead_seconds"]
    projected = {
        n: (n * o + f) / (n * (TARGET_TRIAL_SECONDS + o) + f) for n in TRIAL_COUNTS}
    # (N o + F) / (N (T + o) + F) <= 10 %  <=>  T >= 9 (o + F / N)
    breakeven = {n: 9 * (o + f / n) for n in TRIAL_COUNTS}
    emit({"model": MODEL, "train_bytes": (splits / "train.txt").stat().st_size,
          "runs": runs, "start_up_seconds": imports,
          "trial_rest_seconds": o - imports[ALL_A_TRIAL_IMPORTS] - imports["interpreter"],
          "projected_trial_seconds": TARGET_TRIAL_SECONDS,
          "projected_overhead_fraction": projected,
          "trial_seconds_for_ten_percent": breakeven})


if __name__ == "__main__":
    main()
