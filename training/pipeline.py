"""The steps of one ``tweetbot_training`` DAG run, as plain functions.

The DAG file only wires these together; each step takes and returns small,
JSON-friendly values (XCom carries ids and summaries, MLflow holds the rest),
and can run again after a crash without duplicating anything. No Airflow here.

    validate_splits -> start_search -> (suggest_round -> trials) x MAX_ROUNDS
      -> select -> train base model -> evaluate -> register

Airflow fixes a DAG's shape when it parses the file, so the search runs in at
most ``MAX_ROUNDS`` rounds. Round r asks for ``min(parallel, trials left)`` new
trials, conditioned on every finished one; a round with nothing left maps to no
task at all. Hence a run needs ``num_trials <= MAX_ROUNDS * parallel``, checked
before anything starts.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from training import settings, storage
from training.config import (FitSettings, HyperParams, PipelineSettings, PruningSettings,
                             SearchSettings, SelectionPolicy, json_schema, to_arguments)
from training.data import TEST, TRAIN, VALIDATE, check_splits
from training.errors import InputError
from training.space import SearchSpace
from training.vocab import Vocabulary

MAX_ROUNDS = 6
POD_RESULT_PATH = "/airflow/xcom/return.json"
POD_CHECKPOINT_ROOT = "/checkpoints"
# The DAG run parameters, each declared once in training.config.
PARAM_FIELDS = {
    PipelineSettings: None,
    SearchSettings: ("num_trials", "parallel", "algorithm", "n_startup_jobs", "warm_start"),
    SelectionPolicy: None,
    PruningSettings: ("pruning",),
}
DAG_DEFAULTS = {"warm_start": 3}  # the nightly run seeds from the champion and the best


def params_schema() -> dict[str, dict]:
    """JSON schema of every run parameter, for the DAG's trigger form."""
    schema = {}
    for cls, names in PARAM_FIELDS.items():
        schema.update(json_schema(cls, names))
    for name, value in DAG_DEFAULTS.items():
        schema[name]["default"] = value
    return schema


@dataclass(frozen=True)
class RunConfig:
    """A DAG run's parameters, validated once."""

    pipeline: PipelineSettings
    search: SearchSettings
    policy: SelectionPolicy
    pruning: PruningSettings
    space: SearchSpace

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "RunConfig":
        known = set(params_schema())
        unknown = sorted(set(params) - known)
        if unknown:
            raise InputError(f"unknown run parameter {unknown[0]!r}")

        def pick(config_cls):
            names = {f for f in config_cls.__dataclass_fields__}
            return config_cls.from_mapping({k: v for k, v in params.items() if k in names})

        pipeline = pick(PipelineSettings)
        search = pick(SearchSettings)
        if search.num_trials > MAX_ROUNDS * search.parallel:
            raise InputError(f"num_trials: {search.num_trials} needs more than {MAX_ROUNDS} "
                             f"rounds of {search.parallel}; raise parallel to at least "
                             f"{-(-search.num_trials // MAX_ROUNDS)}")
        space = SearchSpace.load(overrides=pipeline.space_overrides)
        return cls(pipeline, search, pick(SelectionPolicy), pick(PruningSettings), space)

    @property
    def data_location(self) -> str:
        return self.pipeline.data_location or settings.splits_location()

    @property
    def trial_fit(self) -> FitSettings:
        return FitSettings(num_epochs=self.pipeline.max_epochs)


def search_id_for(dag_run_id: str) -> str:
    """One search per DAG run; a cleared and re-run DAG run continues it."""
    return "".join(c if c.isalnum() or c in "-_.:+" else "_" for c in dag_run_id)


# --- validate_splits --------------------------------------------------------------

def validate_splits(params: Mapping[str, Any], dag_run_id: str) -> dict | None:
    """Check the splits and hash them; None when nothing changed since the
    champion was trained (and the run is not forced): the run stops there."""
    from training import registry, tracking

    config = RunConfig.from_params(params)
    tracking.configure()  # the champion lives in the configured store, not a default one
    location = config.data_location
    local = storage.local_splits(location)
    smallest = HyperParams(batch_size=_smallest(config.space, "batch_size"),
                           seq_len=_smallest(config.space, "seq_len"))
    infos = check_splits(local, smallest, Vocabulary.default(), names=(TRAIN, VALIDATE, TEST))
    data_sha256 = hashlib.sha256(json.dumps(
        {name: info.sha256 for name, info in infos.items()}, sort_keys=True).encode()).hexdigest()
    champion = registry.version_by_alias(registry.CHAMPION)
    if (champion is not None and not config.pipeline.force
            and champion.tags.get(registry.TAG_DATA_SHA256) == data_sha256):
        print(f"splits unchanged since champion v{champion.version} was trained "
              f"(sha256 {data_sha256[:12]}); nothing to do. Trigger with force=true to "
              f"retrain anyway.")
        return None
    return {"data_location": location, "data_sha256": data_sha256,
            "search_id": search_id_for(dag_run_id),
            "bytes": {name: info.num_bytes for name, info in infos.items()}}


