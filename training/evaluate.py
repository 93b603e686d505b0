"""Score a trained model, and the current champion, on the test split.

    python -m training.evaluate --run-id <mlflow run> --data-dir data/tweets-split \\
        --result-path evaluation.json

Both models read ``test.txt`` through their stateless inference graphs, state
carried across chunks, each character predicted from the text before it
(``training.model.scoring``), so the two numbers are directly comparable whatever
batch size each was trained with. The result: the run's test_loss (nats per
character) and bits per character, and the champion's version and test_loss on
the same split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.core.atomic import write_atomically
from training.core.errors import InputError, exit_status
from training.data import storage
from training.data.splits import TEST
from training.pipeline.evaluation import evaluate
from training.pipeline.step_cost import recording_cost
from training.tracking import cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate",
                                     description="Test-split loss of a run's model and of "
                                                 "the current champion.")
    parser.add_argument("--run-id", required=True, help="MLflow run of the trained model")
    parser.add_argument("--data-dir", required=True, help="folder or s3:// prefix with test.txt")
    parser.add_argument("--result-path", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)
    try:
        # The evaluation is the base model's cost too: charged to the run it scores.
        with recording_cost(cost.EVALUATE, run_id=args.run_id):
            result = evaluate(args.run_id, storage.local_splits(args.data_dir, names=(TEST,)),
                              args.data_dir)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return exit_status(error)
    if args.result_path:
        args.result_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(args.result_path, result.model_dump_json().encode())
    champion = (f"champion v{result.champion_version}: {result.champion_test_loss:.4f}"
                if result.champion_version else "no champion yet")
    print(f"test_loss {result.test_loss:.4f} ({result.test_bits_per_char:.3f} "
          f"bits/char); {champion}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
