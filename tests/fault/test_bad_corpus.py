"""Splits that would train a model that "wins" without writing tweets are refused
at validation, before any trial starts, with the file named."""

from __future__ import annotations

import shutil

import pytest

from training.core.errors import InputError
from training.pipeline import steps

pytestmark = pytest.mark.fault

TINY = {"num_trials": 1, "parallel": 1, "max_epochs": 1, "final_epochs": 1,
        "space_overrides": {"batch_size": 8, "seq_len": 16}}


@pytest.mark.parametrize("train_text, share", [
    ("a" * 60_000, "100%"),                                 # one distinct character
    ("!" * 57_000 + "Great rally tonight! #MAGA\n" * 111, "95%"),  # nearly all one
])
def test_a_split_of_one_character_is_refused_before_any_trial(tmp_path, sample_splits,
                                                              train_text, share):
    splits = shutil.copytree(sample_splits, tmp_path / "splits")
    (splits / "train.txt").write_text(train_text)
    with pytest.raises(InputError, match=rf"train.txt: {share} of it is one character"):
        steps.validate_splits({**TINY, "data_location": str(splits)}, "run-1")


def test_real_tweets_pass(sample_splits):
    assert steps.validate_splits({**TINY, "data_location": str(sample_splits)}, "run-2")
