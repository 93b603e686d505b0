"""Data path and memory: ready batches per second, ours against the tutorial's generator.

    .venv/bin/python -m benchmarks.data_path --scratch /tmp/bench

Batches of the tutorial's default shape (batch 128, seq_len 32) from the same
train split, no training: ``training.data.batches.StatefulBatches`` (integer labels,
block reads) against ``benchmarks.tutorial.io_batch_generator`` (per-character
encoding, one-hot labels, as the tutorial trains). Each repeat times a whole
epoch of each, alternating. Then memory: peak resident memory while streaming
every batch of 100 MB and 1 GB splits, and the time to count steps per epoch
(ours from the file size; the tutorial's by reading the epoch).
"""

from __future__ import annotations

import os

from benchmarks import tutorial
from benchmarks.common import (
    emit,
    make_splits,
    median,
    resident_bytes,
    seconds,
    section_parser,
    write_repeated,
)
from training.core.config import HyperParams
from training.data.batches import StatefulBatches
from training.data.splits import steps_per_epoch
from training.data.vocab import Vocabulary

BATCH_SIZE, SEQ_LEN = 128, 32


def ours_epoch(path, params) -> int:
    batches = StatefulBatches(path, params, Vocabulary.default())
    try:
        for index in range(len(batches)):
            batches[index]
        return len(batches) * params.batch_size * params.seq_len
    finally:
        batches.close()


def tutorial_epoch(path, params, after_batch=lambda: None) -> int:
    steps = 0
    for _, _, epoch in tutorial.io_batch_generator(
            path, batch_size=params.batch_size, seq_len=params.seq_len,
            one_hot_labels=True):
        if epoch > 1:
            break
        steps += 1
        after_batch()
    return steps * params.batch_size * params.seq_len


def chars_per_second(epoch, path, params) -> float:
    chars = 0

    def run():
        nonlocal chars
        chars = epoch(path, params)
    elapsed = seconds(run)
    return chars / elapsed


def streaming_memory(path, params) -> dict:
    """Peak rise of resident memory over a whole epoch of ours, with each batch
    held as a training step holds it (sampled every 10 batches), and its time."""
    baseline = peak = resident_bytes()
    batches = StatefulBatches(path, params, Vocabulary.default())
    elapsed = 0.0
    try:
        def run():
            nonlocal peak
            for index in range(len(batches)):
                batch = batches[index]
                if index % 10 == 0:
                    peak = max(peak, resident_bytes())
            del batch
        elapsed = seconds(run)
    finally:
        batches.close()
    chars = len(batches) * params.batch_size * params.seq_len
    return {"pipeline": "ours", "file_bytes": os.path.getsize(path),
            "rss_rise_mib": (peak - baseline) / 2**20,
            "epoch_seconds": elapsed, "chars_per_second": chars / elapsed}


def tutorial_memory(path, params) -> dict:
    """The same for the tutorial's generator (one-hot labels of a whole chunk)."""
    baseline = peak = resident_bytes()
    chars = 0

    def sample():
        nonlocal peak
        peak = max(peak, resident_bytes())

    def run():
        nonlocal chars
        chars = tutorial_epoch(path, params, after_batch=sample)
    elapsed = seconds(run)
    return {"pipeline": "tutorial", "file_bytes": os.path.getsize(path),
            "rss_rise_mib": (peak - baseline) / 2**20,
            "epoch_seconds": elapsed, "chars_per_second": chars / elapsed}


def main() -> None:
    args = section_parser(__doc__).parse_args()
    params = HyperParams(batch_size=BATCH_SIZE, seq_len=SEQ_LEN)
    splits = make_splits(args.corpus, args.scratch / "splits")
    # The train split repeated to 20 MB, so an epoch of ours lasts long enough to time.
    train = write_repeated(splits / "train.txt", args.scratch / "train-20mb.txt",
                           2_000_000 if args.quick else 20_000_000)
    sizes = (10_000_000, 30_000_000) if args.quick else (100_000_000, 1_000_000_000)
    memory, counting = [], []
    # Memory first, before the tutorial's one-hot chunks have grown the heap.
    for size in sizes:
        path = write_repeated(splits / "train.txt", args.scratch / f"train-{size}.txt", size)
        memory.append(streaming_memory(path, params))
        counting.append({"file_bytes": size, "ours_seconds": median(
            seconds(lambda p=path: steps_per_epoch(os.path.getsize(p), BATCH_SIZE, SEQ_LEN))
            for _ in range(5))})
        path.unlink()
    ours, theirs = [], []
    for _ in range(args.repeats):
        ours.append(chars_per_second(ours_epoch, train, params))
        theirs.append(chars_per_second(tutorial_epoch, train, params))
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]

    memory.append(tutorial_memory(train, params))
    # The tutorial counts by reading the whole epoch: timed on 1 and 10 MB (it grows
    # linearly; 1 GB would take many minutes).
    for size in (1_000_000, 10_000_000) if not args.quick else (1_000_000,):
        path = write_repeated(splits / "train.txt", args.scratch / f"count-{size}.txt", size)
        generator = tutorial.io_batch_generator(path, batch_size=BATCH_SIZE,
                                                seq_len=SEQ_LEN, one_hot_labels=True)
        counting.append({"file_bytes": size, "tutorial_seconds": seconds(
            lambda g=generator: tutorial.get_num_steps_per_epoch(g))})
        path.unlink()
    emit({
        "batch_size": BATCH_SIZE, "seq_len": SEQ_LEN,
        "train_bytes": os.path.getsize(train),
        "ours_chars_per_second": median(ours), "tutorial_chars_per_second": median(theirs),
        "ratio": median(ratios), "repeats": args.repeats,
        "memory": memory, "counting": counting,
    })


if __name__ == "__main__":
    main()
