"""Coming from the tutorial: its HDF5 models in, and the champion out as one.

The tutorial's model is built by its own code under Keras 2 (tf-keras, in a
process of its own: ``keras2_tutorial.py``) and by the same layers in Keras 3;
imported, registered, evaluated, exported and loaded back by Keras 2, each
must give the original's predictions.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training import export_h5, import_h5, tracking
from training.data.splits import TEST, split_path
from training.data.vocab import Vocabulary
from training.demo import report
from training.model import tutorial_h5
from training.tracking import registry, runs, tags

pytestmark = pytest.mark.slow

KERAS2_SCRIPT = Path(__file__).with_name("keras2_tutorial.py")
VOCAB_SIZE = 98


def keras2(command: str, model: Path, inputs: Path, probs: Path) -> np.ndarray:
    subprocess.run([sys.executable, str(KERAS2_SCRIPT), command, str(model), str(inputs),
                    str(probs)], check=True, capture_output=True)
    return np.load(probs)


def keras3_tutorial_model(vocab_size=VOCAB_SIZE, recurrent="LSTM", seed=0,
                          output_bias=None):
    """The tutorial's build_model() in Keras 3 (sigmoid gates, Keras' default now)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(batch_shape=(4, 8)),
                              layers.Embedding(vocab_size, 16), layers.Dropout(0.1),
                              getattr(layers, recurrent)(32, return_sequences=True,
                                                         stateful=True),
                              layers.Dropout(0.1),
                              layers.TimeDistributed(layers.Dense(vocab_size,
                                                                  activation="softmax"))])
    if output_bias is not None:  # the same distribution at every position
        dense = model.layers[-1].layer
        dense.set_weights([np.zeros_like(dense.get_weights()[0]), output_bias])
    return model


def versions() -> list:
    return tracking.client().search_model_versions(f"name = '{registry.MODEL_NAME}'")


def imported_probabilities(run_id: str, inputs: np.ndarray, scratch: Path) -> np.ndarray:
    """The registered model's output on ``inputs``, as probabilities."""
    import keras

    from training.model.network import load_trained

    folder = runs.download_checkpoint(run_id, scratch)
    model = load_trained(folder / "best.keras")
    return keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(inputs, verbose=0)))


def test_a_keras_2_tutorial_model_imports_and_exports_with_the_same_predictions(
        tmp_path, sample_splits, capsys):
    original = tmp_path / "checkpoint.hdf5"
    inputs = tmp_path / "inputs.npy"
    expected = keras2("make", original, inputs, tmp_path / "expected.npy")
    assert expected.std() > 1e-3  # positions differ: the comparisons below can fail

    assert import_h5.main([str(original), "--data-dir", str(sample_splits)]) == 0
    (version,) = versions()
    assert registry.champion().version == version.version  # there was no champion
    assert version.tags[tags.SOURCE_FILE] == "checkpoint.hdf5"
    assert version.tags[tags.SOURCE_FORMAT].startswith("Keras HDF5 (Keras 2.")
    run = tracking.client().get_run(version.run_id)
    assert run.data.tags[tags.KIND] == tags.IMPORT
    assert run.data.params["recurrent_activation"] == tutorial_h5.HARD_SIGMOID
    assert (run.data.params["num_layers"], run.data.params["rnn_size"],
            run.data.params["optimizer"]) == ("2", "32", "rmsprop")
    test_loss = run.data.metrics["test_loss"]
    assert f"test_loss {test_loss:.4f}; v{version.version} is the first champion" in (
        capsys.readouterr().out)
    # The imported model computes what the tutorial's did (its Keras 2 gates too).
    np.testing.assert_allclose(
        imported_probabilities(version.run_id, np.load(inputs), tmp_path / "download"),
        expected, atol=1e-6)

    exported = tmp_path / "champion.h5"
    assert export_h5.main([str(exported), "--model-uri", registry.model_uri("champion")]) == 0
    reloaded = keras2("load", exported, inputs, tmp_path / "reloaded.npy")
    np.testing.assert_allclose(reloaded, expected, atol=1e-6)
    # Through the export and back in, the same model again.
    again = tutorial_h5.read(exported)
    assert (again.recurrent_activation, again.hyperparams()) == (
        tutorial_h5.HARD_SIGMOID, tutorial_h5.read(original).hyperparams().model_copy(
            update={"clip_norm": 0.0, "learning_rate": None}))  # no optimizer exported

    # The same file again: nothing new.
    assert import_h5.main([str(original), "--data-dir", str(sample_splits)]) == 0
    assert "was imported before, as v1" in capsys.readouterr().out
    assert len(versions()) == 1


