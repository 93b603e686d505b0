"""Typed, frozen configuration, validated once at the boundary.

Each parameter is declared exactly once, here, as a pydantic field: its type,
default, bounds and help text. The CLIs build their flags from these fields, the
search space uses the same names, MLflow params are logged under them and the
trigger form's JSON schema comes from ``model_json_schema()``. After
construction the objects are passed around as they are, never as raw dicts.
"""

from __future__ import annotations

import argparse
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from training.core.errors import InputError

Optimizer = Literal["sgd", "rmsprop", "adagrad", "adadelta", "adam"]
PROMOTION_MARGIN = 0.005
OPTIMIZERS: tuple[str, ...] = typing.get_args(Optimizer)


class Frozen(BaseModel):
    """A value that crosses a process boundary: frozen, unknown keys refused, and
    explicit JSON for XCom, result files and MLflow (``to_json`` / ``from_json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, value: Mapping[str, Any]):
        return cls.model_validate(value)


class Config(Frozen):
    """A user's settings: frozen, unknown keys refused, no silent type coercion.

    ``strict`` keeps ``True`` from passing as a batch size of 1 and ``"64"`` from
    passing as 64; ``from_mapping`` accepts the one harmless conversion (an
    integral float such as YAML's ``64.0`` for a whole-number field)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True,
                              allow_inf_nan=False)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]):
        """Build from a mapping (CLI, search space, run parameters); bad values fail
        with one line naming the parameter."""
        coerced = {name: _whole_if_integral(cls, name, value) for name, value in values.items()}
        try:
            return cls(**coerced)
        except ValidationError as error:
            raise input_error(error, cls) from None

    @classmethod
    def from_text(cls, values: Mapping[str, str]):
        """Build from text values, as MLflow stores params (``"None"`` is None);
        unknown keys are ignored, since a run logs more params than one model holds."""
        known = {k: (None if v == "None" else v) for k, v in values.items()
                 if k in cls.model_fields}
        try:
            return cls.model_validate(known, strict=False)
        except ValidationError as error:
            raise input_error(error, cls) from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def _whole_if_integral(cls, name: str, value: Any) -> Any:
    field = cls.model_fields.get(name)
    if (field is not None and int in _members(field.annotation)
            and isinstance(value, float) and value.is_integer()):
        return int(value)
    return value


