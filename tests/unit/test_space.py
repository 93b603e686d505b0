from pathlib import Path

import pytest

from training.core.config import HyperParams
from training.core.errors import InputError
from training.tuning.space import DEFAULT_SPACE_FILE, Dimension, SearchSpace

CPU_SPACE_FILE = Path(DEFAULT_SPACE_FILE).with_name("search_space_cpu.yaml")

TUTORIAL_SPACE = {
    "batch_size": ("choice", (16, 32, 64, 128, 256, 512)),
    "embedding_size": ("choice", (16, 32, 64, 128, 256)),
    "num_layers": ("choice", (1, 2)),
    "rnn_size": ("choice", (64, 128, 256, 512)),
    "seq_len": ("choice", (16, 32, 64, 128, 256)),
    "optimizer": ("choice", ("rmsprop", "adagrad", "adadelta", "adam")),
    "clip_norm": ("choice", (0.0, 5.0)),
    "drop_rate": ("uniform", (0.0, 0.5)),
}
# Each optimizer's learning-rate range in the default space.
DEFAULT_RATES = {"rmsprop": (0.0005, 0.02), "adagrad": (0.1, 2.0), "adadelta": (1.0, 10.0),
                 "adam": (0.0005, 0.02)}


def by_name(space: SearchSpace) -> dict[str, Dimension]:
    return {d.name: d for d in space.dimensions}


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_default_file_is_the_tutorials_space_with_a_rate_per_optimizer():
    space = SearchSpace.load()
    assert {name: (d.kind, d.values) for name, d in by_name(space).items()} == TUTORIAL_SPACE
    assert space.fixed == {}
    optimizer = by_name(space)["optimizer"]
    for name, rates in DEFAULT_RATES.items():
        assert optimizer.branch(name).dimensions == (
            Dimension("learning_rate", "loguniform", rates),)
    # Keras 3's default rate (0.001) is outside the ranges of the two that need more.
    assert all(low > 0.001 for low, _ in (DEFAULT_RATES["adagrad"], DEFAULT_RATES["adadelta"]))


def test_default_space_values_all_make_valid_hyperparams():
    space = SearchSpace.load()
    for dimension in space.dimensions:
        for value in dimension.values:
            params = space.to_hyperparams({dimension.name: value})
            assert getattr(params, dimension.name) == value


def test_cpu_file_loads_with_the_same_keys_plus_a_learning_rate():
    space = SearchSpace.load(CPU_SPACE_FILE)
    dims = by_name(space)
    assert set(dims) == set(TUTORIAL_SPACE) | {"learning_rate"}
    assert dims["learning_rate"].kind == "loguniform"
    assert dims["learning_rate"].values == (0.001, 0.02)
    assert max(dims["rnn_size"].values) < max(TUTORIAL_SPACE["rnn_size"][1])


def test_override_replaces_a_dimension():
    space = SearchSpace.load(overrides={"rnn_size": {"choice": [32, 64]}})
    assert by_name(space)["rnn_size"].values == (32, 64)
    assert by_name(space)["batch_size"].values == TUTORIAL_SPACE["batch_size"][1]


def test_override_with_a_plain_value_fixes_it():
    space = SearchSpace.load(overrides={"optimizer": "adam", "learning_rate": 0.01})
    assert "optimizer" not in space.names
    assert space.fixed == {"optimizer": "adam", "learning_rate": 0.01}
    params = space.to_hyperparams({"rnn_size": 64})
    assert (params.optimizer, params.learning_rate, params.rnn_size) == ("adam", 0.01, 64)
    assert space.describe()["optimizer"] == "adam"


def test_file_with_fixed_values_and_loguniform(tmp_path):
    path = write(tmp_path, "num_layers: 2\nlearning_rate: {loguniform: [0.0001, 0.01]}\n")
    space = SearchSpace.load(path)
    assert space.fixed == {"num_layers": 2}
    assert space.dimensions == (Dimension("learning_rate", "loguniform", (0.0001, 0.01)),)
    assert isinstance(space.to_hyperparams({"learning_rate": 0.001}), HyperParams)


@pytest.mark.parametrize("text, key, detail", [
    ("rnn_sise: {choice: [64, 128]}\n", "rnn_sise", "unknown parameter"),
    ("rnn_sise: 64\n", "rnn_sise", "unknown parameter"),
    ("batch_size: {choice: [0, 16]}\n", "batch_size", "0 is outside"),
    ("optimizer: {choice: [adam, lbfgs]}\n", "optimizer", "'lbfgs' is not one of"),
    ("num_layers: {choice: [1, 1]}\n", "num_layers", "twice"),
    ("drop_rate: {choice: []}\n", "drop_rate", "non-empty list"),
    ("drop_rate: {uniform: [0.5, 0.5]}\n", "drop_rate", "low < high"),
    ("drop_rate: {uniform: [0.4, 0.1]}\n", "drop_rate", "low < high"),
    ("drop_rate: {uniform: [0.0, 0.99]}\n", "drop_rate", "0.99 is outside"),
    ("drop_rate: {uniform: [0.1]}\n", "drop_rate", "[low, high]"),
    ("learning_rate: {loguniform: [0.0, 0.01]}\n", "learning_rate", "low > 0"),
    ("learning_rate: {loguniform: [-1.0, 0.01]}\n", "learning_rate", "low > 0"),
    ("rnn_size: {uniform: [64, 512]}\n", "rnn_size", "whole numbers"),
    ("drop_rate: {uniform: [0.0, 0.5], choice: [0.1]}\n", "drop_rate", "expected one of"),
    ("drop_rate: {normal: [0.0, 0.5]}\n", "drop_rate", "expected one of"),
    ("optimizer: {uniform: [0.0, 1.0]}\n", "optimizer", "0.0 is not one of sgd"),
])
def test_bad_space_names_the_file_and_the_key(tmp_path, text, key, detail):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        SearchSpace.load(path)
    message = str(caught.value)
    assert str(path) in message and key in message and detail in message
    assert "\n" not in message


