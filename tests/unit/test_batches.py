import os

import numpy as np

from training.batches import StatefulBatches
from training.config import HyperParams
from training.vocab import Vocabulary

VOCAB = Vocabulary.default()


def test_rows_are_contiguous_streams_and_labels_are_next_ids(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000)).encode()
    path = tmp_path / "train.txt"
    path.write_bytes(text)
    params = HyperParams(batch_size=4, seq_len=10)
    batches = StatefulBatches(path, params, VOCAB)
    ids = VOCAB.byte_to_id[np.frombuffer(text, np.uint8)]
    stream_len = len(text) // 4
    assert len(batches) == (stream_len - 1) // 10 == 24
    for index in (0, 1, len(batches) - 1):
        x, y = batches[index]
        assert x.shape == y.shape == (4, 10)
        for row in range(4):
            start = row * stream_len + index * 10
            np.testing.assert_array_equal(x[row], ids[start:start + 10])
            np.testing.assert_array_equal(y[row], ids[start + 1:start + 11])
    # Batch i+1 of a row continues where batch i stopped: the state carries over.
    (_, y0), (x1, _) = batches[0], batches[1]
    np.testing.assert_array_equal(x1[:, 0], y0[:, -1])
    assert y0.dtype.kind == "i"  # integer labels for sparse cross-entropy
    batches.close()


def test_each_batch_reads_only_its_window(tmp_path, monkeypatch):
    """Memory stays one batch whatever the file size: a batch reads exactly its
    rows' windows from the file, nothing more."""
    path = tmp_path / "train.txt"
    path.write_bytes(b"z" * 50_000)
    params = HyperParams(batch_size=2, seq_len=8)
    bytes_read = []
    real_pread = os.pread

    def counting_pread(fd, length, offset):
        data = real_pread(fd, length, offset)
        bytes_read.append(len(data))
        return data

    monkeypatch.setattr(os, "pread", counting_pread)
    batches = StatefulBatches(path, params, VOCAB)
    batches[0], batches[len(batches) - 1]
    assert sum(bytes_read) == 2 * params.chars_per_batch
    batches.close()
