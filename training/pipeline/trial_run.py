"""One trial of a search: its spec, its command line, and running it.

``TrialSpec`` turns into the ``python -m training.trial`` command line and back
(``arguments``, ``spec_from_args``), so a pod, a local process and the tests run
the same thing. ``run_trial`` suggests the trial as it starts when the spec names
no hyper-parameters (``training.tuning.suggest.next_trial``: late binding, so a
trial learns from every trial finished before it), trains in the trial's nested
MLflow run, prunes by the search's other trials, and reports a ``TrialRecord``
(or ``NothingLeft``); ``run_as_process`` runs the command with the local runner.
"""

from __future__ import annotations

import argparse
import shutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from training import tracking
from training.core import settings
from training.core.atomic import write_atomically
from training.core.config import (
    FitSettings,
    HyperParams,
    PruningSettings,
    TrainJob,
    add_arguments,
    command_parser,
    given_arguments,
    to_arguments,
)
from training.core.errors import InputError, StepHung, TrainingDiverged
from training.core.records import (
    FAILED,
    OK,
    PRUNED,
    RUNNING,
    NothingLeft,
    Step,
    TrialRecord,
    trial_name,
)
from training.data import storage
from training.data.vocab import Vocabulary
from training.model.checkpoints import TrainingState
from training.pipeline import runner
from training.pipeline.stop_signals import stopped
from training.pipeline.training_run import run_training
from training.tracking import tags
from training.tracking.search_store import SearchStore
from training.tuning.pruning import should_prune
from training.tuning.suggest import NoPointLeft, next_trial, search_plan


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial needs; turns into the command line and back."""

    search_id: str
    trial_num: int
    data_dir: str  # a folder or an s3:// prefix, as given
    hyperparams: HyperParams | None = None  # None: suggested when the trial starts
    fit: FitSettings = field(default_factory=FitSettings)
    pruning: PruningSettings = field(default_factory=PruningSettings)
    result_path: Path | None = None  # where a runner or pod placed it
    checkpoint_dir: Path | None = None

    def arguments(self) -> list[str]:
        """The trial's command-line arguments, for a pod's ``arguments`` or argv."""
        arguments = ["--search-id", self.search_id, "--trial-num", str(self.trial_num),
                     "--data-dir", str(self.data_dir)]
        if self.result_path is not None:
            arguments += ["--result-path", str(self.result_path)]
        if self.checkpoint_dir is not None:
            arguments += ["--checkpoint-dir", str(self.checkpoint_dir)]
        chosen = to_arguments(self.hyperparams) if self.hyperparams is not None else []
        return [*arguments, *chosen, *to_arguments(self.fit), *to_arguments(self.pruning)]

    def step(self, label: str = "", environment: dict[str, str] | None = None,
             wait_for_ended: int = 0) -> Step:
        """This trial as a step for a placement to put on a worker or in a pod."""
        return Step(module="training.trial", arguments=tuple(self.arguments()),
                    folder=self.search_id, name=trial_name(self.trial_num),
                    label=label or f"trial {self.trial_num}", checkpoint=True,
                    environment=environment or {}, trial_num=self.trial_num,
                    wait_for_ended=wait_for_ended)

    def default_checkpoint_dir(self) -> Path:
        """The local runner's folder for this trial."""
        return runner.folder(self.search_id) / trial_name(self.trial_num)


def describe_failure(error: BaseException) -> str:
    """One line a person can act on, for the trial table and the MLflow tag."""
    text = (str(error).strip().splitlines() or [""])[0]
    name = type(error).__name__
    if isinstance(error, MemoryError) or name == "ResourceExhaustedError":
        return f"out of memory: {text}"[:500]
    if isinstance(error, TrainingDiverged):
        return f"diverged: {text}"
    if isinstance(error, StepHung):
        return f"hung: {text}"
    if isinstance(error, InputError):
        return f"bad input: {text}"
    return f"{name}: {text}"[:500]


