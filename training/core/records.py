"""What the steps of a search and of a DAG run hand each other.

Small frozen types with explicit JSON at the boundary (``to_json`` /
``from_json``): Airflow's XCom and a step's result file carry the JSON, the code
carries these types. No MLflow or TensorFlow here, so ranking, plotting and
planning cost no heavy import.

    validate_splits -> RunInputs       (training.pipeline.run_inputs)
    start_search    -> [Step]          (one trial command per trial number)
    a trial         -> TrialRecord     (also what MLflow holds of every trial),
                       or NothingLeft  (the space had no untried point for it)
    select          -> ChosenTrial
    train           -> TrainedModel
    evaluate        -> Evaluation
    register        -> Registration

Every result that an MLflow run stands behind carries its ``run_id``: the
Airflow UI's "MLflow run" link opens it.
"""

from __future__ import annotations

import typing
from typing import Literal

from pydantic import Field

from training.core.config import Frozen, HyperParams

TrialStatus = Literal["pending", "running", "ok", "pruned", "failed"]
PENDING, RUNNING, OK, PRUNED, FAILED = typing.get_args(TrialStatus)
FINISHED_STATUSES = (OK, PRUNED, FAILED)


def trial_name(trial_num: int) -> str:
    """``trial-003``: names a trial's MLflow run, result file, log and checkpoints."""
    return f"trial-{trial_num:03d}"


class TrialRecord(Frozen):
    """One trial: what the trial command reports and what MLflow holds of it."""

    search_id: str
    trial_num: int
    run_id: str
    hyperparams: HyperParams
    status: TrialStatus
    val_loss: float | None = None
    train_loss: float | None = None
    num_epochs: int = 0
    avg_epoch_seconds: float | None = None
    failure_reason: str | None = None
    seeded: str | None = None  # not the sampler's: "tutorial", "champion", "earlier" or "portfolio"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class NothingLeft(Frozen):
    """A trial that found nothing to try: every point of the space was tried,
    taken, or cannot run on the splits. Not a trial of the search."""

    search_id: str
    trial_num: int
    reason: str


class Step(Frozen):
    """A step as a command, ``python -m <module> <arguments>``, before it is placed.

    Where it runs, where it writes its JSON result (``--result-path``) and where
    it keeps checkpoints (``--checkpoint-dir``, when ``checkpoint`` is set) are
    the placement's to decide: a local process and a pod differ only there.
    ``name`` is unique within ``folder`` (the search id) and names both."""

    module: str
    arguments: tuple[str, ...]
    folder: str
    name: str
    label: str = ""
    checkpoint: bool = False
    # What the command needs to find the run's MLflow record (``Tracking``), given
    # to a local process and a pod alike; credentials never: those come from the
    # worker's environment or the pod's secret.
    environment: dict[str, str] = Field(default_factory=dict)
    trial_num: int | None = None  # a trial's number, for what its pod is labelled with
    # How many of the run's tasks of this step's kind must have ended before it
    # starts: at most ``parallel`` trials at once (tweetbot_airflow.trial_slots).
    wait_for_ended: int = 0


class Tracking(Frozen):
    """Where a DAG run keeps its MLflow record, as its first step found it. Every
    later step of the run, on whatever machine, must use the same."""

    uri: str
    experiment: str

    def environment(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.uri, "TWEETBOT_EXPERIMENT": self.experiment}


class ChosenTrial(Frozen):
    """The trial the base model is trained with, and why."""

    run_id: str  # the search's parent run, where the table and the plot are
    trial_num: int
    trial_run_id: str
    hyperparams: HyperParams
    val_loss: float
    reason: str
    # For the "Compare trials" link: the experiment and every trial that reported.
    experiment_id: str | None = None
    trial_run_ids: tuple[str, ...] = ()

    @property
    def search_run_id(self) -> str:
        return self.run_id


class TrainedModel(Frozen):
    """A finished ``python -m training.train`` run."""

    run_id: str
    model_uri: str | None
    best_val_loss: float
    best_epoch: int
    num_epochs: int
    stop_reason: str | None


class Evaluation(Frozen):
    """Test-split loss of a model and of the champion it challenges, and the
    model's gain over it with its bootstrap lower bound
    (``training.model.comparison``: ``gain_lower_bound`` None with too few units)."""

    run_id: str
    test_loss: float
    test_bits_per_char: float
    champion_version: int | None = None
    champion_test_loss: float | None = None
    test_sha256: str | None = None
    gain: float | None = None
    gain_lower_bound: float | None = None
    gain_units: int | None = None
    gain_unit: str | None = None
    bootstrap_resamples: int | None = None
    bootstrap_seed: int | None = None
    confidence: float | None = None


class Registration(Frozen):
    """The model version a run registered, and whether it became the champion."""

    run_id: str
    version: int
    champion: bool
    test_loss: float
    verdict: str
    # It beats the champion, and the run requires a person to approve the move.
    awaiting_approval: bool = False
    previous_champion: int | None = None  # the champion it was tested against
    previous_test_loss: float | None = None
    # Its gain over that champion and the gain's lower bound (Evaluation's).
    gain: float | None = None
    gain_lower_bound: float | None = None
    gain_units: int | None = None
    confidence: float | None = None
    cost: str | None = None  # what the DAG run's steps cost, for people to read
