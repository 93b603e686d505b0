"""Train one char-LSTM on a folder of splits and record it in MLflow.

    python -m training.train --checkpoint-dir runs/base --data-dir data/tweets-split \\
        --rnn-size 256 --num-epochs 20
    python -m training.train --checkpoint-dir runs/base --data-dir data/tweets-split --restore

The data folder holds ``train.txt`` and ``validate.txt`` (``python -m training.split``
makes them). Everything is checked before training: a bad file or an impossible
parameter exits with status 2 and one line saying which. ``--restore`` continues a
killed or finished run from its last finished epoch, in the same MLflow run, with
the hyper-parameters stored in the checkpoint folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.core.atomic import write_atomically
from training.core.config import (
    FitSettings,
    HyperParams,
    TrainJob,
    add_arguments,
    command_parser,
    given_arguments,
)
from training.core.errors import InputError, TrainingDiverged, exit_status
from training.core.records import TrainedModel
from training.data import storage
from training.model.checkpoints import (
    TrainingState,
)
from training.pipeline.step_cost import recording_cost
from training.pipeline.stop_signals import unwind_on_stop_signals
from training.pipeline.training_run import run_training
from training.tracking import cost, runs

DEFAULT_DATA_DIR = Path("data/tweets-split")


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("training.train", "Train an LSTM character model on tweet "
                                              "splits and log it to MLflow.")
    where = parser.add_argument_group("data and checkpoints")
    where.add_argument("--checkpoint-dir", type=Path, required=True,
                       help="folder for checkpoints, vocabulary and TensorBoard logs "
                            "(required)")
    where.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                       help="folder or s3:// prefix holding train.txt and validate.txt")
    resume = where.add_mutually_exclusive_group()
    resume.add_argument("--restore", action="store_true",
                        help="continue the run in --checkpoint-dir from its last "
                             "finished epoch")
    resume.add_argument("--resume", action="store_true",
                        help="like --restore when --checkpoint-dir holds a run, else "
                             "start one (what a retried pipeline task wants)")
    where.add_argument("--run-name", help="MLflow run name (default: MLflow's)")
    where.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                       help="MLflow tag for the run; repeatable")
    where.add_argument("--log-model", action="store_true",
                       help="also log the best checkpoint as an MLflow model that "
                            "generates tweets (for the model registry)")
    where.add_argument("--result-path", type=Path,
                       help="also write the JSON result (training.core.records.TrainedModel) "
                            "here")
    add_arguments(parser, HyperParams, "model and optimizer")
    add_arguments(parser, FitSettings, "training")
    return parser


def job_from_args(args: argparse.Namespace) -> TrainJob:
    given = given_arguments(args, HyperParams)
    if args.resume:
        args.restore = TrainingState.load(args.checkpoint_dir) is not None
    if args.restore:
        state = TrainingState.load(args.checkpoint_dir)
        if state is None:
            raise InputError(f"--restore: {args.checkpoint_dir} holds no training run")
        stored = HyperParams.from_mapping(state.hyperparams)
        changed = [k for k, v in given.items() if getattr(stored, k) != v]
        if changed:
            flag = "--" + changed[0].replace("_", "-")
            raise InputError(f"{flag}: {given[changed[0]]} differs from the checkpoint's "
                             f"{getattr(stored, changed[0])}; --restore keeps the "
                             f"stored hyper-parameters")
        hyperparams = stored
    else:
        hyperparams = HyperParams.from_mapping(given)
    return TrainJob(data_dir=storage.local_splits(args.data_dir),
                    data_location=args.data_dir,
                    checkpoint_dir=args.checkpoint_dir,
                    hyperparams=hyperparams,
                    fit=FitSettings.from_mapping(given_arguments(args, FitSettings)),
                    restore=args.restore, run_name=args.run_name)


def _parse_tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--tag {pair!r}: expected KEY=VALUE")
        tags[key] = value
    return tags


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with recording_cost(cost.TRAIN) as clock:
            run_tags = _parse_tags(args.tag)
            job = job_from_args(args)
            unwind_on_stop_signals()
            result = run_training(job, run_tags=run_tags, log_model=args.log_model,
                                  on_run=clock.charge_to)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return exit_status(error)
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    best, state = result.best, result.state
    if args.result_path:
        trained = TrainedModel(run_id=state.mlflow_run_id, model_uri=runs.model_uri(
                                   state.mlflow_run_id),
                               best_val_loss=best.val_loss, best_epoch=best.epoch,
                               num_epochs=state.epochs_done, stop_reason=state.stop_reason)
        args.result_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(args.result_path, trained.model_dump_json().encode())
    print(f"best val_loss {best.val_loss:.4f} ({best.val_bits_per_char:.3f} bits/char) "
          f"at epoch {best.epoch} of {state.epochs_done} ({state.stop_reason}); "
          f"{best.chars_per_second:,.0f} chars/s; checkpoint "
          f"{result.best_checkpoint}; MLflow run {state.mlflow_run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
