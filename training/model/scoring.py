"""A model's loss on a text: each character given all the text before it.

The text is read through the model's stateless inference graph with the state
carried across chunks, the text cut into pieces scored side by side
(``stream_score``), so the loss of two models trained with different batch sizes
is directly comparable. Each character's loss is kept (4 bytes a character), so
the score also holds the nats of each tweet (``tweet_nats``): the units over
which two models' losses on the same text are compared (``training.model.comparison``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    tweet_nats: np.ndarray  # summed nats of each tweet (a line and its newline), in order
    tweet_chars: np.ndarray  # characters of each tweet, its newline included


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
    # Character i of ids is the target at context position i: row j scores ids
    # j * piece + warm onwards (row 0 its warm-up too), each character once.
    char_nll = np.empty(len(ids), np.float32)
    char_nll[:warm] = warm_nll[0]
    char_nll[warm:] = row_nll.ravel()
    rescored = 0
    for row in range(1, rows):  # in order: the row before is exact by now
        gap = max(np.abs(w[row] - f[row - 1]).max()
                  for w, f in zip(warmed, final, strict=True))
        if gap > STATE_TOLERANCE:
            # The warm-up did not reach the true state: score the piece from it.
            nll, states = _nll(generator, inputs[row:row + 1, warm:],
                               targets[row:row + 1, warm:],
                               [f[row - 1:row] for f in final])
            char_nll[warm + row * piece:warm + (row + 1) * piece] = nll[0]
            for f, state in zip(final, states, strict=True):
                f[row] = state[0]
            rescored += 1
    tweet = tweet_index(ids, generator.newline_id)
    return StreamScore(loss=float(char_nll.sum(dtype=np.float64) / len(ids)), pieces=rows,
                       rescored=rescored,
                       tweet_nats=np.bincount(tweet, weights=char_nll),
                       tweet_chars=np.bincount(tweet))


def tweet_index(ids: np.ndarray, newline_id: int) -> np.ndarray:
    """The tweet each character belongs to: a line, its newline included."""
    ends = ids == newline_id
    return np.concatenate([[0], np.cumsum(ends[:-1])]).astype(np.int64)


def _nll(generator, inputs: np.ndarray, targets: np.ndarray, states):
    """Negative log-likelihood of each of ``targets`` (rows x characters), and
    the final states."""
    nll = np.empty(targets.shape, np.float32)
    states = [np.array(state) for state in states]
    for start in range(0, inputs.shape[1], CHUNK_CHARS):
        window = slice(start, start + CHUNK_CHARS)
        logits, states = generator.step(inputs[:, window], states)
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=2, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=2))
        picked = np.take_along_axis(logits, targets[:, window, None], axis=2)[..., 0]
        nll[:, window] = log_norm - picked
    return nll, [np.array(state) for state in states]
