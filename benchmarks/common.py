"""What every benchmark section shares: the corpus, splits, timing and the report format.

Each section is a module run in its own process (``python -m benchmarks.<section>``)
so that memory and TensorFlow's state of one never leak into another; it prints
one JSON object, which ``benchmarks.run`` gathers into ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from training.core.atomic import write_atomically
from training.split import split_file

REPO = Path(__file__).resolve().parent.parent
SHARED_CORPUS = REPO.parent / "shared" / "data" / "tweets" / "realdonaldtrump.txt"


def default_corpus() -> Path | None:
    """The shared real-tweet corpus where this checkout has it, else None (the
    sections then use the project's generated sample)."""
    return SHARED_CORPUS if SHARED_CORPUS.is_file() else None


def make_splits(corpus: Path | None, out_dir: Path, max_bytes: int | None = None) -> Path:
    """train/validate/test of ``corpus`` (or of the generated sample) in ``out_dir``,
    each cut to ``max_bytes`` if given (for --quick)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if corpus is None:
        from training.data.sample_corpus import write_sample_corpus

        corpus = write_sample_corpus(out_dir / "raw.csv", num_tweets=3000)
    split_file(corpus, out_dir)
    if max_bytes:
        for name in ("train", "validate", "test"):
            path = out_dir / f"{name}.txt"
            path.write_bytes(path.read_bytes()[:max_bytes])
    return out_dir


def write_repeated(source: Path, path: Path, size_bytes: int) -> Path:
    """``path`` of exactly ``size_bytes``, ``source`` repeated: a split of any size."""
    block = source.read_bytes()
    with open(path, "wb") as handle:
        written = 0
        while written < size_bytes:
            chunk = block[: size_bytes - written]
            handle.write(chunk)
            written += len(chunk)
    return path


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(values) -> float:
    return float(statistics.median(values))


def resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def section_parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=default_corpus(),
                        help="raw tweets to split (default: the shared corpus if present)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="repeats of each side-by-side comparison (medians reported)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: checks the benchmark runs, measures nothing")
    parser.add_argument("--scratch", type=Path, required=True, help="a folder to write in")
    return parser


def emit(result: dict) -> None:
    print(json.dumps(result))


def unit_parser(doc: str) -> argparse.ArgumentParser:
    """``section_parser`` with the hidden ``--unit`` that ``run_unit`` starts a unit with."""
    parser = section_parser(doc)
    parser.add_argument("--unit", nargs=5, help=argparse.SUPPRESS,
                        metavar=("VARIANT", "SEED", "SPLITS", "HOME", "RESULT"))
    return parser


def ran_unit(args: argparse.Namespace, unit: Callable[..., dict]) -> bool:
    """When started by ``run_unit`` (``--unit``): run ``unit(variant, seed, splits,
    home, quick)`` here, keep its result with its seconds, and say so."""
    if not args.unit:
        return False
    variant, seed, splits, home, result = args.unit
    started = time.perf_counter()
    outcome = unit(variant, int(seed), Path(splits), Path(home), args.quick)
    outcome["unit_seconds"] = time.perf_counter() - started
    write_atomically(Path(result), json.dumps(outcome).encode())
    return True


def run_unit(module: str, name: str, arguments: list[str], scratch: Path,
             quick: bool) -> dict:
    """One unit of a long benchmark (a search and its model, say): its kept
    result, or the unit run now, in a fresh process, which keeps it. A benchmark
    of hours thus runs in parts: run it again with the same scratch folder and
    it continues where it stopped. The unit runs as ``python -m <module> --scratch
    <scratch> --unit <arguments> <home> <result>``, ``home`` a folder of its own."""
    path = scratch / "units" / f"{name}.json"
    if not path.is_file():
        home = scratch / "homes" / name
        if home.exists():
            shutil.rmtree(home)  # an unfinished earlier attempt: start it again
        log = scratch / "logs" / f"{name}.log"
        for folder in (path.parent, log.parent):
            folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", module, "--scratch", str(scratch), "--unit",
                   *arguments, str(home), str(path), *(["--quick"] if quick else [])]
        print(f"-- {name}", file=sys.stderr, flush=True)
        with open(log, "w") as output:
            subprocess.run(command, cwd=REPO, check=True, stdout=output,
                           stderr=subprocess.STDOUT,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return json.loads(path.read_text())
