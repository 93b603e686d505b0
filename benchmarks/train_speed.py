"""Benchmark: training throughput of one model configuration, and the cuDNN check.

    .venv/bin/python benchmarks/train_speed.py --rnn-size 512 --batch-size 128 --seq-len 64

Trains a few hundred steps on synthetic ids (no data files needed) and prints
characters per second after warm-up. On a machine with a GPU the LSTMs are built
with ``use_cudnn=True``, so the run fails loudly if the layers are not eligible
for the cuDNN kernel instead of silently falling back; on a CPU it measures the
generic kernel.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rnn-size", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--embedding-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    import tensorflow as tf

    from training.core.config import HyperParams
    from training.model.fit import compile_model
    from training.model.network import build_training_model, reset_states

    gpus = tf.config.list_physical_devices("GPU")
    params = HyperParams(batch_size=args.batch_size, seq_len=args.seq_len,
                         embedding_size=args.embedding_size, rnn_size=args.rnn_size,
                         num_layers=args.num_layers, drop_rate=0.05)
    model = build_training_model(params, vocab_size=98, use_cudnn=True if gpus else "auto")
    compile_model(model, params)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 98, size=(args.batch_size, args.seq_len), dtype=np.int32)
    y = rng.integers(1, 98, size=(args.batch_size, args.seq_len), dtype=np.int32)
    reset_states(model)
    for _ in range(args.warmup):
        model.train_on_batch(x, y)
    started = time.perf_counter()
    for _ in range(args.steps):
        model.train_on_batch(x, y)
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "device": gpus[0].name if gpus else "cpu",
        "cudnn_forced": bool(gpus),
        "params": params.to_dict(),
        "steps_per_second": round(args.steps / elapsed, 2),
        "chars_per_second": round(args.steps * args.batch_size * args.seq_len / elapsed),
    }, indent=2))


if __name__ == "__main__":
    main()
