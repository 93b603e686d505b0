"""The hyper-parameter search space: data in one YAML file, validated on load.

The default is ``training/search_space.yaml`` (the tutorial's space, with a
learning rate per optimizer). Every key must be a ``HyperParams`` field and every
value it can produce must pass that field's validation, so a search never samples
a point that fails on arrival; errors name the file and the key.

A choice may bring parameters of its own: given as a mapping from each option to
a sub-space, the sub-space's parameters exist only when that option is chosen
(hyperopt's nested ``hp.choice``). The default space uses this for the learning
rate, whose useful range depends on the optimizer::

    optimizer:
      choice:
        adam: {learning_rate: {loguniform: [0.0005, 0.02]}}
        adadelta: {learning_rate: {loguniform: [1.0, 10.0]}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from training.core.config import HyperParams
from training.core.errors import InputError

# Beside the commands, where a user looks for it and passes --space with its like.
DEFAULT_SPACE_FILE = Path(__file__).parents[1] / "search_space.yaml"
KINDS = ("choice", "uniform", "loguniform")


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: ``kind`` is choice, uniform or loguniform."""

    name: str
    kind: str
    values: tuple  # the options of a choice; (low, high) otherwise
    # A conditional choice: per option, the sub-space it brings (empty otherwise).
    branches: tuple[SearchSpace, ...] = ()

    def branch(self, value) -> SearchSpace | None:
        """The sub-space that choosing ``value`` brings, if any."""
        if not self.branches:
            return None
        for option, branch in zip(self.values, self.branches, strict=True):
            if _same(value, option):
                return branch
        return None


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]
    fixed: Mapping[str, Any]

    @classmethod
    def load(cls, path: Path | None = None,
             overrides: Mapping[str, Any] | None = None) -> SearchSpace:
        path = Path(path) if path else DEFAULT_SPACE_FILE
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise InputError(f"{path}: search space file not found") from None
        except yaml.YAMLError as error:
            first = str(error).splitlines()[0]
            raise InputError(f"{path}: not valid YAML ({first})") from None
        if not isinstance(raw, dict):
            raise InputError(f"{path}: expected a mapping of parameter names")
        overrides = dict(overrides or {})
        return cls.from_mapping({**raw, **overrides}, source=str(path),
                                sources=dict.fromkeys(overrides, "space_overrides"))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], source: str = "search space",
                     sources: Mapping[str, str] | None = None):
        """``sources`` names where a key came from when not from ``source`` (a
        run's ``space_overrides``), so an error points at the right place."""
        dimensions, fixed = [], {}
        for name, spec in raw.items():
            origin = (sources or {}).get(name, source)
            where = f"{origin}: {name}"
            if not isinstance(spec, dict):
                _check_value(origin, name, spec)
                fixed[name] = spec
                continue
            if len(spec) != 1 or next(iter(spec)) not in KINDS:
                raise InputError(f"{where}: expected one of {', '.join(KINDS)} "
                                 f"or a plain value, got {spec!r}")
            kind, values = next(iter(spec.items()))
            dimensions.append(_dimension(origin, name, kind, values))
        space = cls(tuple(dimensions), fixed)
        _check_value(source, None, space.fixed)  # fixed values together must fit
        for dimension in space.dimensions:
            for option, branch in zip(dimension.values, dimension.branches, strict=False):
                for name in (*branch.names, *branch.fixed):
                    if name in raw:
                        raise InputError(f"{source}: {dimension.name}.{option}: {name} is "
                                         f"also given outside {dimension.name}; give it in "
                                         f"one place")
        return space

    @property
    def names(self) -> tuple[str, ...]:
        """Every parameter a point of this space can vary, sub-spaces' included."""
        names: dict[str, None] = {}
        for dimension in self.dimensions:
            names[dimension.name] = None
            for branch in dimension.branches:
                names.update(dict.fromkeys((*branch.names, *branch.fixed)))
        return tuple(names)

    def point_of(self, hyperparams: HyperParams) -> dict[str, Any]:
        """The values of ``hyperparams`` this space varies: its dimensions, and
        those of the sub-space its choices select."""
        point = {}
        for dimension in self.dimensions:
            value = point[dimension.name] = getattr(hyperparams, dimension.name)
            branch = dimension.branch(value)
            if branch is not None:
                point.update({name: getattr(hyperparams, name) for name in branch.fixed})
                point.update(branch.point_of(hyperparams))
        return point

    def contains(self, hyperparams: HyperParams) -> bool:
        """Whether this space could have suggested ``hyperparams``: its fixed
        values, an option of each choice, a value within each range, and the
        same of the sub-space its choices select."""
        if any(not _same(getattr(hyperparams, k), v) for k, v in self.fixed.items()):
            return False
        for dimension in self.dimensions:
            value = getattr(hyperparams, dimension.name)
            if dimension.kind == "choice":
                if not any(_same(value, option) for option in dimension.values):
                    return False
                branch = dimension.branch(value)
                if branch is not None and not branch.contains(hyperparams):
                    return False
            else:
                low, high = dimension.values
                # Points are stored rounded to 6 decimals (training.tuning.sampler).
                if value is None or not low - 1e-6 <= value <= high + 1e-6:
                    return False
        return True

    def to_hyperparams(self, point: Mapping[str, Any]) -> HyperParams:
        return HyperParams.from_mapping({**self.fixed, **point})

    def smallest_batch(self) -> HyperParams:
        """Hyper-parameters with the smallest batch the space can suggest: a
        split shorter than that fits no point of it."""
        return HyperParams(**{name: self._smallest(name) for name in ("batch_size", "seq_len")})

    def _smallest(self, name: str) -> int:
        for dimension in self.dimensions:
            if dimension.name == name:
                return min(dimension.values)
        return self.fixed.get(name, HyperParams.model_fields[name].default)

    def describe(self) -> dict[str, Any]:
        """A plain mapping, as logged to MLflow and shown to users."""
        def values(dimension: Dimension):
            if not dimension.branches:
                return list(dimension.values)
            return {option: branch.describe()
                    for option, branch in zip(dimension.values, dimension.branches,
                                              strict=True)}

        return {**{d.name: {d.kind: values(d)} for d in self.dimensions}, **self.fixed}


