"""One trial of a search: the exact command a Kubernetes pod or a local process runs.

    python -m training.trial --search-id nightly-2026-11-29 --trial-num 3 \\
        --data-dir data/tweets-split --num-epochs 5 --result-path result.json

Suggests trial 3 as it starts, from the search's plan and every trial finished
by then (as MLflow holds them), and records it under the search's parent run;
with hyper-parameter flags (``--batch-size 64 --rnn-size 128 ...``) it runs the
trial suggested with exactly those instead. Trains for at most ``--num-epochs``,
stops early if it is losing to the other trials (pruning, read from MLflow), and
writes a small JSON result to ``--result-path``: status (ok, pruned or failed),
val_loss, train_loss, num_epochs, avg_epoch_seconds, the MLflow run id and the
failure reason. A failed trial is a result, not a crash: the command exits 0
whenever it wrote one. Run it again with the same search id and trial number and
it reports the finished trial instead of training again, or continues an
interrupted one from its last finished epoch.
"""

from __future__ import annotations

import sys

from training.core.errors import InputError
from training.core.records import NothingLeft
from training.pipeline.step_cost import recording_cost
from training.pipeline.stop_signals import unwind_on_stop_signals
from training.pipeline.trial_run import build_parser, run_trial, spec_from_args
from training.tracking import cost


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with recording_cost(cost.TRIAL) as clock:
            spec = spec_from_args(args)
            unwind_on_stop_signals()
            result = run_trial(spec, on_run=clock.charge_to)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if isinstance(result, NothingLeft):
        print(f"trial {result.trial_num} of {result.search_id}: nothing left to try "
              f"({result.reason})")
        return 0
    loss = f"val_loss {result.val_loss:.4f}" if result.val_loss is not None else ""
    print(f"trial {result.trial_num} of {result.search_id}: {result.status} {loss} "
          f"{result.failure_reason or ''}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
