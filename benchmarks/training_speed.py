"""Training throughput against the tutorial's loop, and against the machine's limit.

    .venv/bin/python -m benchmarks.training_speed --scratch /tmp/bench

For each configuration (the tutorial's default 1 x 512; a small 1 x 128; a
2-layer 2 x 256; all embedding 64, batch 128, seq_len 32, rmsprop, clip 5,
dropout 0.2), each repeat runs, one after the other on the same train and
validate splits: our whole training run (``training.pipeline.training_run.run_training``:
validation, checkpoints, TensorBoard and MLflow logging on) and the tutorial's
loop (``benchmarks.tutorial.train``), then the matmul ceiling. Throughput is
training characters per wall second of whole epochs after the first (which
includes tracing): an epoch's training, validation, checkpoint and logging.

Between the two sits the model's own speed: the same Keras model's training
step called again and again on one batch held in memory (no data path, no
validation, no callbacks). Ours against it shows what the loop around the
model costs; it against the ceiling, what the LSTM layer itself reaches.

The ceiling: TensorFlow's sustained fp32 matmul rate at the LSTM's own shapes,
a chain alternating ``[batch, units] @ [units, 4 units]`` (the forward
recurrent step) and ``[batch, 4 units] @ [4 units, units]`` (its backward),
divided by the training FLOPs per character. Those are counted as three times
the forward pass (backward is two matmuls per forward one): per LSTM layer
``2 (inputs + units) 4 units``, plus ``2 units vocab`` for the output layer;
embedding lookups, gate nonlinearities and the optimizer are left out, so the
ceiling is generous.
"""

from __future__ import annotations

import os
import shutil
import time

from benchmarks import tutorial
from benchmarks.common import emit, make_splits, median, section_parser

CONFIGS = {
    "tutorial default 1 x 512": dict(rnn_size=512, num_layers=1),
    "small 1 x 128": dict(rnn_size=128, num_layers=1),
    "2-layer 2 x 256": dict(rnn_size=256, num_layers=2),
}
COMMON = dict(batch_size=128, seq_len=32, embedding_size=64, drop_rate=0.2,
              optimizer="rmsprop", clip_norm=5.0)


def training_flops_per_char(rnn_size: int, num_layers: int, embedding_size: int,
                            vocab_size: int) -> int:
    forward = 2 * rnn_size * vocab_size
    inputs = embedding_size
    for _ in range(num_layers):
        forward += 2 * (inputs + rnn_size) * 4 * rnn_size
        inputs = rnn_size
    return 3 * forward


def matmul_rate(batch_size: int, units: int, pairs: int = 32, calls: int = 5) -> float:
    """Sustained fp32 FLOP/s of the LSTM's recurrent matmul shapes, forward and back."""
    import tensorflow as tf

    forward = tf.random.normal((units, 4 * units)) / units ** 0.5
    backward = tf.random.normal((4 * units, units)) / (4 * units) ** 0.5
    start = tf.random.normal((batch_size, units))

    @tf.function
    def chain(h):
        for _ in range(pairs):
            h = tf.matmul(tf.matmul(h, forward), backward)
        return h

    chain(start).numpy()
    started = time.perf_counter()
    for _ in range(calls):
        chain(start).numpy()
    elapsed = time.perf_counter() - started
    return calls * pairs * 2 * (2 * batch_size * units * 4 * units) / elapsed


def model_only(params: dict, seconds: float) -> float:
    """Training characters/s of the model's own step on one in-memory batch,
    for about ``seconds`` after tracing."""
    import numpy as np

    from training.core.config import HyperParams
    from training.data.vocab import Vocabulary
    from training.model.fit import compile_model
    from training.model.network import build_training_model

    hyperparams = HyperParams.from_mapping(params)
    vocab_size = Vocabulary.default().size
    model = build_training_model(hyperparams, vocab_size)
    compile_model(model, hyperparams)
    rng = np.random.default_rng(0)
    shape = (hyperparams.batch_size, hyperparams.seq_len)
    inputs, labels = rng.integers(1, vocab_size, shape), rng.integers(1, vocab_size, shape)
    for _ in range(3):
        model.train_on_batch(inputs, labels)  # traces the step
    steps, started = 0, time.perf_counter()
    while steps < 10 or time.perf_counter() - started < seconds:
        model.train_on_batch(inputs, labels)
        steps += 1
    return steps * inputs.size / (time.perf_counter() - started)


