import os

import numpy as np

from training.core.config import HyperParams
from training.data import batches as batches_module
from training.data.batches import StatefulBatches
from training.data.vocab import Vocabulary

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


def test_reads_are_bounded_blocks_whatever_the_file_size(tmp_path, monkeypatch):
    """Memory stays one block whatever the file size: a batch reads at most its
    block of consecutive batches per row, and a batch inside the block already
    read reads nothing."""
    path = tmp_path / "train.txt"
    path.write_bytes(b"z" * 50_000)
    params = HyperParams(batch_size=2, seq_len=8)
    monkeypatch.setattr(batches_module, "READ_BYTES", 64)
    bytes_read = []
    real_pread = os.pread

    def counting_pread(fd, length, offset):
        data = real_pread(fd, length, offset)
        bytes_read.append(len(data))
        return data

    monkeypatch.setattr(os, "pread", counting_pread)
    batches = StatefulBatches(path, params, VOCAB)
    assert batches.steps_per_read == 3  # (64 / 2 rows - 1) // 8
    block_bytes = 2 * (3 * 8 + 1)
    batches[0], batches[1], batches[2]
    assert sum(bytes_read) == block_bytes
    batches[len(batches) - 1]
    assert sum(bytes_read) <= 2 * block_bytes
    assert max(bytes_read) <= block_bytes // 2
    batches.close()


def test_batches_match_across_block_edges_and_the_epoch_end(tmp_path, monkeypatch):
    text = bytes(range(32, 127)) * 40
    path = tmp_path / "train.txt"
    path.write_bytes(text)
    params = HyperParams(batch_size=3, seq_len=7)
    ids = VOCAB.byte_to_id[np.frombuffer(text, np.uint8)]
    stream_len = len(text) // 3
    monkeypatch.setattr(batches_module, "READ_BYTES", 100)
    batches = StatefulBatches(path, params, VOCAB)
    assert 1 < batches.steps_per_read < len(batches)
    for index in range(len(batches)):
        x, y = batches[index]
        for row in range(3):
            start = row * stream_len + index * 7
            np.testing.assert_array_equal(x[row], ids[start:start + 7])
            np.testing.assert_array_equal(y[row], ids[start + 1:start + 8])
    batches.close()


def test_max_bytes_trains_on_the_head_of_the_split(tmp_path):
    """A subset is the split's first ``max_bytes``, laid out exactly as a file
    holding only those bytes would be."""
    text = bytes(ord("a") + (i * 7) % 26 for i in range(5000))
    (tmp_path / "train.txt").write_bytes(text)
    (tmp_path / "head.txt").write_bytes(text[:1200])
    params = HyperParams(batch_size=4, seq_len=10)
    capped = StatefulBatches(tmp_path / "train.txt", params, VOCAB, max_bytes=1200)
    head = StatefulBatches(tmp_path / "head.txt", params, VOCAB)
    whole = StatefulBatches(tmp_path / "train.txt", params, VOCAB, max_bytes=10**9)
    assert len(capped) == len(head) == 29 and capped.chars_per_epoch == 29 * 40
    assert len(whole) == (5000 // 4 - 1) // 10
    for index in range(len(capped)):
        for got, want in zip(capped[index], head[index], strict=True):
            np.testing.assert_array_equal(got, want)
    for batches in (capped, head, whole):
        batches.close()