def input_error(error: ValidationError, cls) -> InputError:
    """The first problem pydantic found, as one line naming the parameter."""
    problem = error.errors()[0]
    name = ".".join(str(part) for part in problem["loc"]) or cls.__name__
    value, kind = problem.get("input"), problem["type"]
    if kind == "extra_forbidden":
        names = list(cls.model_fields)
        hint = difflib.get_close_matches(name, names, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return InputError(f"unknown parameter {name!r}{suggestion}; known: {', '.join(names)}")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return InputError(f"{name}: {value!r} is outside {interval(cls, name)}")
    if kind == "literal_error":
        return InputError(f"{name}: {value!r} is not one of {', '.join(choices(cls, name))}")
    if kind == "finite_number":
        return InputError(f"{name}: must be a finite number, got {value!r}")
    if kind == "value_error":  # a validator's own message, already one line
        return InputError(str(problem["ctx"]["error"]))
    if kind == "missing":
        return InputError(f"{name}: a value is required")
    if isinstance(value, bool) and kind in ("int_type", "float_type"):
        return InputError(f"{name}: expected a number, got {value!r}")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return InputError(f"{name}: expected {kind.split('_')[0]}, got {value!r}")
    return InputError(f"{name}: {problem['msg']}")


def interval(cls, name: str) -> str:
    """A field's bounds as an interval: ``[1, 4096]``, ``(0, 10]``."""
    low, high = "(-inf", "inf)"
    for constraint in cls.model_fields[name].metadata:
        for attribute, template in (("ge", "[{}"), ("gt", "({}"), ("le", "{}]"), ("lt", "{})")):
            bound = getattr(constraint, attribute, None)
            if bound is None:
                continue
            if attribute in ("ge", "gt"):
                low = template.format(bound)
            else:
                high = template.format(bound)
    return f"{low}, {high}"


def choices(cls, name: str) -> tuple[str, ...]:
    """The allowed values of a ``Literal`` field, else ()."""
    for member in _members(cls.model_fields[name].annotation):
        if typing.get_origin(member) is Literal:
            return typing.get_args(member)
    return ()


def _members(annotation) -> tuple:
    """``int | None`` -> (int, NoneType); ``int`` -> (int,)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


class HyperParams(Config):
    """The model and optimiser settings a search explores (the tutorial's names)."""

    batch_size: int = Field(128, ge=1, le=4096, description=(
        "sequences per batch; also the number of parallel streams the stateful LSTM reads"))
    seq_len: int = Field(32, ge=1, le=4096,
                         description="characters per sequence (truncated backprop length)")
    embedding_size: int = Field(64, ge=1, le=4096, description="character embedding size")
    rnn_size: int = Field(512, ge=1, le=8192, description="units per LSTM layer")
    num_layers: int = Field(1, ge=1, le=8, description="number of stacked LSTM layers")
    drop_rate: float = Field(0.05, ge=0.0, le=0.95, description=(
        "dropout rate after the embedding and each LSTM layer, in [0, 1)"))
    learning_rate: float | None = Field(None, ge=1e-7, le=10.0, description=(
        "learning rate (default: Keras' default for the chosen optimizer)"))
    clip_norm: float = Field(5.0, ge=0.0, le=1e6, description=(
        "clip each gradient to this norm; 0 disables clipping"))
    optimizer: Optimizer = Field("rmsprop", description="optimizer")

    @property
    def chars_per_batch(self) -> int:
        """Bytes a split needs for one batch: every stream one sequence plus its label."""
        return self.batch_size * (self.seq_len + 1)


# The fewest epochs a budget is cut into: the pruning rules judge a trial after an
# epoch, and the halving rule's rungs are 1 and 3 epochs at its default factor.
BUDGET_MIN_EPOCHS = 3


class FitSettings(Config):
    """How long and how carefully to train; not part of the model's identity."""

    num_epochs: int = Field(10, ge=1, le=100000, description="maximum number of epochs")
    patience: int = Field(3, ge=1, le=1000, description=(
        "stop after this many epochs without a val_loss improvement of at least --min-delta"))
    min_delta: float = Field(0.01, ge=0.0, le=100.0, description=(
        "smallest val_loss decrease that counts as an improvement"))
    reduce_lr_on_plateau: bool = Field(False, description=(
        "halve the learning rate after each epoch without an improvement of --min-delta"))
    epoch_timeout: int = Field(4 * 3600, ge=1, le=7 * 86400, description=(
        "seconds without a finished epoch after which the step fails as hung"))
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description=(
        "random seed for weights and dropout (default: not seeded)"))
    max_train_chars: int | None = Field(None, ge=1, le=10**13, description=(
        "train on only the first N characters of train.txt, for cheaper search trials "
        "(validation still reads all of validate.txt; default: all of train.txt)"))
    budget_chars: int | None = Field(None, ge=10_000, le=10**13, description=(
        "train on about this many characters in all, whatever train.txt's size: as many "
        "whole epochs as make it up (at most --num-epochs); a split too large for "
        f"{BUDGET_MIN_EPOCHS} epochs within it gives {BUDGET_MIN_EPOCHS} epochs of its "
        "first budget/" f"{BUDGET_MIN_EPOCHS} characters (default: --num-epochs epochs)"))

    def for_train_split(self, train_bytes: int) -> FitSettings:
        """These settings with the budget spent on a train split of ``train_bytes``:
        ``num_epochs`` and ``max_train_chars`` as they come out, no budget left to
        resolve. A budget means the same training on a 200 kB and a 700 MB corpus;
        the epochs it is cut into are where pruning judges a trial."""
        if self.budget_chars is None:
            return self
        used = min(train_bytes, self.max_train_chars or train_bytes)
        epochs = round(self.budget_chars / used)
        if epochs >= BUDGET_MIN_EPOCHS:
            resolved = {"num_epochs": min(self.num_epochs, epochs)}
        else:
            cut = min(self.num_epochs, BUDGET_MIN_EPOCHS)
            resolved = {"num_epochs": cut, "max_train_chars": self.budget_chars // cut}
        return self.model_copy(update={**resolved, "budget_chars": None})


class PruningSettings(Config):
    """Early stopping across the trials of a search (see training.tuning.pruning)."""

    pruning: Literal["median", "halving", "none"] = Field(
        "median", description="rule for stopping trials that lose to the others")
    prune_min_trials: int = Field(3, ge=1, le=1000, description=(
        "other trials that must have reached an epoch before it is judged"))
    prune_min_epochs: int = Field(1, ge=1, le=1000, description=(
        "epochs every trial gets before it can be pruned"))
    reduction_factor: int = Field(3, ge=2, le=10, description=(
        "halving: keep the top 1/this at each rung"))
    prune_at_chance: bool = Field(True, description=(
        "also stop a trial, whatever the others do, whose val_loss after an epoch is "
        "no better than guessing every character uniformly (ln of the vocabulary size, "
        "within 1 %): it is not learning"))


class SearchSettings(Config):
    """How many trials, how many at once, and how to propose them."""

    num_trials: int = Field(8, ge=1, description=(
        "trials in the whole search (in the DAG, at most Airflow's [core] max_map_length: "
        "one trial task each)"))
    parallel: int = Field(2, ge=1, le=256, description="trials running at once")
    algorithm: Literal["tpe", "random"] = Field(
        "tpe", description="sampler: hyperopt's TPE or random search")
    n_startup_jobs: int = Field(5, ge=0, le=1000, description=(
        "random trials before TPE takes over (hyperopt's own default is 20)"))
    sampler_seed: int | None = Field(None, ge=0, le=2**31 - 1, description=(
        "seed for the sampler (default: derived from the search id, so a re-run "
        "search draws the same points and each new search explores new ones)"))
    # Off by default, by measurement (benchmarks/RESULTS.md section 10): on
    # motivational.txt the floor's trial was chosen in none of the searches it was
    # in (3 epochs of its RMSprop 0.001 rank it last; 10 under successive halving
    # still did), while it took a trial from the sampler; the nightly search with
    # it lost to the tutorial's own model on one seed of three, without it on none.
    floor: bool = Field(False, description=(
        "train the tutorial's hand-picked configuration as one of the trials (when the "
        "space holds it), judged like every other, so that the night's choice never "
        "beats it only by not meeting it"))
    # On by default, by measurement (benchmarks/RESULTS.md section 10): chosen on
    # motivational.txt, reported on realdonaldtrump.txt, which had no say in it: the
    # champion 11.4-14.9 % below the tutorial's model on every seed (the search
    # without it: 7.9-11.7 %), the median below Optuna's and random search's, and
    # within 2 % of random search's best after 3-6 trial-epochs against its 12-21.
    portfolio: bool = Field(True, description=(
        "a search with nothing to start from (no warm-start points, no past_trials: "
        "the DAG's first night) starts with the project's own best-known "
        "configurations (training.tuning.suggest.PORTFOLIO) before the sampler's"))
    warm_start: int = Field(0, ge=0, le=100, description=(
        "seed the search with the champion's params and this many best trials of "
        "earlier searches (0: off)"))
    past_trials: str | None = Field(None, description=(
        "a trials.csv from an earlier search (the tutorial's or tweetbot's; a file "
        "under the data root or s3://): its rows are finished trials the sampler "
        "learns from, without using this search's budget; rows outside the space "
        "are skipped and counted"))


class SelectionPolicy(Config):
    """How the search's winner is chosen; see training.tuning.selection for the exact rules."""

    policy: Literal["fastest-within", "lowest-val-loss", "weighted"] = Field(
        "fastest-within", description="selection policy")
    tolerance: float = Field(0.05, ge=0.0, le=10.0, description=(
        "fastest-within: how far above the best val_loss (as a fraction) a trial may be"))
    weight: float = Field(0.5, ge=0.0, le=100.0, description=(
        "weighted: weight of epoch time against val_loss"))


class PipelineSettings(Config):
    """What a DAG run needs beyond the search, selection and fit settings."""

    data_location: str | None = Field(None, description=(
        "folder or s3:// prefix holding train.txt, validate.txt and test.txt "
        "(default: where tweetbot_prepare_splits last published them when it triggered "
        "this run, else $TWEETBOT_SPLITS, else $TWEETBOT_HOME/splits)"))
    max_epochs: int = Field(3, ge=1, le=1000, description=(
        "most epochs a trial trains: the epochs every trial trains, or with trial_chars "
        "the cap on the epochs it makes up on a small train split"))
    final_epochs: int = Field(50, ge=1, le=10000, description=(
        "most epochs the base model trains; it stops earlier once val_loss stops "
        "improving (the trials' early-stopping rule), halving its learning rate after "
        "each epoch without improvement"))
    max_train_chars: int | None = Field(None, ge=1, le=10**13, description=(
        "trials train on only the first N characters of train.txt, which makes a search "
        "cheaper; the base model trains on all of it (default: trials use all of it too)"))
    # No default: 500,000 (3 epochs of motivational.txt's train split) was chosen
    # there, and on realdonaldtrump.txt, where it is 3 epochs of the split's first
    # 167 kB, one seed of three chose a model 30 % behind the tutorial's
    # (benchmarks/RESULTS.md section 10).
    trial_chars: int | None = Field(None, ge=10_000, le=10**13, description=(
        "each trial's budget in training characters, the same on any corpus: as many "
        "epochs as make it up, at most max_epochs; on a train split too large for "
        f"{BUDGET_MIN_EPOCHS} epochs within it, {BUDGET_MIN_EPOCHS} epochs of its first "
        f"trial_chars/{BUDGET_MIN_EPOCHS} characters (default: max_epochs epochs)"))
    force: bool = Field(False, description=(
        "retrain even if the splits did not change since the champion was trained"))
    promotion_rule: Literal["bound", "point"] = Field("bound", description=(
        "bound: the champion moves only if the 95 % lower confidence bound of the new "
        "version's test-loss gain (a paired bootstrap over the test split's tweets) "
        "exceeds promotion_margin; point: if the gain itself does"))
    promotion_margin: float = Field(PROMOTION_MARGIN, ge=0.0, lt=1.0, description=(
        "the champion moves to a new version only if its test loss is at least this "
        "fraction below the champion's (0.005: half a percent), so that noise-sized "
        "gains do not replace the model in service every night"))
    require_approval: bool = Field(False, description=(
        "a new version that beats the champion waits for a person to approve it "
        "(the run's approve_promotion task) before it becomes the champion; a "
        "rejection or no answer in time leaves it candidate"))
    space_overrides: dict[str, Any] = Field({}, description=(
        "search-space entries that replace the file's, e.g. "
        "{\"rnn_size\": {\"choice\": [64, 128]}}"))


@dataclass(frozen=True)
class TrainJob:
    """One training run: where the data is, where checkpoints go, and how to train."""

    data_dir: Path
    checkpoint_dir: Path
    hyperparams: HyperParams = dataclass_field(default_factory=HyperParams)
    fit: FitSettings = dataclass_field(default_factory=FitSettings)
    restore: bool = False
    run_name: str | None = None
    data_location: str | None = None  # as given (an s3:// prefix); default: data_dir


# --- command-line flags, generated from the declarations above -------------------

def command_parser(module: str, description: str) -> argparse.ArgumentParser:
    """The parser of ``python -m <module>``; ``--help`` shows every default."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=description,
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def add_arguments(parser: argparse.ArgumentParser, cls: type[Config], title: str) -> None:
    """Add one ``--flag-name`` per field of ``cls``; unset flags stay absent."""
    group = parser.add_argument_group(title)
    for name, field in cls.model_fields.items():
        flag = "--" + name.replace("_", "-")
        description = field.description.replace("%", "%%")  # argparse formats help with %
        if field.annotation is bool:
            # A switch that is on by default also gets its --no- form.
            action = argparse.BooleanOptionalAction if field.default else "store_true"
            group.add_argument(flag, action=action, default=argparse.SUPPRESS,
                               help=description)
            continue
        allowed = choices(cls, name)
        base = next(t for t in _members(field.annotation) if t is not type(None))
        group.add_argument(flag, type=str if allowed else base, choices=allowed or None,
                           default=argparse.SUPPRESS,
                           help=f"{description} (default: {field.default})",
                           metavar=None if allowed else name.upper())


def to_arguments(config: Config) -> list[str]:
    """The command-line flags that ``add_arguments`` parses back into ``config``."""
    arguments = []
    for name, value in config.model_dump().items():
        flag = "--" + name.replace("_", "-")
        if value is False and type(config).model_fields[name].default is True:
            arguments.append("--no-" + flag[2:])
        elif value is not None and value is not False:
            arguments += [flag] if value is True else [flag, str(value)]
    return arguments


def given_arguments(namespace: argparse.Namespace, cls: type[Config]) -> dict[str, Any]:
    """The fields of ``cls`` that were set on the command line."""
    return {k: v for k, v in vars(namespace).items() if k in cls.model_fields}


def json_schema(cls: type[Config], names=None) -> dict[str, dict]:
    """Per field, the JSON schema pydantic derives (default, type, bounds, enum,
    title, description), for a form that validates exactly what the code does.

    An optional field (``X | None``) comes out as ``"type": [X, "null"]`` rather
    than pydantic's ``anyOf``: that is what Airflow's form reads as "optional"."""
    properties = cls.model_json_schema()["properties"]
    wanted = list(cls.model_fields) if names is None else list(names)
    return {name: _nullable_as_type(properties[name]) for name in wanted}


def _nullable_as_type(schema: dict) -> dict:
    options = schema.get("anyOf")
    if not options or {"type": "null"} not in options or len(options) != 2:
        return schema
    (value,) = [option for option in options if option != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**rest, **value, "type": [value["type"], "null"]}
