"""The README's main job: both DAGs end to end on this machine, embedded defaults.

    python -m training.demo [--force]

Writes the sample corpus, runs ``tweetbot_prepare_splits`` then
``tweetbot_training`` with ``airflow dags test`` (Airflow's metadata in
``$TWEETBOT_HOME/airflow``, MLflow in ``$TWEETBOT_HOME/mlflow.db``, trials as
local processes), then prints the search table, the champion and a few
generated tweets. Run it again and the training DAG stops at validate_splits,
because the splits did not change; ``--force`` retrains.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from training.core import settings
from training.pipeline.run_config import TRIALS_POOL
from training.tuning.space import DEFAULT_SPACE_FILE

REPO = Path(__file__).resolve().parents[1]
CPU_SPACE = DEFAULT_SPACE_FILE.with_name("search_space_cpu.yaml")


def airflow_env(home: Path) -> dict[str, str]:
    """Airflow on embedded defaults: metadata in ``home/airflow``, this checkout's
    DAGs and plugins, tweetbot's state in ``home``."""
    return {**os.environ, "TWEETBOT_HOME": str(home),
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # Airflow 3.3's `dags test` fails a successful run of a DAG with a
            # deadline alert (it reads the alerts as database ids); the demo
            # runs in minutes and needs none.
            "TWEETBOT_DEADLINE": "0",
            "TF_CPP_MIN_LOG_LEVEL": "2"}


def airflow(arguments: list[str], env: dict, log: Path, timeout: float | None = None) -> None:
    """``airflow <arguments>``, its output appended to ``log``; one line if it fails."""
    with open(log, "a") as handle:
        try:
            completed = subprocess.run([sys.executable, "-m", "airflow", *arguments],
                                       env=env, stdout=handle, stderr=subprocess.STDOUT,
                                       cwd=REPO, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SystemExit(f"error: airflow {' '.join(arguments[:3])} took over "
                             f"{timeout:.0f} s; see {log}") from None
    if completed.returncode != 0:
        raise SystemExit(f"error: airflow {' '.join(arguments[:3])} failed; see {log}")


def set_up_airflow(env: dict, log: Path, trial_slots: int) -> None:
    """Migrate the metadata DB and create the trials pool the DAG's trials need."""
    airflow(["db", "migrate"], env, log)
    airflow(["pools", "set", TRIALS_POOL, str(trial_slots), "trial slots (the GPU quota)"],
            env, log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.demo", description=__doc__)
    parser.add_argument("--force", action="store_true", help="retrain even if unchanged")
    args = parser.parse_args(argv)

    from training.data.sample_corpus import write_sample_corpus

    home = settings.state_dir()
    home.mkdir(parents=True, exist_ok=True)
    env = airflow_env(home)
    log = home / "demo.log"
    log.write_text("")
    raw = write_sample_corpus(home / "raw" / "tweets.csv", num_tweets=3000, seed=0)
    print(f"sample corpus: {raw}; Airflow and task output: {log}")
    set_up_airflow(env, log, trial_slots=2)
    print("running tweetbot_prepare_splits ...", flush=True)
    airflow(["dags", "test", "tweetbot_prepare_splits", "-c",
              json.dumps({"raw_location": str(raw)})], env, log)
    conf = {"num_trials": 4, "parallel": 2, "max_epochs": 2, "final_epochs": 8,
            "force": args.force, "space_overrides": yaml.safe_load(CPU_SPACE.read_text())}
    print("running tweetbot_training (4 trials, 2 at a time, then the base model) ...",
          flush=True)
    airflow(["dags", "test", "tweetbot_training", "-c", json.dumps(conf)], env, log)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before TensorFlow loads below
    report()
    return 0


def report() -> None:
    from training.model.generator import GenerationRequest
    from training.tracking import pyfunc, registry, runs, tags
    from training.tracking.search_store import SearchStore
    from training.tuning.report import format_table

    champion = registry.champion()
    if champion is None:
        raise SystemExit("error: no champion was registered; see the log")
    search_run_id = champion.tags.get(tags.SEARCH_RUN_ID)
    if search_run_id is None:  # an imported model (training.import_h5) won
        origin = f"imported from {champion.tags.get(tags.SOURCE_FILE)}, no search"
    else:
        search_tags = runs.tags_of(search_run_id)
        search_id = search_tags[tags.SEARCH_ID]
        print(f"\nsearch {search_id}:")
        print(format_table(SearchStore(search_id).trials()))
        print(f"chosen: {search_tags.get(tags.SELECTION)}")
        origin = f"run {champion.run_id}"
    print(f"\nchampion: {registry.MODEL_NAME} version {champion.version} "
          f"(test_loss {champion.tags.get(tags.TEST_LOSS)}, {origin})")
    uri = registry.model_uri(registry.CHAMPION)
    print(f"generated with {uri}:")
    request = GenerationRequest(prompt="", n=5, temperature=0.7, seed=7)
    for tweet in pyfunc.generate(uri, request):
        print(f"  {tweet}")


if __name__ == "__main__":
    sys.exit(main())
