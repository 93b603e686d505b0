import argparse

import pytest

from training.core.config import (
    FitSettings,
    HyperParams,
    PruningSettings,
    add_arguments,
    given_arguments,
    to_arguments,
)
from training.core.errors import InputError


def test_defaults_are_the_tutorials():
    params = HyperParams()
    assert (params.batch_size, params.seq_len, params.rnn_size, params.optimizer,
            params.clip_norm, params.drop_rate) == (128, 32, 512, "rmsprop", 5.0, 0.05)
    assert FitSettings().patience == 3 and FitSettings().min_delta == 0.01


@pytest.mark.parametrize("values, message", [
    ({"batch_size": 0}, "batch_size: 0 is outside"),
    ({"drop_rate": 1.0}, "drop_rate: 1.0 is outside"),
    ({"optimizer": "lbfgs"}, "optimizer: 'lbfgs' is not one of"),
    ({"rnn_size": "big"}, "rnn_size: expected int"),
    ({"num_layers": True}, "num_layers: expected a number"),
    ({"learning_rate": float("nan")}, "learning_rate: must be a finite number"),
    ({"rnn_sise": 64}, "unknown parameter 'rnn_sise' (did you mean 'rnn_size'?)"),
    ({"lr": 0.1}, "unknown parameter 'lr'"),
])
def test_bad_values_name_the_parameter(values, message):
    with pytest.raises(InputError) as caught:
        HyperParams.from_mapping(values)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_integral_floats_become_ints_and_ints_become_floats():
    params = HyperParams.from_mapping({"batch_size": 64.0, "clip_norm": 0})
    assert params.batch_size == 64 and isinstance(params.batch_size, int)
    assert params.clip_norm == 0


def test_cli_flags_come_from_the_declarations():
    parser = argparse.ArgumentParser()
    add_arguments(parser, HyperParams, "model")
    add_arguments(parser, FitSettings, "fit")
    args = parser.parse_args(["--rnn-size", "64", "--optimizer", "adam",
                              "--reduce-lr-on-plateau"])
    assert given_arguments(args, HyperParams) == {"rnn_size": 64, "optimizer": "adam"}
    assert given_arguments(args, FitSettings) == {"reduce_lr_on_plateau": True}
    with pytest.raises(SystemExit):
        parser.parse_args(["--optimizer", "lbfgs"])


def test_a_switch_that_is_on_by_default_round_trips_through_its_no_flag():
    parser = argparse.ArgumentParser()
    add_arguments(parser, PruningSettings, "pruning")
    off = PruningSettings(prune_at_chance=False)
    assert to_arguments(off) == ["--pruning", "median", "--prune-min-trials", "3",
                                 "--prune-min-epochs", "1", "--reduction-factor", "3",
                                 "--no-prune-at-chance"]
    parsed = parser.parse_args(to_arguments(off))
    assert PruningSettings.from_mapping(given_arguments(parsed, PruningSettings)) == off
    assert "--prune-at-chance" in to_arguments(PruningSettings())
    assert given_arguments(parser.parse_args([]), PruningSettings) == {}


def test_every_command_formats_its_help():
    """argparse expands ``%`` in help text: a description holding one must not break --help."""
    from training import search, train
    from training.pipeline import trial_run

    for module in (search, train, trial_run):
        assert "--num-epochs" in module.build_parser().format_help()


@pytest.mark.parametrize("train_bytes, cap, expected", [
    # A small corpus: as many whole epochs as make the budget up, at most the cap.
    (200_000, 20, {"num_epochs": 10, "max_train_chars": None}),
    (200_000, 5, {"num_epochs": 5, "max_train_chars": None}),
    # Too large for 3 epochs within it: 3 epochs of the split's first budget / 3.
    (700_000_000, 20, {"num_epochs": 3, "max_train_chars": 666_666}),
    (700_000_000, 2, {"num_epochs": 2, "max_train_chars": 1_000_000}),
])
def test_a_budget_in_characters_is_the_same_training_on_any_corpus(train_bytes, cap,
                                                                    expected):
    fit = FitSettings(num_epochs=cap, budget_chars=2_000_000, patience=5)
    resolved = fit.for_train_split(train_bytes)
    assert {k: getattr(resolved, k) for k in expected} == expected
    assert resolved.budget_chars is None and resolved.patience == 5
    # Resolved once, it stays; without a budget nothing changes.
    assert resolved.for_train_split(1) == resolved
    assert FitSettings(num_epochs=4).for_train_split(train_bytes) == FitSettings(num_epochs=4)


def test_a_budget_counts_only_the_characters_a_trial_may_read():
    fit = FitSettings(num_epochs=50, budget_chars=1_000_000, max_train_chars=100_000)
    assert fit.for_train_split(5_000_000).num_epochs == 10
