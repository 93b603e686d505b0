"""Generate tweets from a registered MLflow model or a training checkpoint.

    python -m training.generate --model-uri models:/tweetbot-charrnn@champion \\
        --prompt "The " -n 5 --temperature 0.8 --seed 7
    python -m training.generate --checkpoint-dir runs/base --prompt "The " -n 5

The trained model is stateful with a fixed batch; generation rebuilds a stateless
model from its weights (``training.model.inference_model_from``), warms it up on
a newline plus the prompt (a tweet starts after a newline in the training text),
then samples one character at a time for all ``n`` tweets at once. A tweet ends
at a newline or at ``max_chars``; the unknown id is never sampled.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.checkpoints import BEST_FILENAME
from training.errors import InputError
from training.vocab import Vocabulary, UNKNOWN_ID

MAX_TWEET_CHARS = 280


@dataclass(frozen=True)
class GenerationRequest:
    """One generation call, validated once."""

    prompt: str = ""
    temperature: float = 1.0
    max_chars: int = MAX_TWEET_CHARS
    n: int = 1
    seed: int | None = None

    def __post_init__(self):
        if not isinstance(self.prompt, str):
            raise InputError(f"prompt: expected text, got {self.prompt!r}")
        if not 0 < self.temperature <= 10:
            raise InputError(f"temperature: {self.temperature} is outside (0, 10]")
        if not 1 <= self.n <= 1000:
            raise InputError(f"n: {self.n} is outside [1, 1000]")
        if not len(self.prompt) < self.max_chars <= 10_000:
            raise InputError(f"max_chars: {self.max_chars} must exceed the prompt's "
                             f"{len(self.prompt)} characters and be at most 10000")


class TweetGenerator:
    """A stateless inference model plus its vocabulary."""

    def __init__(self, model, vocab: Vocabulary):
        self.model, self.vocab = model, vocab
        self.newline_id = int(vocab.encode("\n")[0])
        self.num_states = len(model.inputs) - 1
        self.state_size = model.inputs[1].shape[-1]

    @classmethod
    def from_checkpoint(cls, directory: Path, filename: str = BEST_FILENAME):
        import keras

        from training.model import inference_model_from

        path = Path(directory) / filename
        if not path.is_file():
            raise InputError(f"{path}: no trained model there")
        vocab = Vocabulary.load(directory)
        trained = keras.models.load_model(path, compile=False)
        return cls(inference_model_from(trained), vocab)

    def generate(self, request: GenerationRequest) -> list[str]:
        rng = np.random.default_rng(request.seed)
        n = request.n
        states = [np.zeros((n, self.state_size), np.float32)] * self.num_states
        # A stateful model sees a zero state only at the start of each epoch's
        # streams, so its first characters from one are poor. Let it write one
        # throw-away tweet first to reach the kind of state it was trained in.
        logits, states = self._step(np.full((n, 1), self.newline_id, np.int32), states)
        _, states = self._sample_tweets(logits, states, MAX_TWEET_CHARS, request, rng)
        context = np.tile(self.vocab.encode("\n" + request.prompt), (n, 1))
        logits, states = self._step(context, states)
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
            logits, new_states = self._step(next_ids[:, None], states)
            states = [np.where(finished[:, None], old, new)
                      for old, new in zip(states, new_states)]
        return generated, states

    def _step(self, ids: np.ndarray, states: list[np.ndarray]):
        logits, *states = self.model([ids, *states], training=False)
        return np.asarray(logits), [np.asarray(state) for state in states]

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.generate",
                                     description="Generate tweets from a trained model.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-uri",
                        help="an MLflow model, e.g. models:/tweetbot-charrnn@champion "
                             "(from MLFLOW_TRACKING_URI, or the embedded store)")
    source.add_argument("--checkpoint-dir", type=Path,
                        help="a training checkpoint folder (best.keras + vocab.json)")
    parser.add_argument("--prompt", default="", help="text every tweet starts with")
    parser.add_argument("-n", type=int, default=5, help="number of tweets (default: 5)")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="sampling temperature; lower is safer (default: 0.8)")
    parser.add_argument("--max-chars", type=int, default=MAX_TWEET_CHARS,
                        help=f"longest tweet, prompt included (default: {MAX_TWEET_CHARS})")
    parser.add_argument("--seed", type=int, help="random seed for reproducible output")
    args = parser.parse_args(argv)
    try:
        request = GenerationRequest(prompt=args.prompt, temperature=args.temperature,
                                    max_chars=args.max_chars, n=args.n, seed=args.seed)
        if args.model_uri:
            tweets = generate_from_model(args.model_uri, request)
        else:
            tweets = TweetGenerator.from_checkpoint(args.checkpoint_dir).generate(request)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for tweet in tweets:
        print(tweet)
    return 0


def generate_from_model(model_uri: str, request: GenerationRequest) -> list[str]:
    """Tweets from a logged or registered MLflow model (``models:/name@alias``)."""
    import mlflow
    import pandas as pd

    from training import tracking

    tracking.configure()
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except mlflow.exceptions.MlflowException as error:
        first = str(error).splitlines()[0]
        raise InputError(f"--model-uri {model_uri}: cannot load ({first})") from None
    row = {"prompt": request.prompt, "temperature": request.temperature,
           "max_chars": request.max_chars, "n": request.n, "seed": request.seed}
    # An absent optional column, not a null one: the signature types seed as long.
    table = model.predict(pd.DataFrame([{k: v for k, v in row.items() if v is not None}]))
    return list(table["tweet"])


if __name__ == "__main__":
    sys.exit(main())
