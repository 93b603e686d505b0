"""Score a trained model, and the current champion, on the test split.

    python -m training.evaluate --run-id <mlflow run> --data-dir data/tweets-split \\
        --result-path evaluation.json

Both models read ``test.txt`` as one stream through their stateless inference
graphs (state carried across chunks, each character predicted from all before
it), so the two numbers are directly comparable whatever batch size each was
trained with. The result: the run's test_loss (nats per character) and bits per
character, and the champion's version and test_loss on the same split.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from training import storage
from training.atomic import write_atomically
from training.data import TEST, inspect_split, split_path
from training.errors import InputError
from training.records import Evaluation
from training.tracking import registry, runs
from training.vocab import Vocabulary

CHUNK_CHARS = 2048


def stream_loss(generator, ids: np.ndarray) -> float:
    """Mean cross-entropy of each character given all earlier ones (nats)."""
    context = np.concatenate([[generator.newline_id], ids]).astype(np.int32)
    states = generator.zero_states(1)
    total = 0.0
    for start in range(0, len(ids), CHUNK_CHARS):
        inputs = context[start:start + CHUNK_CHARS][None, :]
        targets = context[start + 1:start + 1 + CHUNK_CHARS]
        logits, states = generator.step(inputs[:, :len(targets)], states)
        logits = logits[0].astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        total -= log_probs[np.arange(len(targets)), targets].sum()
    return total / len(ids)


def run_test_loss(run_id: str, ids: np.ndarray) -> float:
    from training.generate import TweetGenerator  # TensorFlow: only once needed

    with tempfile.TemporaryDirectory() as scratch:
        folder = runs.download_checkpoint(run_id, Path(scratch))
        return stream_loss(TweetGenerator.from_checkpoint(folder), ids)


def evaluate(run_id: str, data_dir: Path) -> Evaluation:
    path = split_path(data_dir, TEST)
    vocab = Vocabulary.default()
    inspect_split(path, vocab)  # exists, UTF-8, not empty
    ids = vocab.byte_to_id[np.frombuffer(path.read_bytes(), dtype=np.uint8)]
    test_loss = run_test_loss(run_id, ids)
    champion = registry.champion()
    champion_loss = None
    if champion is not None:
        champion_loss = (test_loss if champion.run_id == run_id
                         else run_test_loss(champion.run_id, ids))
    runs.log_metric(run_id, "test_loss", test_loss)
    return Evaluation(run_id=run_id, test_loss=test_loss,
                      test_bits_per_char=test_loss / math.log(2),
                      champion_version=int(champion.version) if champion else None,
                      champion_test_loss=champion_loss)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate",
                                     description="Test-split loss of a run's model and of "
                                                 "the current champion.")
    parser.add_argument("--run-id", required=True, help="MLflow run of the trained model")
    parser.add_argument("--data-dir", required=True, help="folder or s3:// prefix with test.txt")
    parser.add_argument("--result-path", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.run_id, storage.local_splits(args.data_dir, names=(TEST,)))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
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
