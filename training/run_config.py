"""A ``tweetbot_training`` run's parameters: the trigger form, and their validation.

Each parameter is a field of one of ``training.config``'s settings; the DAG's
trigger form is their JSON schema, and ``RunConfig.from_params`` validates a
run's parameters once, in ``validate_splits``, before anything else runs. The
validated config then travels with the run (``RunInputs.config``), so later
tasks neither re-validate nor re-read the search-space file.

Airflow fixes a DAG's shape when it parses the file, so the search runs in at
most ``MAX_ROUNDS`` rounds of ``parallel`` trials: a run needs
``num_trials <= MAX_ROUNDS * parallel``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training import settings
from training.config import (
    FitSettings,
    Frozen,
    PipelineSettings,
    PruningSettings,
    SearchSettings,
    SelectionPolicy,
    json_schema,
)
from training.errors import InputError
from training.space import SearchSpace

MAX_ROUNDS = 6
# The Airflow pool every trial task runs in, across all runs: its slots are the
# number of trials (GPUs) in use at once.
TRIALS_POOL = "tweetbot_trials"
# The run parameters: every field of these settings, or the fields named.
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


class RunConfig(Frozen):
    """A DAG run's parameters, validated once."""

    pipeline: PipelineSettings
    search: SearchSettings
    policy: SelectionPolicy
    pruning: PruningSettings
    space: SearchSpace

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RunConfig:
        unknown = sorted(set(params) - set(params_schema()))
        if unknown:
            raise InputError(f"unknown run parameter {unknown[0]!r}")
        defaults = {**DAG_DEFAULTS, **params}

        def pick(config_cls):
            return config_cls.from_mapping({k: v for k, v in defaults.items()
                                            if k in config_cls.model_fields})

        pipeline, search = pick(PipelineSettings), pick(SearchSettings)
        if search.num_trials > MAX_ROUNDS * search.parallel:
            raise InputError(f"num_trials: {search.num_trials} needs more than {MAX_ROUNDS} "
                             f"rounds of {search.parallel}; raise parallel to at least "
                             f"{-(-search.num_trials // MAX_ROUNDS)}")
        space = SearchSpace.load(overrides=pipeline.space_overrides)
        return cls(pipeline=pipeline, search=search, policy=pick(SelectionPolicy),
                   pruning=pick(PruningSettings), space=space)

    @property
    def data_location(self) -> str:
        return self.pipeline.data_location or settings.splits_location()

    @property
    def trial_fit(self) -> FitSettings:
        return FitSettings(num_epochs=self.pipeline.max_epochs)

    @property
    def base_model_fit(self) -> FitSettings:
        return FitSettings(num_epochs=self.pipeline.final_epochs)
