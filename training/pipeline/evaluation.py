"""The evaluate step: a run's model and the champion, scored on the same test split.

The run's test_loss (nats per character) is logged on its MLflow run, with the
test split as a dataset input; the champion's is computed on the same split so
that the two numbers compare (``training.model.scoring``).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from training.core.records import Evaluation
from training.data.splits import TEST, inspect_split, split_path
from training.data.vocab import Vocabulary
from training.model.scoring import stream_loss
from training.tracking import registry, runs


def run_test_loss(run_id: str, ids: np.ndarray) -> float:
    from training.model.generator import TweetGenerator  # TensorFlow: only once needed

    with tempfile.TemporaryDirectory() as scratch:
        folder = runs.download_checkpoint(run_id, Path(scratch))
        return stream_loss(TweetGenerator.from_checkpoint(folder), ids)


def evaluate(run_id: str, data_dir: Path, location: str | None = None) -> Evaluation:
    """``location``: where ``data_dir``'s splits came from (an s3:// prefix), for
    the run's record of its test split; default ``data_dir``."""
    path = split_path(data_dir, TEST)
    vocab = Vocabulary.default()
    info = inspect_split(path, vocab)  # exists, UTF-8, not empty
    ids = vocab.byte_to_id[np.frombuffer(path.read_bytes(), dtype=np.uint8)]
    test_loss = run_test_loss(run_id, ids)
    champion = registry.champion()
    champion_loss = None
    if champion is not None:
        champion_loss = (test_loss if champion.run_id == run_id
                         else run_test_loss(champion.run_id, ids))
    runs.log_metric(run_id, "test_loss", test_loss)
    runs.log_split_inputs(run_id, location or str(data_dir), {TEST: info})
    return Evaluation(run_id=run_id, test_loss=test_loss,
                      test_bits_per_char=test_loss / math.log(2),
                      champion_version=int(champion.version) if champion else None,
                      champion_test_loss=champion_loss)
