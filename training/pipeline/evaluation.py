"""The evaluate step: a run's model and the champion, scored on the same test split.

The run's test_loss (nats per character) is logged on its MLflow run, with the
test split as a dataset input; the champion's is computed on the same split so
that the two numbers compare (``training.model.scoring``), tweet by tweet, so
that the new model's gain over the champion gets a bootstrap lower bound
(``training.model.comparison``), which the promotion decides on.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from training.core.errors import DamagedArtifact
from training.core.records import Evaluation
from training.data.splits import TEST, inspect_split, split_path
from training.data.vocab import Vocabulary
from training.model.checkpoints import BEST_FILENAME, STATE_FILENAME, TrainingState
from training.model.comparison import paired_gain
from training.model.scoring import StreamScore, stream_score
from training.tracking import registry, runs


def run_score(run_id: str, ids: np.ndarray) -> StreamScore:
    from training.model.generator import TweetGenerator  # TensorFlow: only once needed

    with tempfile.TemporaryDirectory() as scratch:
        folder = runs.download_checkpoint(run_id, Path(scratch))
        checked_model(run_id, folder)
        return stream_score(TweetGenerator.from_checkpoint(folder), ids)


def checked_model(run_id: str, folder: Path) -> None:
    """Refuse a downloaded checkpoint whose best.keras is not the one the run
    wrote (its state.json holds the SHA-256), and mark the run's model damaged,
    so that nobody registers it by hand."""
    state = TrainingState.load(folder)
    if state is None:
        return  # a run that logged no state (an import): nothing to check against
    try:
        state.checked_file(folder, BEST_FILENAME)
    except DamagedArtifact:
        reason = (f"run {run_id}: {BEST_FILENAME} is damaged: SHA-256 differs from the "
                  f"run's {STATE_FILENAME}")
        runs.mark_damaged(run_id, reason)
        raise DamagedArtifact(reason) from None


def evaluate(run_id: str, data_dir: Path, location: str | None = None) -> Evaluation:
    """``location``: where ``data_dir``'s splits came from (an s3:// prefix), for
    the run's record of its test split; default ``data_dir``. With a champion,
    both are scored tweet by tweet and the gain bounded (``paired_gain``)."""
    path = split_path(data_dir, TEST)
    vocab = Vocabulary.default()
    info = inspect_split(path, vocab)  # exists, UTF-8, not empty
    ids = vocab.byte_to_id[np.frombuffer(path.read_bytes(), dtype=np.uint8)]
    score = run_score(run_id, ids)
    champion = registry.champion()
    compared = {}
    if champion is not None:
        against = score if champion.run_id == run_id else run_score(champion.run_id, ids)
        gain = paired_gain(score.tweet_nats, against.tweet_nats)
        compared = {"champion_version": int(champion.version),
                    "champion_test_loss": against.loss, "gain": gain.point,
                    "gain_lower_bound": gain.lower_bound, "gain_units": gain.units,
                    "gain_unit": gain.unit, "bootstrap_resamples": gain.resamples,
                    "bootstrap_seed": gain.seed, "confidence": gain.confidence}
    evaluation = Evaluation(run_id=run_id, test_loss=score.loss,
                            test_bits_per_char=score.loss / math.log(2),
                            test_sha256=info.sha256, **compared)
    for name, value in evaluation_metrics(evaluation).items():
        if value is not None:
            runs.log_metric(run_id, name, value)
    runs.log_split_inputs(run_id, location or str(data_dir), {TEST: info})
    return evaluation


def evaluation_metrics(evaluation: Evaluation) -> dict[str, float | None]:
    """What an evaluation logs on the run it scored."""
    return {"test_loss": evaluation.test_loss, "test_gain": evaluation.gain,
            "test_gain_lower_bound": evaluation.gain_lower_bound,
            "test_gain_units": evaluation.gain_units}
