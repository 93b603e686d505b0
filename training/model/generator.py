"""Sampling tweets from a trained model: the request and the generator.

The trained model is stateful with a fixed batch; generation rebuilds a stateless
model from its weights (``training.model.network.inference_model_from``), warms it
up on a newline plus the prompt (a tweet starts after a newline in the training
text), then samples one character at a time for all ``n`` tweets at once. A tweet
ends at a newline or at ``max_chars``; the unknown id is never sampled.
"""


from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field, model_validator

from training.core.config import Config
from training.core.errors import InputError
from training.data.vocab import UNKNOWN_ID, Vocabulary
from training.model.checkpoints import BEST_FILENAME

MAX_TWEET_CHARS = 280


class GenerationRequest(Config):
    """One generation call, validated once; the pyfunc's request columns too."""

    prompt: str = Field("", description="text every tweet starts with")
    temperature: float = Field(0.8, gt=0, le=10, description=(
        "sampling temperature; lower is safer"))
    max_chars: int = Field(MAX_TWEET_CHARS, ge=2, le=10_000, description=(
        "longest tweet, prompt included"))
    n: int = Field(1, ge=1, le=1000, description="number of tweets")
    seed: int | None = Field(None, description="random seed for reproducible output")

    @model_validator(mode="after")
    def _prompt_fits(self):
        if not len(self.prompt) < self.max_chars:
            raise InputError(f"max_chars: {self.max_chars} must exceed the prompt's "
                             f"{len(self.prompt)} characters")
        return self


class TweetGenerator:
    """A stateless inference model plus its vocabulary."""

    def __init__(self, model, vocab: Vocabulary):
        self.model, self.vocab = model, vocab
        self.newline_id = int(vocab.encode("\n")[0])
        self.num_states = len(model.inputs) - 1
        self.state_size = model.inputs[1].shape[-1]

    @classmethod
    def from_checkpoint(cls, directory: Path, filename: str = BEST_FILENAME):
        from training.model.network import inference_model_from, load_trained

        path = Path(directory) / filename
        if not path.is_file():
            raise InputError(f"{path}: no trained model there")
        vocab = Vocabulary.load(directory)
        return cls(inference_model_from(load_trained(path)), vocab)

    def zero_states(self, rows: int) -> list[np.ndarray]:
        return [np.zeros((rows, self.state_size), np.float32)] * self.num_states

    def step(self, ids: np.ndarray, states: list[np.ndarray]):
        """Logits for every position of ``ids`` (rows x steps), and the states after.

        ``predict_on_batch`` runs a compiled function (traced once per input shape);
        calling the model eagerly steps the LSTM in Python, about 30 times slower
        over a 2,048-character chunk."""
        logits, *states = self.model.predict_on_batch([ids, *states])
        return np.asarray(logits), [np.asarray(state) for state in states]

    def generate(self, request: GenerationRequest) -> list[str]:
        rng = np.random.default_rng(request.seed)
        n = request.n
        states = self.zero_states(n)
        # A stateful model sees a zero state only at the start of each epoch's
        # streams, so its first characters from one are poor. Let it write one
        # throw-away tweet first to reach the kind of state it was trained in.
        logits, states = self.step(np.full((n, 1), self.newline_id, np.int32), states)
        _, states = self._sample_tweets(logits, states, MAX_TWEET_CHARS, request, rng)
        context = np.tile(self.vocab.encode("\n" + request.prompt), (n, 1))
        logits, states = self.step(context, states)
        generated, _ = self._sample_tweets(logits, states,
                                           request.max_chars - len(request.prompt),
                                           request, rng)
        return [request.prompt + self._text_until_newline(row) for row in generated]

    def _sample_tweets(self, logits, states, max_steps: int, request, rng):
        """Sample until every row has written a newline or ``max_steps`` characters.

        A row's state stops just before its newline, so the caller can feed
        ``"\n" + prompt`` next as if the tweet had ended the usual way."""
        generated = np.full((len(logits), max_steps), self.newline_id, np.int32)
        finished = np.zeros(len(logits), bool)
        for step in range(max_steps):
            next_ids = self._sample(logits[:, -1, :], request.temperature, rng)
            next_ids[finished] = self.newline_id
            generated[:, step] = next_ids
            finished |= next_ids == self.newline_id
            if finished.all():
                break
            logits, new_states = self.step(next_ids[:, None], states)
            states = [np.where(finished[:, None], old, new)
                      for old, new in zip(states, new_states, strict=True)]
        return generated, states

    def _text_until_newline(self, ids: np.ndarray) -> str:
        end = np.flatnonzero((ids == self.newline_id) | (ids == 0))
        return self.vocab.decode(ids[: end[0]] if end.size else ids)

    @staticmethod
    def _sample(logits: np.ndarray, temperature: float, rng: np.random.Generator):
        scaled = logits.astype(np.float64) / temperature
        scaled[:, UNKNOWN_ID] = -np.inf
        scaled -= scaled.max(axis=1, keepdims=True)
        probs = np.exp(scaled)
        probs /= probs.sum(axis=1, keepdims=True)
        draws = rng.random((len(probs), 1))
        ids = (probs.cumsum(axis=1) < draws).sum(axis=1)
        # Round-off can leave the cumulative sum a hair under 1.
        return np.minimum(ids, probs.shape[1] - 1).astype(np.int32)