def test_an_imported_model_is_scored_and_gated_like_any_version(tmp_path, sample_splits,
                                                                capsys):
    """A model predicting the test split's character frequencies everywhere
    scores their cross-entropy, computed here independently; it beats a random
    model and becomes champion, and a worse import after it stays candidate."""
    text = split_path(sample_splits, TEST).read_bytes()
    ids = Vocabulary.default().byte_to_id[np.frombuffer(text, np.uint8)]
    counts = np.bincount(ids, minlength=VOCAB_SIZE) + 1.0  # every id possible
    log_freq = np.log(counts / counts.sum())
    cross_entropy = -log_freq[ids[1:]].mean()  # every character after the first

    random_model, frequencies, other_random = (tmp_path / f"{name}.h5" for name in
                                               ("random", "frequencies", "other"))
    keras3_tutorial_model(seed=1).save(random_model)
    keras3_tutorial_model(output_bias=log_freq.astype(np.float32)).save(frequencies)
    keras3_tutorial_model(seed=2).save(other_random)

    first = import_h5.import_model(random_model, str(sample_splits))
    assert first.champion and abs(first.test_loss - math.log(VOCAB_SIZE)) < 0.1
    better = import_h5.import_model(frequencies, str(sample_splits))
    # The same gate as a night's model: the gain's lower bound cleared the margin.
    assert better.champion and re.fullmatch(
        r"v2 is better than v1 by \d+\.\d % \(95 % lower bound \d+\.\d %, margin 0\.5 %\): "
        r"promoted", better.verdict), better.verdict
    assert better.gain_lower_bound > 0.005 and better.gain_units > 30
    assert better.test_loss == pytest.approx(cross_entropy, abs=1e-4)
    worse = import_h5.import_model(other_random, str(sample_splits))
    assert not worse.champion
    assert worse.verdict.startswith("v3 is worse than v2 by ")
    assert worse.verdict.endswith(": v3 stays candidate")
    assert int(registry.version_by_alias(registry.CANDIDATE).version) == 3
    # The demo's report names a champion that no search made by its source.
    report()
    assert (f"champion: tweetbot-charrnn version 2 (test_loss {better.test_loss:.6f}, "
            f"imported from frequencies.h5, no search)") in capsys.readouterr().out


def test_a_file_that_is_not_the_tutorials_model_is_refused_in_one_line(
        tmp_path, sample_splits, capsys):
    import keras

    good = tmp_path / "good.h5"
    keras3_tutorial_model().save(good)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:4000])
    text = tmp_path / "notes.h5"
    text.write_text("not a model\n")
    gru = tmp_path / "gru.h5"
    keras3_tutorial_model(recurrent="GRU").save(gru)
    wide = tmp_path / "wide.h5"
    keras3_tutorial_model(vocab_size=120).save(wide)
    weights_only = tmp_path / "only.weights.h5"
    keras3_tutorial_model().save_weights(weights_only)
    functional = tmp_path / "functional.h5"
    char_ids = keras.Input(batch_shape=(4, 8))
    keras.Model(char_ids, keras.layers.Embedding(98, 4)(char_ids)).save(functional)

    cases = {
        truncated: "not a readable HDF5 file (Unable to synchronously open file (truncated",
        text: "not a readable HDF5 file (Unable to synchronously open file (file signature",
        gru: "layer 3 ('gru') is GRU; the tutorial's model is Embedding -> Dropout -> ",
        wide: "a vocabulary of 120 characters; the tutorial's (and this project's) has 98",
        weights_only: "holds no Keras model; import the file the tutorial's model.save",
        functional: "a Functional model; the tutorial's is Sequential",
        tmp_path / "missing.h5": "no such file",
    }
    for path, message in cases.items():
        assert import_h5.main([str(path), "--data-dir", str(sample_splits)]) == 2, path
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path}: {message}"), err
        assert err.count("\n") == 1, err
    # A good file with no test split is refused before anything is recorded too.
    assert import_h5.main([str(good), "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "test.txt: split not found" in capsys.readouterr().err
    assert versions() == []
    assert tracking.client().search_runs([tracking.configure()]) == []