def _smallest(space: SearchSpace, name: str) -> int:
    for dimension in space.dimensions:
        if dimension.name == name:
            return min(dimension.values)
    return space.fixed.get(name, getattr(HyperParams(), name))


# --- the search -------------------------------------------------------------------

def start_search(splits: dict, params: Mapping[str, Any]) -> dict:
    from training.search_store import SearchStore

    config = RunConfig.from_params(params)
    store = SearchStore(splits["search_id"])
    run_id = store.open_parent({"space": json.dumps(config.space.describe()),
                                **config.search.to_dict(),
                                "max_epochs": config.pipeline.max_epochs,
                                "data_location": splits["data_location"],
                                "data_sha256": splits["data_sha256"]})
    return {"search_id": store.search_id, "run_id": run_id}


def suggest_round(splits: dict, params: Mapping[str, Any], executor: str) -> list[dict]:
    """This round's trials: any suggested earlier but never started, then new
    ones, ``parallel`` at most. Each is ``{"arguments", "label"}``."""
    from training.search import suggest_trials
    from training.search_store import PENDING, SearchStore

    config = RunConfig.from_params(params)
    store = SearchStore(splits["search_id"])
    _fail_abandoned(store)
    waiting = [(r.trial_num, r.hyperparams) for r in store.trials() if r.status == PENDING]
    waiting = waiting[:config.search.parallel]
    fresh = suggest_trials(store, config.space, config.search,
                           config.search.parallel - len(waiting))
    return [_trial_task(splits, config, executor, num, params_)
            for num, params_ in waiting + fresh]


def _fail_abandoned(store) -> None:
    """A trial that started but whose task ended without a result (a pod
    killed again and again, a worker lost) is failed rather than retried forever."""
    from training.search_store import RUNNING

    for record in store.trials():
        if record.status == RUNNING:
            store.mark_failed(record.trial_num, "its task ended without reporting a result")


def _trial_task(splits, config: RunConfig, executor: str, trial_num: int,
                hyperparams: HyperParams) -> dict:
    from training.trial import TrialSpec

    search_id = splits["search_id"]
    result_path = (POD_RESULT_PATH if executor == "kubernetes" else str(
        settings.state_dir() / "searches" / search_id / "results" / f"trial-{trial_num:03d}.json"))
    spec = TrialSpec(search_id=search_id, trial_num=trial_num,
                     data_dir=splits["data_location"], hyperparams=hyperparams,
                     result_path=Path(result_path), fit=config.trial_fit,
                     pruning=config.pruning)
    shown = ", ".join(f"{k}={v}" for k, v in hyperparams.to_dict().items()
                      if v is not None and k in config.space.names)
    return {"arguments": spec.arguments(), "label": f"trial {trial_num}: {shown}"}


def run_trial_process(arguments: list[str]) -> dict:
    """Run the trial command as a local process; its result, or a failure."""
    from training.search_store import SearchStore
    from training.trial import build_parser, spec_from_args

    spec = spec_from_args(build_parser().parse_args(arguments))
    spec.result_path.unlink(missing_ok=True)
    status = _run_module("training.trial", arguments)
    if spec.result_path.exists():
        return json.loads(spec.result_path.read_text())
    reason = f"trial process exited with status {status} without a result"
    SearchStore(spec.search_id).mark_failed(spec.trial_num, reason)
    return {"search_id": spec.search_id, "trial_num": spec.trial_num, "status": "failed",
            "failure_reason": reason}


def select(splits: dict, params: Mapping[str, Any]) -> dict:
    from training.search import finish_search
    from training.search_store import SearchStore

    config = RunConfig.from_params(params)
    store = SearchStore(splits["search_id"])
    _fail_abandoned(store)
    selection = finish_search(store, config.policy, config.pipeline.max_epochs)
    chosen = selection.trial
    search_run_id = store.find_parent().info.run_id
    # run_id is what the Airflow UI links to: the search, where the table and plot are.
    return {"trial_num": chosen.trial_num, "trial_run_id": chosen.run_id,
            "run_id": search_run_id, "search_run_id": search_run_id,
            "hyperparams": chosen.hyperparams.to_dict(), "reason": selection.reason,
            "val_loss": chosen.val_loss}


# --- the base model ---------------------------------------------------------------