def _same(value, option) -> bool:
    """0 and 0.0 are one value (YAML and pydantic may differ), True and 1 not."""
    return value == option and isinstance(value, bool) == isinstance(option, bool)


def _dimension(source: str, name: str, kind: str, values) -> Dimension:
    where = f"{source}: {name}"
    if kind == "choice" and isinstance(values, dict) and values:
        return _conditional_choice(source, name, values)
    if not isinstance(values, list) or not values:
        raise InputError(f"{where}: {kind} needs a non-empty list")
    if kind == "choice":
        if len(set(map(repr, values))) != len(values):
            raise InputError(f"{where}: choice lists a value twice")
        for value in values:
            _check_value(source, name, value)
        return Dimension(name, kind, tuple(values))
    field = HyperParams.model_fields.get(name)
    if field is not None and field.annotation is int:
        raise InputError(f"{where}: {name} takes whole numbers; use choice")
    if len(values) != 2 or not all(isinstance(v, (int, float)) for v in values):
        raise InputError(f"{where}: {kind} needs [low, high], got {values!r}")
    low, high = map(float, values)
    if not low < high:
        raise InputError(f"{where}: {kind} needs low < high, got {values!r}")
    if kind == "loguniform" and low <= 0:
        raise InputError(f"{where}: loguniform needs low > 0, got {low}")
    for value in (low, high):
        _check_value(source, name, value)
    return Dimension(name, kind, (low, high))


def _conditional_choice(source: str, name: str, options: dict) -> Dimension:
    """A choice whose options each bring a sub-space (``{option: {param: spec}}``)."""
    branches = []
    for option, raw in options.items():
        where = f"{source}: {name}.{option}"
        _check_value(source, name, option)
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            raise InputError(f"{where}: expected a mapping of the parameters this option "
                             f"brings (or nothing), got {raw!r}")
        if name in raw:
            raise InputError(f"{where}: {name} cannot depend on itself")
        branch = SearchSpace.from_mapping(raw, source=f"{source}: {name}.{option}")
        _check_value(source, None, {name: option, **branch.fixed})
        branches.append(branch)
    return Dimension(name, "choice", tuple(options), tuple(branches))


def _check_value(source: str, name: str | None, value) -> None:
    """``value`` must be valid for the field ``name`` (the error names both)."""
    try:
        HyperParams.from_mapping(value if name is None else {name: value})
    except InputError as error:
        raise InputError(f"{source}: {error}") from None


def log_uniform_bounds(dimension: Dimension) -> tuple[float, float]:
    low, high = dimension.values
    return math.log(low), math.log(high)
