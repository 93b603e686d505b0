"""Slot use of a search under Airflow's own scheduler: how busy the trial slots were.

    .venv/bin/python -m benchmarks.slot_use --scratch /tmp/bench [--corpus PATH]

Starts the project's stack (``training.stack.native``: PostgreSQL, S3, the MLflow
server and Airflow's services, the way ``make stack-up`` does) once per case, with
the ``tweetbot_trials`` pool at ``parallel`` slots, publishes the corpus's splits to
its S3 bucket, and runs ``tweetbot_training`` through the REST API: ``NUM_TRIALS``
trials of the default search space, at most ``MAX_EPOCHS`` epochs each, pruning on,
no warm start, the base model capped at ``FINAL_EPOCHS``. The cases: the
LocalExecutor with ``parallel`` 2 and 4, and the CeleryExecutor with two GPU-queue
workers (one trial each) and ``parallel`` 2. Every case's run has the same id, so
its search has the same sampler seed, whatever the code.

From Airflow's task instances (REST):

    slot use = sum of trial task durations / (slots x (last trial end - first trial start))

with slots = ``parallel``; and the search's wall-clock, from the first trial's start
to ``select``'s start. From MLflow: each trial task's time from its start to its
first epoch's start (the first epoch's end, less its ``epoch_seconds``), and the
champion's test loss (``evaluate``'s result).

``--quick`` runs one small LocalExecutor case on a cut of the splits (the test
suite checks that the section runs); ``--cases local:2`` picks cases.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from pathlib import Path

from benchmarks.common import emit, make_splits, section_parser

NUM_TRIALS, MAX_EPOCHS, FINAL_EPOCHS = 12, 3, 3
CASES = ("local:2", "local:4", "celery:2")
RUN_ID = "slot-use"
RUN_TIMEOUT = 7200


def main() -> None:
    parser = section_parser(__doc__)
    parser.add_argument("--cases", nargs="*", default=list(CASES),
                        help="executor:parallel, executor local or celery")
    args = parser.parse_args()
    splits = make_splits(args.corpus, args.scratch / "splits",
                         20_000 if args.quick else None)
    cases = ["local:2"] if args.quick else args.cases
    trials = 3 if args.quick else NUM_TRIALS
    results = [case_run(case, splits, args.scratch / case.replace(":", "-"), trials,
                        1 if args.quick else MAX_EPOCHS) for case in cases]
    emit({"num_trials": trials, "max_epochs": 1 if args.quick else MAX_EPOCHS,
          "final_epochs": FINAL_EPOCHS, "train_bytes": (splits / "train.txt").stat().st_size,
          "cases": results})


def case_run(case: str, splits: Path, home: Path, num_trials: int, max_epochs: int) -> dict:
    from tests.stack.stack_clients import TRAINING, StackClients, mlflow_on, started_stack

    executor, parallel = case.split(":")
    parallel = int(parallel)
    home.mkdir(parents=True, exist_ok=True)
    with started_stack(home, trial_slots=parallel, parallelism=parallel + 2,
                       **_executor(executor, parallel)) as stack:
        clients = StackClients(stack)
        for path in splits.glob("*.txt"):
            clients.s3().upload_file(str(path), clients.bucket, f"splits/{path.name}")
        airflow = clients.airflow
        airflow.unpause(TRAINING)
        airflow.trigger(TRAINING, {
            "data_location": f"s3://{clients.bucket}/splits", "num_trials": num_trials,
            "parallel": parallel, "max_epochs": max_epochs, "final_epochs": FINAL_EPOCHS,
            "warm_start": 0, "force": True, "space_overrides": {}}, run_id=RUN_ID)
        finished = airflow.wait_for_run(TRAINING, RUN_ID, timeout=RUN_TIMEOUT)
        instances = airflow.task_instances(TRAINING, RUN_ID)
        if finished["state"] != "success":
            raise SystemExit(f"error: {case}: the run ended {finished['state']}: "
                             f"{ {ti['task_id']: ti['state'] for ti in instances} }")
        with mlflow_on(clients) as client:
            to_first_epoch = [seconds for ti in _trials(instances) if ti["state"] == "success"
                              if (seconds := _to_first_epoch(client, airflow, ti)) is not None]
        test_loss = airflow.xcom(TRAINING, RUN_ID, "evaluate")["test_loss"]
    return {"case": case, "executor": executor, "parallel": parallel,
            **slot_use(instances, parallel), "test_loss": test_loss,
            "to_first_epoch_seconds": statistics.median(to_first_epoch),
            "to_first_epoch_max_seconds": max(to_first_epoch)}


def _executor(executor: str, parallel: int) -> dict:
    if executor == "local":
        return {}
    from training.pipeline.run_config import GPU_QUEUE
    from training.stack.definition import Worker

    workers = (Worker(name="cpu", queues=("default",), concurrency=1),
               *(Worker(name=f"gpu-{n}", queues=(GPU_QUEUE,))
                 for n in range(1, parallel + 1)))
    return {"executor": "CeleryExecutor", "workers": workers}


def _trials(instances: list[dict]) -> list[dict]:
    """The trial task instances: ``trial`` (one task), or the rounds' ``trial_r*``."""
    return [ti for ti in instances if ti["task_id"] == "trial"
            or ti["task_id"].startswith("trial_r")]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def slot_use(instances: list[dict], slots: int) -> dict:
    trials = [ti for ti in _trials(instances) if ti["start_date"] and ti["end_date"]]
    busy = sum((_when(ti["end_date"]) - _when(ti["start_date"])).total_seconds()
               for ti in trials)
    first = min(_when(ti["start_date"]) for ti in trials)
    last = max(_when(ti["end_date"]) for ti in trials)
    span = (last - first).total_seconds()
    select = next(ti for ti in instances if ti["task_id"] == "select")
    suggest = [ti for ti in instances if ti["task_id"].startswith("suggest_r")
               and ti["start_date"] and ti["end_date"]]
    return {"trial_tasks": len(trials), "trial_task_seconds": busy, "span_seconds": span,
            "slot_use": busy / (slots * span),
            "search_wall_seconds": (_when(select["start_date"]) - first).total_seconds(),
            "suggest_task_seconds": sum((_when(ti["end_date"]) - _when(ti["start_date"]))
                                        .total_seconds() for ti in suggest)}


def _to_first_epoch(client, airflow, instance: dict) -> float | None:
    """Seconds from the trial task's start to its first epoch's start; None for a
    trial that trained no epoch (it failed)."""
    from tests.stack.stack_clients import TRAINING

    result = airflow.xcom(TRAINING, RUN_ID, instance["task_id"], instance["map_index"])
    history = sorted(client.get_metric_history(result["run_id"], "epoch_seconds"),
                     key=lambda metric: metric.step)
    if not history:
        return None
    first = history[0]
    started = first.timestamp / 1000 - first.value
    return started - _when(instance["start_date"]).timestamp()


if __name__ == "__main__":
    main()
