import pytest

from training.core.config import HyperParams
from training.core.errors import InputError
from training.data.splits import check_splits, fits_splits, inspect_split, steps_per_epoch
from training.data.vocab import Vocabulary

VOCAB = Vocabulary.default()


def _splits(tmp_path, train=b"x" * 2000, validate=b"y" * 500):
    (tmp_path / "train.txt").write_bytes(train)
    (tmp_path / "validate.txt").write_bytes(validate)
    return tmp_path


def test_steps_per_epoch_from_size_alone():
    # 10 streams of 100 bytes; each step eats 10 chars and needs 1 more for labels
    assert steps_per_epoch(1000, 10, 10) == 9
    assert steps_per_epoch(1009, 10, 10) == 9
    assert steps_per_epoch(10 * 11, 10, 10) == 1
    assert steps_per_epoch(10 * 11 - 1, 10, 10) == 0


def test_inspect_counts_unknown_bytes_and_hashes(tmp_path):
    path = tmp_path / "train.txt"
    path.write_bytes("ok \x1a caf\u00e9\n".encode())
    info = inspect_split(path, VOCAB)
    assert info.num_bytes == len("ok \x1a caf\u00e9\n".encode())
    assert info.unknown_bytes == 3  # SUB and the two bytes of the accented e
    assert len(info.sha256) == 64


@pytest.mark.parametrize("train, message", [
    (b"", "train.txt: split is empty"),
    (b"fine\n\xff\xfe", "train.txt: not valid UTF-8 at byte 5"),
    (b"ends mid character \xc3", "ends inside a character"),
    (b"short", "train.txt: 5 bytes is shorter than one batch "
               "(batch_size 8 x (seq_len 16 + 1) = 136)"),
])
def test_bad_splits_fail_with_one_line(tmp_path, train, message):
    _splits(tmp_path, train=train)
    with pytest.raises(InputError) as caught:
        check_splits(tmp_path, HyperParams(batch_size=8, seq_len=16), VOCAB)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_missing_split_and_missing_folder(tmp_path):
    (tmp_path / "train.txt").write_bytes(b"x" * 500)
    with pytest.raises(InputError, match="validate.txt: split not found"):
        check_splits(tmp_path, HyperParams(batch_size=2, seq_len=4), VOCAB)
    with pytest.raises(InputError, match="data directory not found"):
        check_splits(tmp_path / "nope", HyperParams(), VOCAB)


def test_a_train_subset_too_short_for_a_batch_names_the_parameter(tmp_path):
    _splits(tmp_path, train=b"abcdefgh" * 250, validate=b"hgfedcba" * 100)
    params = HyperParams(batch_size=8, seq_len=16)
    assert check_splits(tmp_path, params, VOCAB, max_train_chars=1000)
    with pytest.raises(InputError) as caught:
        check_splits(tmp_path, params, VOCAB, max_train_chars=100)
    assert str(caught.value).startswith("max_train_chars 100 (of ")
    assert "shorter than one batch" in str(caught.value)


def test_fits_splits_needs_one_batch_in_every_split():
    params = HyperParams(batch_size=16, seq_len=31)  # 512 bytes a batch
    assert fits_splits(params, {"train": 512, "validate": 512})
    assert not fits_splits(params, {"train": 512, "validate": 511})
    assert not fits_splits(params, {"train": 10_000, "validate": 10_000}, max_train_chars=511)
    # max_train_chars only cuts the train split.
    assert fits_splits(params, {"train": 10_000, "validate": 512}, max_train_chars=512)
