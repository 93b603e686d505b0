"""Batches for a stateful LSTM, streamed from a split with bounded memory.

The split is cut into ``batch_size`` contiguous streams, one per batch row, and
batch ``i`` holds the ``i``-th ``seq_len`` characters of every stream, so the
hidden state a row ends batch ``i`` with is the right start for batch ``i+1``
(the tutorial's layout). Labels are the next character's integer id (sparse
cross-entropy, no one-hot). Each batch is read with one ``pread`` per row, so
memory is one batch, whatever the size of the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np

from training.config import HyperParams
from training.data import steps_per_epoch
from training.vocab import Vocabulary


class StatefulBatches(keras.utils.PyDataset):
    """``(inputs, labels)`` batches of shape ``(batch_size, seq_len)``, in order.

    Must be consumed in order (``fit(..., shuffle=False)``): shuffling batches
    would hand each row a state from an unrelated part of the text.
    """

    def __init__(self, path: Path, hyperparams: HyperParams, vocab: Vocabulary):
        super().__init__(workers=1, use_multiprocessing=False)
        self.path = Path(path)
        self.batch_size = hyperparams.batch_size
        self.seq_len = hyperparams.seq_len
        num_bytes = os.path.getsize(self.path)
        self.stream_len = num_bytes // self.batch_size
        self.num_steps = steps_per_epoch(num_bytes, self.batch_size, self.seq_len)
        self.byte_to_id = vocab.byte_to_id
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.num_steps

    @property
    def chars_per_epoch(self) -> int:
        return self.num_steps * self.batch_size * self.seq_len

    def __getitem__(self, index: int):
        if not 0 <= index < self.num_steps:
            raise IndexError(index)
        window = self.seq_len + 1
        raw = np.empty((self.batch_size, window), dtype=np.uint8)
        for row in range(self.batch_size):
            offset = row * self.stream_len + index * self.seq_len
            raw[row] = np.frombuffer(os.pread(self._fd, window, offset), dtype=np.uint8)
        ids = self.byte_to_id[raw]
        return ids[:, :-1], ids[:, 1:]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self):
        self.close()
