"""The split files a training run reads, checked before any training starts.

No TensorFlow here: the Airflow side runs the same checks in ``validate_splits``.
A split is read as bytes (see ``training.data.vocab``), so its size in bytes is its
length in characters and the number of steps per epoch follows from the file
size alone.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.core.config import HyperParams
from training.core.errors import InputError
from training.data.vocab import Vocabulary

TRAIN, VALIDATE, TEST = "train", "validate", "test"
SPLIT_NAMES = (TRAIN, VALIDATE, TEST)
_CHUNK_BYTES = 1 << 20
# In tweets the commonest character (the space) is under a fifth of the text; a
# split more than half one character teaches a model to repeat it, at a loss near
# zero that would win every comparison.
MAX_ONE_BYTE_SHARE = 0.5


@dataclass(frozen=True)
class SplitInfo:
    """What a full read of one split found."""

    path: Path
    num_bytes: int
    unknown_bytes: int
    sha256: str
    commonest_byte: int = 0
    commonest_count: int = 0

    @property
    def unknown_rate(self) -> float:
        return self.unknown_bytes / self.num_bytes if self.num_bytes else 0.0


def split_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / f"{name}.txt"


def steps_per_epoch(num_bytes: int, batch_size: int, seq_len: int) -> int:
    """Batches in one pass: each of ``batch_size`` streams holds
    ``num_bytes // batch_size`` characters and a step consumes ``seq_len`` of
    them plus one more for the last label."""
    return max(0, (num_bytes // batch_size - 1) // seq_len)


def used_bytes(num_bytes: int, max_bytes: int | None) -> int:
    """What a split of ``num_bytes`` contributes when capped at ``max_bytes``."""
    return num_bytes if max_bytes is None else min(num_bytes, max_bytes)


def inspect_split(path: Path, vocab: Vocabulary) -> SplitInfo:
    """Read a split once: it must exist, be non-empty UTF-8; count unknown bytes."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: split not found (expected train.txt, validate.txt "
                         f"and test.txt from `python -m training.split`)")
    decoder = codecs.getincrementaldecoder("utf-8")()
    digest = hashlib.sha256()
    known = vocab.byte_to_id != 0
    totals = np.zeros(256, dtype=np.int64)
    num_bytes = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                raise InputError(f"{path}: not valid UTF-8 at byte "
                                 f"{num_bytes + error.start:,}") from None
            digest.update(chunk)
            totals += np.bincount(np.frombuffer(chunk, dtype=np.uint8), minlength=256)
            num_bytes += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid UTF-8 (ends inside a character)") from None
    if num_bytes == 0:
        raise InputError(f"{path}: split is empty")
    commonest = int(totals.argmax())
    return SplitInfo(path, num_bytes, int(totals[~known].sum()), digest.hexdigest(),
                     commonest, int(totals[commonest]))


def check_varied(info: SplitInfo) -> None:
    """A split (nearly) all one character is not tweets; refuse it before training."""
    share = info.commonest_count / info.num_bytes
    if share > MAX_ONE_BYTE_SHARE:
        byte = info.commonest_byte
        which = repr(chr(byte)) if byte < 128 else f"byte 0x{byte:02x}"
        raise InputError(
            f"{info.path}: {share:.0%} of it is one character ({which}); a model would "
            f"learn to repeat it, not to write tweets. Check the corpus the splits came from")


def check_long_enough(info: SplitInfo, hyperparams: HyperParams,
                      max_bytes: int | None = None) -> None:
    """A stateful model consumes whole batches; a split shorter than one fails."""
    num_bytes = used_bytes(info.num_bytes, max_bytes)
    if holds_a_batch(num_bytes, hyperparams):
        return
    what = (f"{info.path}: {info.num_bytes:,} bytes" if num_bytes == info.num_bytes else
            f"max_train_chars {max_bytes:,} (of {info.path})")
    raise InputError(
        f"{what} is shorter than one batch (batch_size {hyperparams.batch_size} x "
        f"(seq_len {hyperparams.seq_len} + 1) = {hyperparams.chars_per_batch:,}); use more "
        f"data or smaller --batch-size/--seq-len")


def fits_splits(hyperparams: HyperParams, split_bytes: Mapping[str, int],
                max_train_chars: int | None = None) -> bool:
    """Whether every split of ``split_bytes`` (name: size) holds at least one batch
    of ``hyperparams`` (the train split: within its first ``max_train_chars``)."""
    return all(holds_a_batch(used_bytes(size, max_train_chars if name == TRAIN else None),
                             hyperparams)
               for name, size in split_bytes.items())


def holds_a_batch(num_bytes: int, hyperparams: HyperParams) -> bool:
    return steps_per_epoch(num_bytes, hyperparams.batch_size, hyperparams.seq_len) >= 1


def check_splits(data_dir: Path, hyperparams: HyperParams, vocab: Vocabulary,
                 names: tuple[str, ...] = (TRAIN, VALIDATE),
                 max_train_chars: int | None = None) -> dict[str, SplitInfo]:
    """Inspect the named splits and check each holds at least one batch (the
    train split: within its first ``max_train_chars``, if given)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: data directory not found")
    infos = {name: inspect_split(split_path(data_dir, name), vocab) for name in names}
    for name, info in infos.items():
        check_varied(info)
        check_long_enough(info, hyperparams, max_train_chars if name == TRAIN else None)
    return infos
