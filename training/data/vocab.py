"""The character vocabulary and the text normalisation in front of it.

The baseline is the tutorial's: printable ASCII without ``\\r``, ``\\x0b`` and
``\\x0c`` (97 characters, ids 1..97) and id 0 for anything else. Before a
character is called unknown it is normalised: HTML entities from the export,
NFKC (full-width forms, ligatures, non-breaking spaces, the ellipsis) and a
table for typographic quotes and dashes that NFKC leaves alone.

``training.split`` writes normalised text in which each remaining unknown
character is the ASCII substitute character ``\\x1a``, so a split is pure ASCII:
one byte is one character and the training reader can map bytes to ids with a
256-entry table and count steps from the file size. The vocabulary is saved
with every model (``vocab.json``) and loading never rebuilds it.
"""

from __future__ import annotations

import html
import json
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.core.atomic import write_atomically
from training.core.errors import InputError

UNKNOWN_ID = 0
# ASCII SUB, "substitute character": stands for an unknown character in a split.
UNKNOWN_CHAR = "\x1a"
VOCAB_FILENAME = "vocab.json"

_TYPOGRAPHY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-",
    "\u2022": "*",
})


def normalize(text: str) -> str:
    """Map what has an ASCII equivalent onto it; leave the rest for the vocabulary."""
    text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    return text.translate(_TYPOGRAPHY)


@dataclass(frozen=True)
class Vocabulary:
    """Characters with ids 1..len(chars); id 0 is every unknown character."""

    chars: str

    def __post_init__(self):
        if len(set(self.chars)) != len(self.chars):
            raise InputError("vocabulary: characters must be unique")
        if UNKNOWN_CHAR in self.chars or any(ord(c) > 127 for c in self.chars):
            raise InputError("vocabulary: only ASCII characters other than \\x1a")

    @classmethod
    def default(cls) -> Vocabulary:
        return cls("".join(sorted(c for c in string.printable
                                  if c not in "\r\x0b\x0c")))

    @property
    def size(self) -> int:
        """Number of classes the model predicts, including the unknown id."""
        return len(self.chars) + 1

    @property
    def byte_to_id(self) -> np.ndarray:
        """A 256-entry table from a byte of a split to its id."""
        table = np.full(256, UNKNOWN_ID, dtype=np.int32)
        for index, char in enumerate(self.chars, start=1):
            table[ord(char)] = index
        return table

    def encode(self, text: str) -> np.ndarray:
        """Normalise and encode text; unknown characters become id 0."""
        lookup = {c: i for i, c in enumerate(self.chars, start=1)}
        return np.fromiter((lookup.get(c, UNKNOWN_ID) for c in normalize(text)),
                           dtype=np.int32)

    def decode(self, ids) -> str:
        return "".join(self.chars[i - 1] if i > 0 else "\ufffd" for i in ids)

    def to_split_text(self, text: str) -> tuple[str, int]:
        """Normalised text with unknown characters as ``\\x1a``, and their count."""
        known = set(self.chars)
        out, unknown = [], 0
        for char in normalize(text):
            if char in known:
                out.append(char)
            else:
                out.append(UNKNOWN_CHAR)
                unknown += 1
        return "".join(out), unknown

    def save(self, directory: Path) -> Path:
        path = Path(directory) / VOCAB_FILENAME
        write_atomically(path, json.dumps({"chars": self.chars,
                                           "unknown_id": UNKNOWN_ID}).encode())
        return path

    @classmethod
    def load(cls, directory: Path) -> Vocabulary:
        path = Path(directory) / VOCAB_FILENAME
        try:
            return cls(json.loads(path.read_text())["chars"])
        except FileNotFoundError:
            raise InputError(f"{path}: no vocabulary next to the model") from None
        except (ValueError, KeyError) as error:
            raise InputError(f"{path}: not a tweetbot vocabulary ({error})") from None
