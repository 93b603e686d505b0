"""Split a raw tweet export into train / validate / test (80 / 10 / 10).

    python -m training.split RAW OUT_DIR

RAW is either one tweet per line or a one-column CSV (header ``text``; quoted
tweets may span lines), detected from the first line or a ``.csv`` suffix;
``--format`` overrides. Each tweet is normalised (see ``training.data.vocab``), its
inner line breaks become spaces, duplicates are dropped, and the tweet goes to
the split picked by a hash of its text, so a tweet never changes split when the
raw file grows night after night: no leakage from train into validation across
runs. OUT_DIR receives ``train.txt``, ``validate.txt``, ``test.txt`` (one tweet a
line, ASCII) and ``split.json`` with the counts and the unknown-character rate.
Files are written under temporary names and renamed at the end, so a failed run
leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.core import settings
from training.core.atomic import replacing, write_atomically
from training.core.errors import InputError
from training.data import storage
from training.data.splits import SPLIT_NAMES
from training.data.vocab import Vocabulary

# Percent of hash buckets per split, in SPLIT_NAMES order.
SPLIT_PERCENT = (80, 10, 10)
# Bumped whenever normalisation or hashing changes, since either moves tweets.
SPLIT_VERSION = 1
MANIFEST_FILENAME = "split.json"
CSV_HEADERS = ("text", "tweet")


@dataclass
class SplitReport:
    source: str
    split_version: int = SPLIT_VERSION
    tweets_read: int = 0
    duplicates_dropped: int = 0
    empty_dropped: int = 0
    tweets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLIT_NAMES, 0))
    characters: int = 0
    unknown_characters: int = 0

    @property
    def unknown_rate(self) -> float:
        return self.unknown_characters / self.characters if self.characters else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "unknown_rate": round(self.unknown_rate, 6)}


def split_of(tweet: str) -> str:
    """The split a (normalised) tweet belongs to, forever."""
    digest = hashlib.blake2b(tweet.encode("utf-8"), digest_size=8).digest()
    bucket = int.from_bytes(digest, "big") % 100
    bound = 0
    for name, percent in zip(SPLIT_NAMES, SPLIT_PERCENT, strict=True):
        bound += percent
        if bucket < bound:
            return name
    raise AssertionError("SPLIT_PERCENT must add up to 100")


def detect_format(path: Path) -> str:
    if path.suffix.lower() == ".csv":
        return "csv"
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        first = handle.readline().strip().strip('"').lower()
    return "csv" if first in CSV_HEADERS else "lines"


def read_tweets(path: Path, fmt: str) -> Iterator[str]:
    """Yield raw tweets in file order; errors name the line."""
    lines = _decoded_lines(path)
    if fmt == "lines":
        yield from lines
        return
    # newline="" semantics: csv gets each line with its line break, so quoted
    # tweets spanning lines come back whole.
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            return
        column = _text_column(path, header)
        for row in reader:
            if len(row) > column:
                yield row[column]
    except csv.Error as error:
        raise InputError(f"{path}: broken CSV on line {reader.line_num} ({error})") from None


def _decoded_lines(path: Path) -> Iterator[str]:
    # Decoding line by line (not through a buffered text reader) is what lets an
    # error name the right line.
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(f"{path}: not valid UTF-8 on line {number} (byte "
                                 f"{error.start + 1} of the line); re-export it as "
                                 f"UTF-8") from None


def _text_column(path: Path, header: list[str]) -> int:
    names = [name.strip().lower() for name in header]
    if len(names) == 1:
        return 0
    for candidate in CSV_HEADERS:
        if candidate in names:
            return names.index(candidate)
    raise InputError(f"{path}: CSV has columns {header} but none named 'text'")


def split_file(raw: Path, out_dir: Path, fmt: str = "auto",
               vocab: Vocabulary | None = None) -> SplitReport:
    """Split ``raw`` into ``out_dir``; returns what was written."""
    raw, out_dir = Path(raw), Path(out_dir)
    if not raw.is_file():
        raise InputError(f"{raw}: no such file")
    vocab = vocab or Vocabulary.default()
    fmt = detect_format(raw) if fmt == "auto" else fmt
    report = SplitReport(source=str(raw))
    created_dir = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        # All three files are renamed into place together, only once all are written.
        with contextlib.ExitStack() as files:
            handles = {name: files.enter_context(open(
                files.enter_context(replacing(out_dir / f"{name}.txt")), "w",
                encoding="ascii", newline="\n")) for name in SPLIT_NAMES}
            _write_splits(read_tweets(raw, fmt), handles, vocab, report)
            if not sum(report.tweets.values()):
                raise InputError(f"{raw}: no tweets found (is the file empty?)")
        write_atomically(out_dir / MANIFEST_FILENAME,
                         json.dumps(report.to_dict(), indent=2).encode())
        return report
    finally:
        if created_dir and not any(out_dir.iterdir()):
            out_dir.rmdir()


def _write_splits(raw_tweets, handles, vocab: Vocabulary, report: SplitReport) -> None:
    seen: set[bytes] = set()
    for raw_tweet in raw_tweets:
        report.tweets_read += 1
        tweet, unknown = vocab.to_split_text(" ".join(raw_tweet.split()))
        if not tweet:
            report.empty_dropped += 1
            continue
        key = hashlib.blake2b(tweet.encode("ascii"), digest_size=16).digest()
        if key in seen:
            report.duplicates_dropped += 1
            continue
        seen.add(key)
        name = split_of(tweet)
        handles[name].write(tweet + "\n")
        report.tweets[name] += 1
        report.characters += len(tweet) + 1
        report.unknown_characters += unknown


def split_and_publish(raw_location: str, splits_location: str) -> dict:
    """Split a raw tweet file (a path or an s3:// key) and publish the splits to a
    folder or s3:// prefix; what ``tweetbot_prepare_splits`` runs."""
    raw_location = raw_location or os.environ.get("TWEETBOT_RAW_TWEETS", "")
    if not raw_location:
        raise InputError("raw_location: give the raw tweet file (local path or s3:// key) "
                         "or set TWEETBOT_RAW_TWEETS")
    raw_location = storage.checked_location(
        raw_location, "raw_location" if raw_location else "TWEETBOT_RAW_TWEETS")
    location = storage.checked_location(splits_location or settings.splits_location(),
                                        "splits_location" if splits_location
                                        else "TWEETBOT_SPLITS")
    with tempfile.TemporaryDirectory() as scratch:
        report = split_file(storage.fetch_raw(raw_location), Path(scratch) / "splits")
        storage.publish_splits(Path(scratch) / "splits", location)
    return {"location": location, "source": raw_location, "tweets": report.tweets,
            "duplicates_dropped": report.duplicates_dropped,
            "unknown_rate": round(report.unknown_rate, 6)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.split",
        description="Split raw tweets into train/validate/test (80/10/10) by a hash "
                    "of each tweet, de-duplicated and normalised.")
    parser.add_argument("raw", type=Path, help="raw tweets: one per line, or a "
                        "one-column CSV with header 'text'")
    parser.add_argument("out_dir", type=Path, help="folder for train.txt, "
                        "validate.txt, test.txt and split.json")
    parser.add_argument("--format", choices=("auto", "lines", "csv"), default="auto",
                        help="input format (default: auto, from the first line)")
    args = parser.parse_args(argv)
    try:
        report = split_file(args.raw, args.out_dir, args.format)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{name} {report.tweets[name]:,}" for name in SPLIT_NAMES)
    print(f"{report.tweets_read:,} tweets read, {report.duplicates_dropped:,} "
          f"duplicates and {report.empty_dropped:,} empty dropped; {counts}; "
          f"unknown characters {report.unknown_rate:.3%} -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