def epoch_rate(epoch_seconds: list[float], chars_per_epoch: int) -> float:
    timed = epoch_seconds[1:]  # the first epoch traces the graphs
    return chars_per_epoch * len(timed) / sum(timed)


def ours(splits, scratch, params: dict, num_epochs: int) -> float:
    from training.core.config import FitSettings, HyperParams, TrainJob
    from training.data.splits import steps_per_epoch
    from training.pipeline.training_run import run_training

    hyperparams = HyperParams.from_mapping(params)
    folder = scratch / "ours"
    shutil.rmtree(folder, ignore_errors=True)
    job = TrainJob(data_dir=splits, checkpoint_dir=folder, hyperparams=hyperparams,
                   fit=FitSettings(num_epochs=num_epochs, patience=num_epochs,
                                   min_delta=0.0))
    ends = [time.perf_counter()]

    def stamp(epochs):
        ends.append(time.perf_counter())

    run_training(job, judge_epoch=stamp)
    steps = steps_per_epoch(os.path.getsize(splits / "train.txt"),
                            hyperparams.batch_size, hyperparams.seq_len)
    return epoch_rate([b - a for a, b in zip(ends, ends[1:], strict=False)],
                      steps * hyperparams.batch_size * hyperparams.seq_len)


def theirs(splits, scratch, params: dict, num_epochs: int) -> float:
    epochs = []
    tutorial.train(splits / "train.txt", splits / "validate.txt",
                   scratch / "tutorial.keras", num_epochs=num_epochs,
                   on_epoch=lambda epoch, seconds: epochs.append(seconds), **params)
    generator = tutorial.io_batch_generator(
        splits / "train.txt", batch_size=params["batch_size"], seq_len=params["seq_len"])
    steps = tutorial.get_num_steps_per_epoch(generator)
    return epoch_rate(epochs, steps * params["batch_size"] * params["seq_len"])


def main() -> None:
    parser = section_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (>= 2)")
    args = parser.parse_args()
    os.environ["TWEETBOT_HOME"] = str(args.scratch / "home")
    from training.data.vocab import Vocabulary

    splits = make_splits(args.corpus, args.scratch / "splits",
                         20_000 if args.quick else None)
    configs = dict(list(CONFIGS.items())[:1]) if args.quick else CONFIGS
    rows = []
    for name, shape in configs.items():
        params = {**COMMON, **shape}
        if args.quick:
            params.update(rnn_size=16, batch_size=16, seq_len=16)
        ours_rates, their_rates, model_rates, ceilings = [], [], [], []
        flops = training_flops_per_char(params["rnn_size"], params["num_layers"],
                                        params["embedding_size"], Vocabulary.default().size)
        for _ in range(args.repeats):
            ours_rates.append(ours(splits, args.scratch, params, args.epochs))
            their_rates.append(theirs(splits, args.scratch, params, args.epochs))
            model_rates.append(model_only(params, 2.0 if args.quick else 15.0))
            ceilings.append(matmul_rate(params["batch_size"], params["rnn_size"]) / flops)
        rows.append({
            "config": name, "params": params, "flops_per_char": flops,
            "ours_chars_per_second": median(ours_rates),
            "tutorial_chars_per_second": median(their_rates),
            "model_only_chars_per_second": median(model_rates),
            "ours_fraction_of_model_only": median(
                a / m for a, m in zip(ours_rates, model_rates, strict=True)),
            "model_only_fraction_of_ceiling": median(
                m / c for m, c in zip(model_rates, ceilings, strict=True)),
            "ratio": median(a / b for a, b in zip(ours_rates, their_rates, strict=True)),
            "matmul_gflops": median(ceilings) * flops / 1e9,
            "ceiling_chars_per_second": median(ceilings),
            "ours_fraction_of_ceiling": median(
                a / c for a, c in zip(ours_rates, ceilings, strict=True)),
            "tutorial_fraction_of_ceiling": median(
                b / c for b, c in zip(their_rates, ceilings, strict=True)),
        })
    emit({"repeats": args.repeats, "epochs": args.epochs, "configs": rows})


if __name__ == "__main__":
    main()
