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
import json
import math
import sys
import tempfile
from pathlib import Path

import mlflow
import numpy as np

from training import registry, storage, tracking
from training.checkpoints import write_atomically
from training.data import TEST, inspect_split, split_path
from training.errors import InputError
from training.vocab import Vocabulary

CHUNK_CHARS = 2048


def stream_loss(generator, ids: np.ndarray) -> float:
    """Mean cross-entropy of each character given all earlier ones (nats)."""
    context = np.concatenate([[generator.newline_id], ids]).astype(np.int32)
    states = [np.zeros((1, generator.state_size), np.float32)] * generator.num_states
    total = 0.0
    for start in range(0, len(ids), CHUNK_CHARS):
        inputs = context[start:start + CHUNK_CHARS][None, :]
        targets = context[start + 1:start + 1 + CHUNK_CHARS]
        logits, states = generator._step(inputs[:, :len(targets)], states)
        logits = logits[0].astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        total -= log_probs[np.arange(len(targets)), targets].sum()
    return total / len(ids)


def run_test_loss(run_id: str, ids: np.ndarray) -> float:
    from training.generate import TweetGenerator

    with tempfile.TemporaryDirectory() as scratch:
        folder = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="checkpoint",
                                                     dst_path=scratch)
        return stream_loss(TweetGenerator.from_checkpoint(Path(folder)), ids)


def evaluate(run_id: str, data_dir: Path) -> dict:
    tracking.configure()
    path = split_path(data_dir, TEST)
    vocab = Vocabulary.default()
    inspect_split(path, vocab)  # exists, UTF-8, not empty
    ids = vocab.byte_to_id[np.frombuffer(path.read_bytes(), dtype=np.uint8)]
    test_loss = run_test_loss(run_id, ids)
    champion = registry.version_by_alias(registry.CHAMPION)
    champion_loss = None
    if champion is not None:
        champion_loss = (test_loss if champion.run_id == run_id
                         else run_test_loss(champion.run_id, ids))
    mlflow.MlflowClient().log_metric(run_id, "test_loss", test_loss)
    return {"run_id": run_id, "test_loss": test_loss,
            "test_bits_per_char": test_loss / math.log(2),
            "champion_version": champion.version if champion else None,
            "champion_test_loss": champion_loss}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate",
                                     description="Test-split loss of a run's model and of "
                                                 "the current champion.")
    parser.add_argument("--run-id", required=True, help="MLflow run of the trained model")
    parser.add_argument("--data-dir", required=True, help="folder or s3:// prefix with test.txt")
    parser.add_argument("--result-path", type=Path, default=Path("/airflow/xcom/return.json"),
                        help="where to write the JSON result")
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.run_id, storage.local_splits(args.data_dir, names=(TEST,)))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.result_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.result_path, json.dumps(result).encode())
    champion = (f"champion v{result['champion_version']}: {result['champion_test_loss']:.4f}"
                if result["champion_version"] else "no champion yet")
    print(f"test_loss {result['test_loss']:.4f} ({result['test_bits_per_char']:.3f} "
          f"bits/char); {champion}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
