import numpy as np
import pytest

from training.core.errors import InputError
from training.data.vocab import UNKNOWN_CHAR, Vocabulary, normalize


def test_default_vocabulary_is_the_tutorials():
    vocab = Vocabulary.default()
    assert vocab.size == 98  # 97 printable characters + the unknown id
    assert "\r" not in vocab.chars and "\n" in vocab.chars


def test_normalize_maps_typography_entities_and_compatibility_forms():
    assert normalize("\u201cHi\u201d \u2018there\u2019 \u2014 ok\u2026") == '"Hi" \'there\' - ok...'
    assert normalize("Tom &amp; Jerry") == "Tom & Jerry"
    assert normalize("\uff21\u00a0\ufb01") == "A fi"  # full-width A, nbsp, ligature


def test_encode_decode_roundtrip_and_unknowns():
    vocab = Vocabulary.default()
    ids = vocab.encode("Hi \u2019\U0001F600")
    assert ids[-1] == 0 and ids[-2] == vocab.encode("'")[0]
    assert vocab.decode(vocab.encode("Hello, world!\n")) == "Hello, world!\n"


def test_split_text_marks_unknowns_with_sub():
    text, unknown = Vocabulary.default().to_split_text("caf\u00e9 \u201cok\u201d \U0001F600")
    assert text == f'caf{UNKNOWN_CHAR} "ok" {UNKNOWN_CHAR}'
    assert unknown == 2


def test_byte_table_agrees_with_encode():
    vocab = Vocabulary.default()
    text = "Make tweets, not war! 123\n"
    table_ids = vocab.byte_to_id[np.frombuffer(text.encode(), np.uint8)]
    assert list(table_ids) == list(vocab.encode(text))
    assert vocab.byte_to_id[0x1A] == 0 and vocab.byte_to_id[0xC3] == 0


def test_save_and_load(tmp_path):
    vocab = Vocabulary.default()
    vocab.save(tmp_path)
    assert Vocabulary.load(tmp_path) == vocab
    with pytest.raises(InputError, match="no vocabulary"):
        Vocabulary.load(tmp_path / "elsewhere")
