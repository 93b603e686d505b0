"""Benchmark: stream a large split through StatefulBatches with bounded memory.

    .venv/bin/python benchmarks/stream_batches.py --size-gb 1 --batch-size 128 --seq-len 64

Writes a split of the requested size (the project's sample tweets, repeated) to
a temporary folder unless --file is given, then reads batches spread evenly
over the whole epoch and reports the batch rate and how far the process's
resident memory rose above its level after importing Keras. The goal: memory
stays at the size of a batch, not of the file.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from training.config import HyperParams
from training.sample_corpus import write_sample_corpus
from training.split import split_file
from training.vocab import Vocabulary


def resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_big_split(path: Path, size_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        raw = write_sample_corpus(Path(scratch) / "raw.csv", num_tweets=20_000)
        split_file(raw, Path(scratch) / "splits")
        block = (Path(scratch) / "splits" / "train.txt").read_bytes()
    with open(path, "wb") as handle:
        written = 0
        while written < size_bytes:
            chunk = block[: size_bytes - written]
            handle.write(chunk)
            written += len(chunk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--file", type=Path, help="an existing split to read instead")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--num-batches", type=int, default=5000)
    args = parser.parse_args()

    from training.batches import StatefulBatches  # imports Keras

    with tempfile.TemporaryDirectory() as scratch:
        path = args.file or Path(scratch) / "train.txt"
        if args.file is None:
            write_big_split(path, int(args.size_gb * 1e9))
        params = HyperParams(batch_size=args.batch_size, seq_len=args.seq_len)
        baseline = peak = resident_bytes()
        started = time.perf_counter()
        batches = StatefulBatches(path, params, Vocabulary.default())
        stride = max(1, len(batches) // args.num_batches)
        count = 0
        for index in range(0, len(batches), stride):
            batches[index]
            count += 1
            if count % 100 == 0:
                peak = max(peak, resident_bytes())
        elapsed = time.perf_counter() - started
        batches.close()
        print(json.dumps({
            "file_bytes": os.path.getsize(path),
            "steps_per_epoch": len(batches),
            "batches_read": count,
            "batches_per_second": round(count / elapsed, 1),
            "chars_per_second": round(count * args.batch_size * args.seq_len / elapsed),
            "rss_rise_mib": round((peak - baseline) / 2**20, 1),
            "batch_bytes": args.batch_size * (args.seq_len + 1),
        }, indent=2))


if __name__ == "__main__":
    main()
