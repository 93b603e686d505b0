"""Batches for a stateful LSTM, streamed from a split with bounded memory.

The split is cut into ``batch_size`` contiguous streams, one per batch row, and
batch ``i`` holds the ``i``-th ``seq_len`` characters of every stream, so the
hidden state a row ends batch ``i`` with is the right start for batch ``i+1``
(the tutorial's layout). Labels are the next character's integer id (sparse
cross-entropy, no one-hot). Rows are read a block of consecutive batches at a
time, one ``pread`` per row per block, so memory is one block (``READ_BYTES``)
whatever the size of the file, and a batch costs a slice and a table lookup
rather than ``batch_size`` system calls.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np

from training.core.config import HyperParams
from training.data.splits import steps_per_epoch, used_bytes
from training.data.vocab import Vocabulary

# Bytes read per block, all rows together: large enough that system calls are a
# small part of a batch's cost, small enough to be nothing next to the model.
READ_BYTES = 1 << 20


class StatefulBatches(keras.utils.PyDataset):
    """``(inputs, labels)`` batches of shape ``(batch_size, seq_len)``, in order.

    Must be consumed in order (``fit(..., shuffle=False)``): shuffling batches
    would hand each row a state from an unrelated part of the text. With
    ``max_bytes`` only the file's first ``max_bytes`` are used (the tutorial's
    search on the head of its train split).
    """

    def __init__(self, path: Path, hyperparams: HyperParams, vocab: Vocabulary,
                 max_bytes: int | None = None):
        super().__init__(workers=1, use_multiprocessing=False)
        self.path = Path(path)
        self.batch_size = hyperparams.batch_size
        self.seq_len = hyperparams.seq_len
        num_bytes = used_bytes(os.path.getsize(self.path), max_bytes)
        self.stream_len = num_bytes // self.batch_size
        self.num_steps = steps_per_epoch(num_bytes, self.batch_size, self.seq_len)
        self.byte_to_id = vocab.byte_to_id
        row_bytes = max(READ_BYTES // self.batch_size, 2 * self.seq_len + 1)
        self.steps_per_read = max(1, min(self.num_steps, (row_bytes - 1) // self.seq_len))
        # (first batch index, raw bytes): replaced as one tuple, so a reader on
        # another thread sees one block or the other, never half of each.
        self._block: tuple[int, np.ndarray] = (-1, np.empty((0, 0), np.uint8))
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.num_steps

    @property
    def chars_per_epoch(self) -> int:
        return self.num_steps * self.batch_size * self.seq_len

    def __getitem__(self, index: int):
        if not 0 <= index < self.num_steps:
            raise IndexError(index)
        first = index - index % self.steps_per_read
        block_first, raw = self._block
        if block_first != first:
            raw = self._read_block(first)
            self._block = (first, raw)
        start = (index - first) * self.seq_len
        ids = self.byte_to_id[raw[:, start:start + self.seq_len + 1]]
        return ids[:, :-1], ids[:, 1:]

    def _read_block(self, first: int) -> np.ndarray:
        """Batches ``first`` onwards (up to ``steps_per_read``) of every row, as bytes."""
        steps = min(self.steps_per_read, self.num_steps - first)
        length = steps * self.seq_len + 1
        raw = np.empty((self.batch_size, length), dtype=np.uint8)
        for row in range(self.batch_size):
            offset = row * self.stream_len + first * self.seq_len
            raw[row] = np.frombuffer(os.pread(self._fd, length, offset), dtype=np.uint8)
        return raw

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self):
        self.close()
