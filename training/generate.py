"""Generate tweets from a registered MLflow model or a training checkpoint.

    python -m training.generate --model-uri models:/tweetbot-charrnn@champion \\
        --prompt "The " -n 5 --temperature 0.8 --seed 7
    python -m training.generate --checkpoint-dir runs/base --prompt "The " -n 5

How tweets are sampled: ``training.model.generator``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.core.errors import InputError
from training.model.generator import GenerationRequest, TweetGenerator


def main(argv: list[str] | None = None) -> int:
    defaults = GenerationRequest()
    parser = argparse.ArgumentParser(prog="python -m training.generate",
                                     description="Generate tweets from a trained model.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-uri",
                        help="an MLflow model, e.g. models:/tweetbot-charrnn@champion "
                             "(from MLFLOW_TRACKING_URI, or the embedded store)")
    source.add_argument("--checkpoint-dir", type=Path,
                        help="a training checkpoint folder (best.keras + vocab.json)")
    parser.add_argument("--prompt", default=defaults.prompt, help="text every tweet starts with")
    parser.add_argument("-n", type=int, default=5, help="number of tweets (default: 5)")
    parser.add_argument("--temperature", type=float, default=defaults.temperature,
                        help=f"sampling temperature; lower is safer "
                             f"(default: {defaults.temperature})")
    parser.add_argument("--max-chars", type=int, default=defaults.max_chars,
                        help=f"longest tweet, prompt included (default: {defaults.max_chars})")
    parser.add_argument("--seed", type=int, help="random seed for reproducible output")
    args = parser.parse_args(argv)
    try:
        request = GenerationRequest.from_mapping({
            "prompt": args.prompt, "temperature": args.temperature,
            "max_chars": args.max_chars, "n": args.n, "seed": args.seed})
        if args.model_uri:
            from training.tracking import pyfunc

            tweets = pyfunc.generate(args.model_uri, request)
        else:
            tweets = TweetGenerator.from_checkpoint(args.checkpoint_dir).generate(request)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for tweet in tweets:
        print(tweet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
