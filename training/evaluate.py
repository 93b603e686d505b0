"""Score a trained model, and the current champion, on the test split.

    python -m training.evaluate --run-id <mlflow run> --data-dir data/tweets-split \\
        --result-path evaluation.json

Both models read ``test.txt`` through their stateless inference graphs, state
carried across chunks, each character predicted from the text before it (the
split cut into pieces scored side by side, see ``stream_loss``), so the two
numbers are directly comparable whatever batch size each was trained with. The
result: the run's test_loss (nats per character) and bits per character, and the
champion's version and test_loss on the same split.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training import storage
from training.atomic import write_atomically
from training.data import TEST, inspect_split, split_path
from training.errors import InputError
from training.records import Evaluation
from training.step_cost import recording_cost
from training.tracking import cost, registry, runs
from training.vocab import Vocabulary

# The test split is scored as up to STREAMS pieces side by side, one batch row
# each: an LSTM step on one row is bound by reading the weights, so 64 rows cost
# little more than one. Every piece but the first starts WARMUP_CHARS early; if
# its state after the warm-up is not the state the piece before ends in (within
# STATE_TOLERANCE), it is scored again from that state, so the result is the
# one-stream loss whatever the model. A piece is at least 4 x WARMUP_CHARS long,
# so the warm-up costs at most a quarter more work.
STREAMS = 64
WARMUP_CHARS = 256
STATE_TOLERANCE = 1e-4
# Steps per call: calls have few distinct shapes, so the graph is traced few times.
CHUNK_CHARS = 512


@dataclass(frozen=True)
class StreamScore:
    loss: float  # mean nats per character, each given all the text before it
    pieces: int  # rows scored side by side
    rescored: int  # pieces whose warm-up did not reach the true state


def stream_loss(generator, ids: np.ndarray, streams: int = STREAMS,
                warmup: int = WARMUP_CHARS) -> float:
    """Mean cross-entropy of each character given all the text before it (nats)."""
    return stream_score(generator, ids, streams, warmup).loss


def stream_score(generator, ids: np.ndarray, streams: int = STREAMS,
                 warmup: int = WARMUP_CHARS) -> StreamScore:
    """Score ``ids`` as pieces side by side; the same loss as one stream.

    Row ``j`` reads ``warm + piece`` characters from ``j * piece``: row 0 scores
    all of them, every other row only its last ``piece``, after ``warm``
    (``warmup`` or a little more) characters of warm-up; each row ends exactly
    where the next one's scored part starts, so its final state is the true
    state there, against which the next row's warm-up is checked."""
    context = np.concatenate([[generator.newline_id], ids]).astype(np.int32)
    rows = max(1, min(streams, (len(ids) - warmup) // (4 * warmup)))
    piece = (len(ids) - warmup) // rows if rows > 1 else 0
    warm = len(ids) - rows * piece
    positions = np.arange(rows)[:, None] * piece + np.arange(warm + piece)
    inputs, targets = context[positions], context[positions + 1]
    warm_nll, warmed = _nll(generator, inputs[:, :warm], targets[:, :warm],
                            generator.zero_states(rows))
    row_nll, final = _nll(generator, inputs[:, warm:], targets[:, warm:], warmed)
    row_nll[0] += warm_nll[0]
    rescored = 0
    for row in range(1, rows):  # in order: the row before is exact by now
        gap = max(np.abs(w[row] - f[row - 1]).max()
                  for w, f in zip(warmed, final, strict=True))
        if gap > STATE_TOLERANCE:
            # The warm-up did not reach the true state: score the piece from it.
            nll, states = _nll(generator, inputs[row:row + 1, warm:],
                               targets[row:row + 1, warm:],
                               [f[row - 1:row] for f in final])
            row_nll[row] = nll[0]
            for f, state in zip(final, states, strict=True):
                f[row] = state[0]
            rescored += 1
    return StreamScore(float(row_nll.sum() / len(ids)), rows, rescored)


def _nll(generator, inputs: np.ndarray, targets: np.ndarray, states):
    """Per-row summed negative log-likelihood of ``targets``, and the final states."""
    total = np.zeros(len(inputs))
    states = [np.array(state) for state in states]
    for start in range(0, inputs.shape[1], CHUNK_CHARS):
        window = slice(start, start + CHUNK_CHARS)
        logits, states = generator.step(inputs[:, window], states)
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=2, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=2))
        picked = np.take_along_axis(logits, targets[:, window, None], axis=2)[..., 0]
        total -= (picked - log_norm).sum(axis=1)
    return total, [np.array(state) for state in states]


def run_test_loss(run_id: str, ids: np.ndarray) -> float:
    from training.generate import TweetGenerator  # TensorFlow: only once needed

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
