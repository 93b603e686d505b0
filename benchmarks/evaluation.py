"""Evaluation and generation: test-split scoring speed, one stream against side by side.

    .venv/bin/python -m benchmarks.evaluation --scratch /tmp/bench

Trains the tutorial's default model (1 x 512, embedding 64, batch 128, seq_len
32) for two epochs on the train split (adam, so it learns to use context), then,
alternating in each repeat, scores the test split with
``training.model.scoring.stream_loss`` as one stream at batch 1 (every character
predicted from all before it) and as the pieces side by side that
``training.evaluate`` uses; reports characters per second of each and how
far apart the two losses are (pieces whose warm-up misses the true state are
scored again, so they should agree to rounding). Then times writing 100 tweets
(``TweetGenerator.generate``, 280 characters at most each).

The promotion gate: the model after its first epoch stands for the champion and
after its second for the night's model; both scored side by side, tweet by
tweet, as ``evaluate`` does, then the gain bounded by the paired bootstrap
(``training.model.comparison.paired_gain``: 10,000 resamples). Reports the
gain, its 95 % lower bound, the tweets, and the bootstrap's seconds against
the two scorings' (``evaluate``'s own work).
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import emit, make_splits, median, seconds, section_parser


def main() -> None:
    args = section_parser(__doc__).parse_args()
    from training.core.config import HyperParams
    from training.data.batches import StatefulBatches
    from training.data.vocab import Vocabulary
    from training.model import scoring
    from training.model.fit import compile_model
    from training.model.generator import GenerationRequest, TweetGenerator
    from training.model.network import build_training_model, inference_model_from

    splits = make_splits(args.corpus, args.scratch / "splits",
                         20_000 if args.quick else None)
    vocab = Vocabulary.default()
    params = HyperParams(batch_size=128, seq_len=32, embedding_size=64,
                         rnn_size=64 if args.quick else 512, drop_rate=0.2,
                         optimizer="adam", learning_rate=0.003)
    model = build_training_model(params, vocab.size)
    compile_model(model, params)
    train = StatefulBatches(splits / "train.txt", params, vocab)
    model.fit(train, epochs=1, shuffle=False, verbose=0)
    champion = TweetGenerator(inference_model_from(model), vocab)  # after epoch 1
    model.fit(train, epochs=2, initial_epoch=1, shuffle=False, verbose=0)
    train.close()
    generator = TweetGenerator(inference_model_from(model), vocab)
    ids = vocab.byte_to_id[np.frombuffer((splits / "test.txt").read_bytes(), np.uint8)]
    if args.quick:
        ids = ids[:3000]

    scores = {}

    def score(streams):
        scores[streams] = scoring.stream_score(generator, ids, streams=streams)

    score(1), score(scoring.STREAMS)  # trace both shapes before timing
    one, side_by_side = [], []
    for _ in range(args.repeats):
        one.append(len(ids) / seconds(lambda: score(1)))
        side_by_side.append(len(ids) / seconds(lambda: score(scoring.STREAMS)))
    request = GenerationRequest(n=100, seed=0)
    tweets = []
    generator.generate(request.model_copy(update={"n": 2}))  # traces the step

    def write():
        tweets[:] = generator.generate(request)

    generation = [seconds(write) for _ in range(args.repeats)]

    from training.model.comparison import paired_gain

    scored: dict = {}

    def evaluate_both():
        scored["new"] = scoring.stream_score(generator, ids)
        scored["champion"] = scoring.stream_score(champion, ids)

    def bound():
        scored["gain"] = paired_gain(scored["new"].tweet_nats, scored["champion"].tweet_nats)

    scoring_seconds = [seconds(evaluate_both) for _ in range(args.repeats)]
    bootstrap_seconds = [seconds(bound) for _ in range(args.repeats)]
    gain = scored["gain"]
    emit({
        "gate": {"gain": gain.point, "lower_bound": gain.lower_bound, "units": gain.units,
                 "resamples": gain.resamples, "new_loss": scored["new"].loss,
                 "champion_loss": scored["champion"].loss,
                 "scoring_seconds": median(scoring_seconds),
                 "bootstrap_seconds": median(bootstrap_seconds),
                 "bootstrap_fraction": median(bootstrap_seconds) / median(scoring_seconds)},
        "test_chars": int(len(ids)), "rnn_size": params.rnn_size,
        "streams": scoring.STREAMS, "warmup_chars": scoring.WARMUP_CHARS,
        "one_stream_chars_per_second": median(one),
        "side_by_side_chars_per_second": median(side_by_side),
        "ratio": median(b / a for a, b in zip(one, side_by_side, strict=True)),
        "pieces": scores[scoring.STREAMS].pieces,
        "pieces_rescored": scores[scoring.STREAMS].rescored,
        "one_stream_loss": scores[1].loss, "side_by_side_loss": scores[scoring.STREAMS].loss,
        "relative_loss_difference": abs(scores[scoring.STREAMS].loss - scores[1].loss)
        / scores[1].loss,
        "generate_100_seconds": median(generation),
        "generated_chars": sum(len(t) for t in tweets),
        "repeats": args.repeats,
    })


if __name__ == "__main__":
    main()