def run_trial(spec: TrialSpec, on_run: Callable[[str], None] | None = None
              ) -> TrialRecord | NothingLeft:
    """Run (or report, or continue) one trial and write its result file.
    ``on_run`` is told the trial's MLflow run id as soon as it is known."""
    store = SearchStore(spec.search_id)
    if spec.hyperparams is None:
        try:
            record = next_trial(store, search_plan(store), spec.trial_num)
        except NoPointLeft as nothing:
            return _write(spec, NothingLeft(search_id=spec.search_id,
                                            trial_num=spec.trial_num, reason=str(nothing)))
        spec = replace(spec, hyperparams=record.hyperparams)
    else:
        record = store.find_trial(spec.trial_num)
    if record is None:
        # Only suggesting creates a trial: one made here, in a store the search
        # does not read, would leave the search's own record pending for ever.
        raise InputError(f"--trial-num {spec.trial_num}: search {spec.search_id} has no "
                         f"such trial in {tracking.tracking_uri()} (experiment "
                         f"{settings.experiment_name()}); a trial is suggested first "
                         f"(the DAG or training.search), then run")
    if on_run is not None:
        on_run(record.run_id)
    if record.finished:
        return _write(spec, record)
    if record.hyperparams != spec.hyperparams:
        raise InputError(f"--trial-num {spec.trial_num}: search {spec.search_id} "
                         f"suggested it with other hyper-parameters")
    run_id = record.run_id
    restore = _prepare_checkpoint_dir(spec, run_id)
    vocab_size = Vocabulary.default().size  # what run_training trains with
    store.set_status(run_id, RUNNING)

    def judge(epochs) -> str | None:
        if len(epochs) >= spec.fit.num_epochs:
            return None  # finished anyway: pruning now would only mislabel it
        others = store.val_loss_curves(exclude_run_id=run_id).values()
        return "pruned" if should_prune([e.val_loss for e in epochs], list(others),
                                        spec.pruning, vocab_size,
                                        max_epochs=spec.fit.num_epochs) else None

    outcome = TrialRecord(search_id=spec.search_id, trial_num=spec.trial_num,
                          run_id=run_id, hyperparams=spec.hyperparams, status=FAILED)
    try:
        # Fetching the splits is part of the trial: a bucket this pod cannot
        # read fails this trial with its reason, not the task before it started.
        job = TrainJob(data_dir=storage.local_splits(spec.data_dir),
                       data_location=str(spec.data_dir),
                       hyperparams=spec.hyperparams, fit=spec.fit,
                       checkpoint_dir=spec.checkpoint_dir or spec.default_checkpoint_dir(),
                       restore=restore)
        fitted = run_training(job, run_id=run_id, judge_epoch=judge,
                              run_tags={tags.KIND: tags.TRIAL})
    except Exception as error:  # a failed trial is a result; the search goes on
        if (stop := stopped()) is not None:
            raise stop from error  # interrupted, not failed: the next run continues it
        if not isinstance(error, InputError):
            traceback.print_exc()
        reason = describe_failure(error)
        store.fail_run(run_id, reason)
        return _write(spec, outcome.model_copy(update={"failure_reason": reason}))
    state = fitted.state
    status = PRUNED if state.stop_reason == "pruned" else OK
    store.set_status(run_id, status)
    best = state.best
    return _write(spec, outcome.model_copy(update={
        "status": status, "val_loss": best.val_loss, "train_loss": best.loss,
        "num_epochs": state.epochs_done,
        "avg_epoch_seconds": sum(e.epoch_seconds for e in state.epochs) / state.epochs_done}))


def trial_result(result: dict) -> TrialRecord | NothingLeft:
    """A trial command's JSON result, as the type it is."""
    return NothingLeft.from_json(result) if "reason" in result else TrialRecord.from_json(result)


def run_as_process(step: Step, output: TextIO | None = None) -> TrialRecord | NothingLeft:
    """Run a trial step with the local runner (the DAG's local placement and
    ``training.search``). A process that dies without reporting (a kill, an OOM)
    is recorded as a failed trial, which is a result, not a crash; an interrupted
    one (Ctrl-C) is left as it is, to be continued."""
    try:
        return trial_result(runner.run(runner.place(step), output))
    except runner.StepFailed as failure:
        spec = spec_from_args(build_parser().parse_args(list(step.arguments)))
        record = SearchStore(spec.search_id).mark_failed(spec.trial_num, str(failure))
        if record is None:  # no trial to record it on: a real failure
            raise
        return record


def _prepare_checkpoint_dir(spec: TrialSpec, run_id: str) -> bool:
    """True when the folder holds this trial's interrupted run, to be continued."""
    directory = spec.checkpoint_dir or spec.default_checkpoint_dir()
    state = TrainingState.load(directory)
    if state is None:
        return False
    if state.mlflow_run_id == run_id:
        return True
    if directory.parts[-2:] == (spec.search_id, trial_name(spec.trial_num)):
        # A folder named for this very trial that holds another run was left by a
        # record that is gone (an MLflow store reset): stale, not someone else's.
        shutil.rmtree(directory)
        return False
    raise InputError(f"--checkpoint-dir {directory}: holds another run "
                     f"({state.mlflow_run_id}); give this trial its own folder")


def _write(spec: TrialSpec, record: TrialRecord | NothingLeft) -> TrialRecord | NothingLeft:
    if spec.result_path is not None:
        spec.result_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(spec.result_path, record.model_dump_json().encode())
    return record


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("training.trial", "Run one hyper-parameter search trial and "
                                              "write its JSON result.")
    trial = parser.add_argument_group("trial")
    trial.add_argument("--search-id", required=True, help="the search this trial belongs to")
    trial.add_argument("--trial-num", type=int, required=True, help="trial number, from 1")
    trial.add_argument("--data-dir", required=True,
                       help="folder or s3:// prefix holding train.txt and validate.txt")
    trial.add_argument("--result-path", type=Path,
                       help="also write the JSON result (training.core.records.TrialRecord) "
                            "here")
    trial.add_argument("--checkpoint-dir", type=Path,
                       help="checkpoint folder (default: $TWEETBOT_HOME/runs/<search id>/"
                            "trial-NNN)")
    add_arguments(parser, HyperParams, "model and optimizer (none given: the trial is "
                                       "suggested as it starts, from the search's plan)")
    add_arguments(parser, FitSettings, "training (--num-epochs is the trial's maximum)")
    add_arguments(parser, PruningSettings, "pruning")
    return parser


def spec_from_args(args: argparse.Namespace) -> TrialSpec:
    if args.trial_num < 1:
        raise InputError(f"--trial-num: {args.trial_num} must be at least 1")
    chosen = given_arguments(args, HyperParams)
    return TrialSpec(
        search_id=args.search_id, trial_num=args.trial_num, data_dir=args.data_dir,
        result_path=args.result_path, checkpoint_dir=args.checkpoint_dir,
        hyperparams=HyperParams.from_mapping(chosen) if chosen else None,
        fit=FitSettings.from_mapping(given_arguments(args, FitSettings)),
        pruning=PruningSettings.from_mapping(given_arguments(args, PruningSettings)))
