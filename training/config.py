"""Typed, frozen configuration, validated once at the boundary.

Each parameter is declared exactly once, here: its type, default, bounds and help
text. The CLIs build their flags from these declarations, the search space uses
the same names, and MLflow params are logged under them. After construction the
objects are passed around as they are, never as raw dicts.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from training.errors import InputError

OPTIMIZERS = ("sgd", "rmsprop", "adagrad", "adadelta", "adam")
SAMPLERS = ("tpe", "random")
SELECTION_POLICIES = ("fastest-within", "lowest-val-loss", "weighted")


def _param(default, help, *, low=None, high=None, choices=None):
    """A dataclass field carrying its bounds and help text as metadata."""
    metadata = {"help": help, "low": low, "high": high, "choices": choices}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


class Config:
    """Shared behaviour of the settings dataclasses below."""

    def __post_init__(self):
        _validate_fields(self)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]):
        """Build from a mapping (CLI, search space, MLflow params); unknown keys fail."""
        return _from_mapping(cls, values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class HyperParams(Config):
    """The model and optimiser settings a search explores (the tutorial's names)."""

    batch_size: int = _param(128, "sequences per batch; also the number of parallel "
                             "streams the stateful LSTM reads", low=1, high=4096)
    seq_len: int = _param(32, "characters per sequence (truncated backprop length)",
                          low=1, high=4096)
    embedding_size: int = _param(64, "character embedding size", low=1, high=4096)
    rnn_size: int = _param(512, "units per LSTM layer", low=1, high=8192)
    num_layers: int = _param(1, "number of stacked LSTM layers", low=1, high=8)
    drop_rate: float = _param(0.05, "dropout rate after the embedding and each LSTM "
                              "layer, in [0, 1)", low=0.0, high=0.95)
    learning_rate: float | None = _param(
        None, "learning rate (default: Keras' default for the chosen optimizer)",
        low=1e-7, high=10.0)
    clip_norm: float = _param(5.0, "clip each gradient to this norm; 0 disables "
                              "clipping", low=0.0, high=1e6)
    optimizer: str = _param("rmsprop", "optimizer", choices=OPTIMIZERS)


    @property
    def chars_per_batch(self) -> int:
        """Bytes a split needs for one batch: every stream one sequence plus its label."""
        return self.batch_size * (self.seq_len + 1)


@dataclass(frozen=True)
class FitSettings(Config):
    """How long and how carefully to train; not part of the model's identity."""

    num_epochs: int = _param(10, "maximum number of epochs", low=1, high=100000)
    patience: int = _param(3, "stop after this many epochs without a val_loss "
                           "improvement of at least --min-delta", low=1, high=1000)
    min_delta: float = _param(0.01, "smallest val_loss decrease that counts as an "
                              "improvement", low=0.0, high=100.0)
    reduce_lr_on_plateau: bool = _param(False, "halve the learning rate after two "
                                        "epochs without improvement")
    seed: int | None = _param(None, "random seed for weights and dropout "
                              "(default: not seeded)", low=0, high=2**31 - 1)



PRUNING_POLICIES = ("median", "halving", "none")


@dataclass(frozen=True)
class PruningSettings(Config):
    """Early stopping across the trials of a search (see training.pruning)."""

    pruning: str = _param("median", "rule for stopping trials that lose to the others",
                          choices=PRUNING_POLICIES)
    prune_min_trials: int = _param(3, "other trials that must have reached an epoch "
                                   "before it is judged", low=1, high=1000)
    prune_min_epochs: int = _param(1, "epochs every trial gets before it can be pruned",
                                   low=1, high=1000)
    reduction_factor: int = _param(3, "halving: keep the top 1/this at each rung",
                                   low=2, high=10)



@dataclass(frozen=True)
class SearchSettings(Config):
    """How many trials, how many at once, and how to propose them."""

    num_trials: int = _param(8, "trials in the whole search", low=1, high=1000)
    parallel: int = _param(2, "trials running at once", low=1, high=256)
    algorithm: str = _param("tpe", "sampler: hyperopt's TPE or random search",
                            choices=SAMPLERS)
    n_startup_jobs: int = _param(5, "random trials before TPE takes over (hyperopt's "
                                 "own default is 20)", low=0, high=1000)
    sampler_seed: int = _param(0, "seed for the sampler", low=0, high=2**31 - 1)
    warm_start: int = _param(0, "seed the search with the champion's params and this "
                             "many best trials of earlier searches (0: off)",
                             low=0, high=100)



@dataclass(frozen=True)
class SelectionPolicy(Config):
    """How the search's winner is chosen; see training.selection for the exact rules."""

    policy: str = _param("fastest-within", "selection policy", choices=SELECTION_POLICIES)
    tolerance: float = _param(0.05, "fastest-within: how far above the best val_loss "
                              "(as a fraction) a trial may be", low=0.0, high=10.0)
    weight: float = _param(0.5, "weighted: weight of epoch time against val_loss",
                           low=0.0, high=100.0)



@dataclass(frozen=True)
class PipelineSettings(Config):
    """What a DAG run needs beyond the search, selection and fit settings."""

    data_location: str = _param("", "folder or s3:// prefix holding train.txt, "
                                "validate.txt and test.txt (default: $TWEETBOT_SPLITS, "
                                "else $TWEETBOT_HOME/splits)")
    max_epochs: int = _param(3, "most epochs a trial trains", low=1, high=1000)
    final_epochs: int = _param(10, "most epochs the base model trains", low=1, high=10000)
    force: bool = _param(False, "retrain even if the splits did not change since the "
                         "champion was trained")
    space_overrides: dict = _param({}, "search-space entries that replace the file's, "
                                   "e.g. {\"rnn_size\": {\"choice\": [64, 128]}}")


@dataclass(frozen=True)
class TrainJob:
    """One training run: where the data is, where checkpoints go, and how to train."""

    data_dir: Path
    checkpoint_dir: Path
    hyperparams: HyperParams = field(default_factory=HyperParams)
    fit: FitSettings = field(default_factory=FitSettings)
    restore: bool = False
    run_name: str | None = None


def _field_types(cls) -> dict[str, Any]:
    # `from __future__ import annotations` leaves types as strings; resolve them.
    return typing.get_type_hints(cls)


def _validate_fields(obj) -> None:
    types = _field_types(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        _check_type(f.name, value, types[f.name])
        if value is None:
            continue
        meta = f.metadata
        if meta.get("choices") is not None and value not in meta["choices"]:
            raise InputError(
                f"{f.name}: {value!r} is not one of {', '.join(meta['choices'])}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{f.name}: must be a finite number, got {value!r}")
        low, high = meta.get("low"), meta.get("high")
        if low is not None and value < low or high is not None and value > high:
            raise InputError(f"{f.name}: {value!r} is outside [{low}, {high}]")


def _check_type(name: str, value: Any, expected: Any) -> None:
    allowed = getattr(expected, "__args__", (expected,))
    if typing.get_origin(expected) is dict:
        allowed = (dict,)
    if value is None:
        if type(None) in allowed:
            return
        raise InputError(f"{name}: a value is required")
    # bool is an int subclass; a boolean batch size is a bug, not a 1.
    if isinstance(value, bool) and bool not in allowed:
        raise InputError(f"{name}: expected a number, got {value!r}")
    if float in allowed and isinstance(value, int):
        return
    if not isinstance(value, tuple(t for t in allowed if t is not type(None))):
        wanted = " or ".join(t.__name__ for t in allowed if t is not type(None))
        raise InputError(f"{name}: expected {wanted}, got {value!r}")


def _from_mapping(cls, values: Mapping[str, Any]):
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        hint = difflib.get_close_matches(unknown[0], names, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InputError(f"unknown parameter {unknown[0]!r}{suggestion}; "
                         f"known: {', '.join(names)}")
    types = _field_types(cls)
    coerced = {}
    for name, value in values.items():
        # Integral floats (a YAML 64.0, an MLflow param "64") are fine for int fields.
        if types[name] is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        coerced[name] = value
    return cls(**coerced)


# --- command-line flags, generated from the declarations above -------------------

def add_arguments(parser: argparse.ArgumentParser, cls, title: str) -> None:
    """Add one ``--flag-name`` per field of ``cls``; unset flags stay absent."""
    group = parser.add_argument_group(title)
    types = _field_types(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        meta = f.metadata
        default = f.default
        help_text = f"{meta['help']} (default: {default})"
        if types[f.name] is bool:
            group.add_argument(flag, action="store_true", default=argparse.SUPPRESS,
                               help=meta["help"])
            continue
        base = [t for t in getattr(types[f.name], "__args__", (types[f.name],))
                if t is not type(None)][0]
        group.add_argument(flag, type=base, choices=meta.get("choices"),
                           default=argparse.SUPPRESS, help=help_text,
                           metavar=None if meta.get("choices") else f.name.upper())


def to_arguments(obj) -> list[str]:
    """The command-line flags that ``add_arguments`` parses back into ``obj``."""
    arguments = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        flag = "--" + f.name.replace("_", "-")
        if value is None or value is False:
            continue
        arguments += [flag] if value is True else [flag, str(value)]
    return arguments


def given_arguments(namespace: argparse.Namespace, cls) -> dict[str, Any]:
    """The fields of ``cls`` that were set on the command line."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(namespace).items() if k in names}


# --- JSON schema, for Airflow's trigger form ---------------------------------------

_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean",
               dict: "object"}


def json_schema(cls, names: typing.Iterable[str] | None = None) -> dict[str, dict]:
    """Per field: default, JSON type, bounds, enum and description, from the
    declarations above, so a trigger form validates exactly what the code does."""
    types = _field_types(cls)
    wanted = set(names) if names is not None else None
    schemas = {}
    for f in dataclasses.fields(cls):
        if wanted is not None and f.name not in wanted:
            continue
        hint = typing.get_origin(types[f.name]) or types[f.name]
        members = [t for t in getattr(types[f.name], "__args__", (hint,))
                   if t is not type(None)] if hint is not dict else [dict]
        json_type = [_JSON_TYPES[t] for t in members]
        if len(members) < len(getattr(types[f.name], "__args__", members)):
            json_type.append("null")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        schema = {"default": default, "type": json_type[0] if len(json_type) == 1
                  else json_type, "description": f.metadata["help"]}
        if f.metadata.get("low") is not None:
            schema["minimum"] = f.metadata["low"]
        if f.metadata.get("high") is not None:
            schema["maximum"] = f.metadata["high"]
        if f.metadata.get("choices"):
            schema["enum"] = list(f.metadata["choices"])
        schemas[f.name] = schema
    return schemas