def base_model_arguments(splits: dict, chosen: dict, params: Mapping[str, Any],
                         dag_run_id: str, executor: str) -> list[str]:
    """``python -m training.train`` arguments: chosen params, full train split,
    resumable from its checkpoint when the task is retried."""
    from training.registry import TAG_DATA_SHA256
    config = RunConfig.from_params(params)
    search_id = splits["search_id"]
    if executor == "kubernetes":
        checkpoint_dir = f"{POD_CHECKPOINT_ROOT}/{search_id}/base"
        result_path = POD_RESULT_PATH
    else:
        folder = settings.state_dir() / "runs" / search_id
        checkpoint_dir, result_path = str(folder / "base"), str(folder / "base.json")
    tags = {"tweetbot.dag_run_id": dag_run_id, "tweetbot.search_id": search_id,
            "tweetbot.search_run_id": chosen["search_run_id"],
            "tweetbot.chosen_trial_run_id": chosen["trial_run_id"],
            TAG_DATA_SHA256: splits["data_sha256"]}
    arguments = ["--checkpoint-dir", checkpoint_dir, "--data-dir", splits["data_location"],
                 "--resume", "--log-model", "--run-name", f"base-{search_id}",
                 "--result-path", result_path,
                 *to_arguments(FitSettings(num_epochs=config.pipeline.final_epochs)),
                 *to_arguments(HyperParams.from_mapping(chosen["hyperparams"]))]
    for key, value in tags.items():
        arguments += ["--tag", f"{key}={value}"]
    return arguments


def evaluate_arguments(splits: dict, trained: dict, executor: str) -> list[str]:
    result_path = (POD_RESULT_PATH if executor == "kubernetes" else str(
        settings.state_dir() / "runs" / splits["search_id"] / "evaluation.json"))
    return ["--run-id", trained["run_id"], "--data-dir", splits["data_location"],
            "--result-path", result_path]


def run_module_process(module: str, arguments: list[str]) -> dict:
    """Run ``python -m module`` locally; its JSON result (``--result-path``)."""
    status = _run_module(module, arguments)
    if status != 0:
        raise RuntimeError(f"python -m {module} exited with status {status}")
    return json.loads(Path(arguments[arguments.index("--result-path") + 1]).read_text())


def _run_module(module: str, arguments: list[str]) -> int:
    """Run ``python -m module``; its output goes to the task log line by line,
    so a long run can be watched; returns the exit status."""
    process = subprocess.Popen([sys.executable, "-m", module, *arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        print(line, end="")
    return process.wait()


def register(splits: dict, chosen: dict, trained: dict, evaluation: dict,
             dag_run_id: str) -> dict:
    """New version with alias ``candidate``; ``champion`` only if it is better."""
    from training import registry, tracking

    tracking.configure()
    if not trained.get("model_uri"):
        raise RuntimeError(f"training run {trained['run_id']} logged no model")
    tags = {"tweetbot.dag_run_id": dag_run_id, registry.TAG_DATA_SHA256: splits["data_sha256"],
            "tweetbot.search_run_id": chosen["search_run_id"],
            registry.TAG_TEST_LOSS: f"{evaluation['test_loss']:.6f}"}
    version = registry.register(trained["run_id"], trained["model_uri"], tags)
    promoted = registry.promote_if_better(version, evaluation["test_loss"],
                                          evaluation["champion_test_loss"])
    verdict = (f"v{version.version} is the new champion" if promoted else
               f"v{version.version} stays candidate; champion v"
               f"{evaluation['champion_version']} is better on the test split")
    print(verdict)
    return {"version": version.version, "champion": promoted, "run_id": trained["run_id"],
            "test_loss": evaluation["test_loss"], "verdict": verdict}


# --- tweetbot_prepare_splits ------------------------------------------------------

SPLITS_ASSET_NAME = "tweetbot_splits"


def prepare_splits(raw_location: str, splits_location: str) -> dict:
    """Split a raw tweet file (folder path or s3:// key) and publish the splits."""
    import os
    import tempfile

    from training.split import split_file

    raw_location = raw_location or os.environ.get("TWEETBOT_RAW_TWEETS", "")
    if not raw_location:
        raise InputError("raw_location: give the raw tweet file (local path or s3:// key) "
                         "or set TWEETBOT_RAW_TWEETS")
    location = splits_location or settings.splits_location()
    with tempfile.TemporaryDirectory() as scratch:
        report = split_file(storage.fetch_raw(raw_location), Path(scratch) / "splits")
        storage.publish_splits(Path(scratch) / "splits", location)
    return {"location": location, "source": raw_location, "tweets": report.tweets,
            "duplicates_dropped": report.duplicates_dropped,
            "unknown_rate": round(report.unknown_rate, 6)}
