"""An earlier search's ``trials.csv`` as observations a new search learns from.

The tutorial's hyperopt search wrote ``trials.csv`` with the columns ``rank,
trial_num, val_loss, train_loss, num_epochs, avg_epoch_seconds, batch_size,
drop_rate, embedding_size, num_layers, rnn_size, seq_len, optimizer,
clip_norm, status``; tweetbot's own (``training.tuning.report``) adds
``learning_rate``, ``failure_reason`` and ``run_id``. Either can be given as
``past_trials``: each row becomes a finished trial the sampler conditions on
(TPE counts it among its startup trials too), so GPU hours already spent are
not spent again. They are not trials of the new search and use none of its
budget.

The tutorial ran Keras 2, whose optimizers had other default learning rates
than Keras 3's; a row without a ``learning_rate`` column gets the rate it was
trained with (``KERAS2_LEARNING_RATES``). A row the space could not have
suggested (a value outside a range, an option it lacks) or that is not a valid
set of hyper-parameters is skipped, and counted by reason. The losses were
measured on another search's data, often a subset; TPE uses them to rank
configurations against each other, which is what carries over.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter

from training.core.config import Frozen, HyperParams
from training.core.errors import InputError
from training.data import storage
from training.tuning.space import SearchSpace

# What Keras 2 (the tutorial's) used when no rate was given.
KERAS2_LEARNING_RATES = {"sgd": 0.01, "rmsprop": 0.001, "adagrad": 0.01,
                         "adadelta": 1.0, "adam": 0.001}
REQUIRED_COLUMNS = ("val_loss", "status", "batch_size", "seq_len", "embedding_size",
                    "rnn_size", "num_layers", "drop_rate", "optimizer", "clip_norm")
FINISHED = ("ok", "pruned")  # statuses whose val_loss is a result; others failed
MAX_BYTES = 10 * 2**20
INVALID, OUTSIDE = "not valid hyper-parameters", "outside the search space"


class PastTrial(Frozen):
    hyperparams: HyperParams
    val_loss: float | None  # None: the trial failed


class PastTrials(Frozen):
    """The rows a search learns from, and how many were skipped, by reason."""

    trials: tuple[PastTrial, ...] = ()
    skipped: dict[str, int] = {}

    def summary(self) -> str:
        skipped = ", ".join(f"{count} {reason}" for reason, count in self.skipped.items())
        return f"{len(self.trials)} past trials used" + (
            f"; skipped: {skipped}" if skipped else "")


def load(location: str, space: SearchSpace) -> PastTrials:
    """The ``past_trials`` file (a path under the data root or ``s3://``), read
    and checked before any work: a missing file or one without the columns is
    one line naming it."""
    storage.checked_location(location, "past_trials")
    path = storage.fetch_raw(location)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"past_trials: {location} is over {MAX_BYTES // 2**20} MiB; "
                             f"a trials.csv is a few kB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"past_trials: {location}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"past_trials: {location}: not UTF-8 text") from None
    return parse(text, space, source=location)


def parse(text: str, space: SearchSpace, source: str = "trials.csv") -> PastTrials:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(f"past_trials: {source}: no column {missing[0]!r}; expected a "
                         f"trials.csv with {', '.join(REQUIRED_COLUMNS)}")
    keras2_rates = "learning_rate" not in reader.fieldnames
    trials, skipped = [], Counter()
    try:
        rows = list(reader)
    except csv.Error as error:
        raise InputError(f"past_trials: {source}: not a CSV file ({error})") from None
    for row in rows:
        trial = _trial(row, keras2_rates)
        if trial is None:
            skipped[INVALID] += 1
        elif not space.contains(trial.hyperparams):
            skipped[OUTSIDE] += 1
        else:
            trials.append(trial)
    return PastTrials(trials=tuple(trials), skipped=dict(skipped))


def _trial(row: dict[str, str], keras2_rates: bool) -> PastTrial | None:
    values = {name: (row.get(name) or "").strip() for name in HyperParams.model_fields}
    if keras2_rates:
        values["learning_rate"] = str(KERAS2_LEARNING_RATES.get(values["optimizer"], ""))
    if any(not values[name] for name in REQUIRED_COLUMNS if name in values):
        return None
    finished = (row.get("status") or "").strip().lower() in FINISHED
    try:
        # A blank learning rate (tweetbot's own file) is Keras' default: None.
        hyperparams = HyperParams.from_text({k: v for k, v in values.items() if v})
        # A failed trial's val_loss is blank (tweetbot) or 100 (the tutorial's).
        loss = float(row["val_loss"]) if finished else None
    except (InputError, ValueError):
        return None
    if loss is not None and not math.isfinite(loss):
        loss = None
    return PastTrial(hyperparams=hyperparams, val_loss=loss)
