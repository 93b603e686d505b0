"""The hyper-parameter search space: data in one YAML file, validated on load.

The default is ``training/search_space.yaml`` (the tutorial's space). Every key
must be a ``HyperParams`` field and every value it can produce must pass that
field's validation, so a search never samples a point that fails on arrival;
errors name the file and the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from training.config import HyperParams
from training.errors import InputError

DEFAULT_SPACE_FILE = Path(__file__).with_name("search_space.yaml")
KINDS = ("choice", "uniform", "loguniform")


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: ``kind`` is choice, uniform or loguniform."""

    name: str
    kind: str
    values: tuple  # the options of a choice; (low, high) otherwise


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
        return space

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def to_hyperparams(self, point: Mapping[str, Any]) -> HyperParams:
        return HyperParams.from_mapping({**self.fixed, **point})

    def describe(self) -> dict[str, Any]:
        """A plain mapping, as logged to MLflow and shown to users."""
        return {**{d.name: {d.kind: list(d.values)} for d in self.dimensions},
                **self.fixed}


def _dimension(source: str, name: str, kind: str, values) -> Dimension:
    where = f"{source}: {name}"
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


def _check_value(source: str, name: str | None, value) -> None:
    """``value`` must be valid for the field ``name`` (the error names both)."""
    try:
        HyperParams.from_mapping(value if name is None else {name: value})
    except InputError as error:
        raise InputError(f"{source}: {error}") from None


def log_uniform_bounds(dimension: Dimension) -> tuple[float, float]:
    low, high = dimension.values
    return math.log(low), math.log(high)