def test_bad_override_is_reported_with_its_key():
    with pytest.raises(InputError) as caught:
        SearchSpace.load(overrides={"batch_size": {"choice": [16, 0]}})
    message = str(caught.value)
    # The run parameter is at fault, not the file.
    assert message == "space_overrides: batch_size: 0 is outside [1, 4096]"


def test_invalid_yaml_names_the_file_on_one_line(tmp_path):
    path = write(tmp_path, "batch_size: {choice: [16, 32\nrnn_size: [\n")
    with pytest.raises(InputError) as caught:
        SearchSpace.load(path)
    assert str(path) in str(caught.value) and "not valid YAML" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(InputError, match="not found") as caught:
        SearchSpace.load(path)
    assert str(path) in str(caught.value)


def test_top_level_list_is_rejected(tmp_path):
    path = write(tmp_path, "- batch_size\n- rnn_size\n")
    with pytest.raises(InputError, match="expected a mapping") as caught:
        SearchSpace.load(path)
    assert str(path) in str(caught.value)


def test_empty_file_is_an_empty_space(tmp_path):
    space = SearchSpace.load(write(tmp_path, "# nothing searched\n"))
    assert space.dimensions == () and space.fixed == {}
    assert space.to_hyperparams({}) == HyperParams()


CONDITIONAL = """
batch_size: {choice: [16, 32]}
optimizer:
  choice:
    adam: {learning_rate: {loguniform: [0.0003, 0.01]}}
    adadelta: {learning_rate: 1.0, clip_norm: {choice: [0.0, 5.0]}}
    rmsprop:
"""


def test_a_choice_can_bring_parameters_of_its_own(tmp_path):
    space = SearchSpace.load(write(tmp_path, CONDITIONAL))
    optimizer = by_name(space)["optimizer"]
    assert optimizer.values == ("adam", "adadelta", "rmsprop")
    assert optimizer.branch("adam").dimensions == (
        Dimension("learning_rate", "loguniform", (0.0003, 0.01)),)
    assert optimizer.branch("adadelta").fixed == {"learning_rate": 1.0}
    assert optimizer.branch("rmsprop") == SearchSpace((), {})
    assert by_name(space)["batch_size"].branch(16) is None
    assert space.names == ("batch_size", "optimizer", "learning_rate", "clip_norm")
    assert space.describe()["optimizer"] == {"choice": {
        "adam": {"learning_rate": {"loguniform": [0.0003, 0.01]}},
        "adadelta": {"clip_norm": {"choice": [0.0, 5.0]}, "learning_rate": 1.0},
        "rmsprop": {}}}


def test_point_of_follows_the_chosen_option(tmp_path):
    space = SearchSpace.load(write(tmp_path, CONDITIONAL))
    adadelta = HyperParams(batch_size=16, optimizer="adadelta", learning_rate=1.0,
                           clip_norm=0.0)
    assert space.point_of(adadelta) == {"batch_size": 16, "optimizer": "adadelta",
                                        "learning_rate": 1.0, "clip_norm": 0.0}
    assert space.point_of(HyperParams(batch_size=32, optimizer="rmsprop")) == {
        "batch_size": 32, "optimizer": "rmsprop"}
    # An option the space does not offer brings nothing.
    assert space.point_of(HyperParams(optimizer="sgd", learning_rate=0.1)) == {
        "batch_size": 128, "optimizer": "sgd"}


@pytest.mark.parametrize("text, detail", [
    ("optimizer: {choice: {adam: {learning_rate: {loguniform: [0.0, 0.1]}}}}\n",
     "optimizer.adam: learning_rate: loguniform needs low > 0"),
    ("optimizer: {choice: {lbfgs: {}}}\n", "optimizer: 'lbfgs' is not one of"),
    ("optimizer: {choice: {adam: [0.1]}}\n", "optimizer.adam: expected a mapping"),
    ("optimizer: {choice: {adam: {optimizer: rmsprop}}}\n", "cannot depend on itself"),
    ("learning_rate: 0.1\noptimizer: {choice: {adam: {learning_rate: 0.01}}}\n",
     "optimizer.adam: learning_rate is also given outside optimizer"),
])
def test_bad_conditional_choice_names_the_option(tmp_path, text, detail):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        SearchSpace.load(path)
    assert str(path) in str(caught.value) and detail in str(caught.value)
    assert "\n" not in str(caught.value)


def test_smallest_batch_is_the_smallest_batch_and_sequence():
    space = SearchSpace.from_mapping({"batch_size": {"choice": [64, 16]}, "seq_len": 100})
    assert (space.smallest_batch().batch_size, space.smallest_batch().seq_len) == (16, 100)
    assert SearchSpace((), {}).smallest_batch() == HyperParams(
        batch_size=HyperParams().batch_size, seq_len=HyperParams().seq_len)
