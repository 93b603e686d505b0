"""A ``tweetbot_training`` run's parameters: the trigger form, and their validation.

Each parameter is a field of one of ``training.core.config``'s settings; the DAG's
trigger form is their JSON schema, and ``RunConfig.from_params`` validates a
run's parameters once, in ``validate_splits``, before anything else runs. The
validated config then travels with the run (``RunInputs.config``), so later
tasks neither re-validate nor re-read the search-space file.

The defaults are the code's, except where a deployment gives a file of its own in
``TWEETBOT_RUN_DEFAULTS`` (YAML; any run parameters): scheduled and
asset-triggered runs, which nobody fills a form for, get those. A CPU-only
install, say, sets the CPU search space and small budgets there. The file is
checked when the DAG is parsed; a bad one is an import error naming it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from training.core import settings
from training.core.config import (
    FitSettings,
    Frozen,
    PipelineSettings,
    PruningSettings,
    SearchSettings,
    SelectionPolicy,
    json_schema,
)
from training.core.errors import InputError
from training.tuning.space import SearchSpace

# The DAG's mapped task running the trials, one instance per trial number.
TRIAL_TASK = "trial"
# The Airflow pool every trial task runs in, across all runs: its slots are the
# number of trials (GPUs) in use at once.
TRIALS_POOL = "tweetbot_trials"
# The Celery queue of the tasks that train (trials, base model, evaluation) when
# they run as processes on a worker: only GPU machines serve it.
GPU_QUEUE = "tweetbot_gpu"
# The run parameters: every field of these settings, or the fields named.
PARAM_FIELDS = {
    PipelineSettings: None,
    SearchSettings: ("num_trials", "parallel", "algorithm", "n_startup_jobs", "floor",
                     "portfolio", "warm_start", "past_trials"),
    SelectionPolicy: None,
    PruningSettings: ("pruning",),
}
DAG_DEFAULTS = {"warm_start": 3}  # the nightly run seeds from the champion and the best
# How the trigger form groups the parameters.
SECTIONS = {
    "Data": ("data_location", "force"),
    "Search": ("num_trials", "parallel", "trial_chars", "max_epochs", "final_epochs",
               "max_train_chars",
               "algorithm",
               "n_startup_jobs", "floor", "portfolio", "warm_start", "past_trials",
               "pruning"),
    "Selection": ("policy", "tolerance", "weight", "promotion_rule", "promotion_margin",
                  "require_approval"),
    "Search space": ("space_overrides",),
}


def params_schema() -> dict[str, dict]:
    """JSON schema of every run parameter, for the DAG's trigger form: the
    defaults are ``run_defaults()``, each field titled and in its section."""
    fields = {}
    for cls, names in PARAM_FIELDS.items():
        fields.update(json_schema(cls, names))
    for name, value in run_defaults().items():
        fields[name]["default"] = value
    unsorted = set(fields) - {name for names in SECTIONS.values() for name in names}
    if unsorted:
        raise RuntimeError(f"run parameters in no section of the form: {sorted(unsorted)}")
    # The form shows sections in the order of their first field.
    return {name: {**fields[name], "section": section}
            for section, names in SECTIONS.items() for name in names}


def run_defaults() -> dict[str, Any]:
    """The run parameters that differ from the code's defaults: the DAG's own,
    then the deployment's file (``TWEETBOT_RUN_DEFAULTS``), checked."""
    path = os.environ.get("TWEETBOT_RUN_DEFAULTS")
    if not path:
        return dict(DAG_DEFAULTS)
    try:
        values = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0]
        raise InputError(f"TWEETBOT_RUN_DEFAULTS {path}: cannot read it ({first})") from None
    if not isinstance(values, dict):
        raise InputError(f"TWEETBOT_RUN_DEFAULTS {path}: expected a mapping of run parameters")
    defaults = {**DAG_DEFAULTS, **values}
    try:
        RunConfig.validate(defaults)
    except InputError as error:
        raise InputError(f"TWEETBOT_RUN_DEFAULTS {path}: {error}") from None
    return defaults


def search_id_for(dag_run_id: str) -> str:
    """One search per DAG run; a cleared and re-run DAG run continues it."""
    return "".join(c if c.isalnum() or c in "-_.:+" else "_" for c in dag_run_id)


class RunConfig(Frozen):
    """A DAG run's parameters, validated once."""

    pipeline: PipelineSettings
    search: SearchSettings
    policy: SelectionPolicy
    pruning: PruningSettings
    space: SearchSpace

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RunConfig:
        """A run's parameters over the run defaults, validated."""
        return cls.validate({**run_defaults(), **params})

    @classmethod
    def validate(cls, params: Mapping[str, Any]) -> RunConfig:
        known = {name for cls_, names in PARAM_FIELDS.items()
                 for name in (names or cls_.model_fields)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise InputError(f"unknown run parameter {unknown[0]!r}")

        def pick(config_cls):
            return config_cls.from_mapping({k: v for k, v in params.items()
                                            if k in config_cls.model_fields})

        pipeline, search = pick(PipelineSettings), pick(SearchSettings)
        space = SearchSpace.load(overrides=pipeline.space_overrides)
        return cls(pipeline=pipeline, search=search, policy=pick(SelectionPolicy),
                   pruning=pick(PruningSettings), space=space)

    def data_location(self, published: str | None = None) -> str:
        """This run's splits: the parameter, else where the triggering splits
        update published them, else the deployment's default location."""
        from training.data.storage import checked_location

        for location, parameter in ((self.pipeline.data_location, "data_location"),
                                    (published, "the triggering splits update's location"),
                                    (settings.splits_location(), "TWEETBOT_SPLITS")):
            if location:
                return checked_location(location, parameter)

    @property
    def trial_fit(self) -> FitSettings:
        return FitSettings(num_epochs=self.pipeline.max_epochs,
                           max_train_chars=self.pipeline.max_train_chars,
                           budget_chars=self.pipeline.trial_chars)

    @property
    def base_model_fit(self) -> FitSettings:
        """Trained to convergence: early stopping decides, ``final_epochs`` caps."""
        return FitSettings(num_epochs=self.pipeline.final_epochs, reduce_lr_on_plateau=True)
