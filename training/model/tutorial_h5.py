"""The tutorial's model file: Keras' legacy HDF5 format, read and written with h5py.

The tutorial saves its model with ``model.save`` (Keras 2): a ``.h5``/``.hdf5``
file whose root attribute ``model_config`` is the JSON of a ``Sequential``
model and whose group ``model_weights`` holds each layer's arrays, listed in
order by the attributes ``layer_names`` and ``weight_names``. Keras 3 writes
the same layout when asked for ``.h5``. The architecture is

    Embedding(98) -> Dropout -> N x (stateful LSTM -> Dropout) -> Dense(98, softmax)

(the Dense often wrapped in ``TimeDistributed``). Both files are read here
without Keras, from the config and the arrays, so that a file from Keras 2.2,
tf-keras or Keras 3 reads alike and a wrong file is refused with one line
before any model is built.

The softmax Dense becomes this project's ``logits`` layer with the same
weights: softmax(logits) is the tutorial's output. Keras 2's LSTM gated with
its hard sigmoid by default (2.2 and earlier); that is kept
(``training.model.network.keras2_hard_sigmoid``), never silently swapped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from training.core.atomic import replacing
from training.core.config import OPTIMIZERS, HyperParams
from training.core.errors import InputError

TUTORIAL_VOCAB_SIZE = 98
# What the tutorial's Keras (2.2) writes; its loader reads our file as its own.
EXPORT_KERAS_VERSION = "2.2.4"
SIGMOID, HARD_SIGMOID = "sigmoid", "hard_sigmoid"
ARCHITECTURE = ("Embedding -> Dropout -> (LSTM -> Dropout) x N -> Dense(softmax), "
                "optionally in TimeDistributed")
_OUTPUT_ACTIVATIONS = ("softmax", "linear")  # linear: the file already holds logits


@dataclass
class LegacyModel:
    """A tutorial-shaped model, as arrays and the few settings that define it.

    ``lstms``: per layer, ``[kernel, recurrent_kernel, bias]`` in Keras' gate
    order (i, f, c, o), the same in Keras 2 and 3. ``dense``: ``[kernel, bias]``
    of the output layer, which maps to logits. ``recurrent_activation``:
    ``sigmoid`` or Keras 2's ``hard_sigmoid``."""

    embeddings: np.ndarray
    lstms: list[list[np.ndarray]]
    dense: list[np.ndarray]
    drop_rate: float = 0.0
    batch_size: int | None = None
    seq_len: int | None = None
    recurrent_activation: str = SIGMOID
    optimizer: str | None = None
    learning_rate: float | None = None
    clip_norm: float = 0.0
    keras_version: str = ""

    @property
    def vocab_size(self) -> int:
        return self.embeddings.shape[0]

    @property
    def rnn_size(self) -> int:
        return self.lstms[0][1].shape[0]

    def hyperparams(self) -> HyperParams:
        """The model's settings as this project's hyper-parameters; what the file
        does not say (a batch shape, an optimizer) takes the tutorial's values."""
        learning_rate = self.learning_rate
        if learning_rate is not None and not 1e-7 <= learning_rate <= 10:
            learning_rate = None
        return HyperParams.from_mapping({
            "batch_size": self.batch_size or 64, "seq_len": self.seq_len or 64,
            "embedding_size": int(self.embeddings.shape[1]), "rnn_size": int(self.rnn_size),
            "num_layers": len(self.lstms), "drop_rate": float(self.drop_rate),
            "learning_rate": learning_rate, "clip_norm": float(self.clip_norm),
            "optimizer": self.optimizer or "rmsprop"})


# --- reading ------------------------------------------------------------------------

def read(path: Path) -> LegacyModel:
    """The model in ``path``; one line naming the file if it is not a tutorial
    model (not HDF5, truncated, weights only, other layers, other vocabulary)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as handle:
            return _read(handle, path)
    except OSError as error:  # h5py: not HDF5, truncated, unreadable
        raise InputError(f"{path}: not a readable HDF5 file ({_first_line(error)})") from None


def _read(handle: h5py.File, path: Path) -> LegacyModel:
    if "model_config" not in handle.attrs:
        what = ("weights only (save_weights)" if "layer_names" in handle.attrs
                else "no Keras model")
        raise InputError(f"{path}: holds {what}; import the file the tutorial's "
                         f"model.save or ModelCheckpoint wrote")
    config = json.loads(_text(handle.attrs["model_config"]))
    layers = _sequential_layers(config, path)
    weights = handle.get("model_weights", handle)
    model = _parse_layers(layers, weights, path)
    model.keras_version = _text(handle.attrs.get("keras_version", ""))
    if "training_config" in handle.attrs:
        _read_optimizer(json.loads(_text(handle.attrs["training_config"])), model)
    return model


def _sequential_layers(config: dict, path: Path) -> list[dict]:
    """The layer entries of a Sequential config: Keras 2.1 wrote a list, later
    versions a dict with ``layers``."""
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    if config.get("class_name") != "Sequential" or not isinstance(layers, list):
        raise InputError(f"{path}: a {config.get('class_name', 'unknown')} model; the "
                         f"tutorial's is Sequential ({ARCHITECTURE})")
    return layers


def _parse_layers(layers: list[dict], weights: h5py.Group, path: Path) -> LegacyModel:
    batch_shape, rates = None, []
    embeddings, lstms, dense = None, [], None
    recurrent = set()
    # Counted from 1 without the InputLayer, which Keras 2.2's files do not list.
    model_layers = [layer for layer in layers if layer.get("class_name") != "InputLayer"]
    for layer in layers:
        settings = layer.get("config", {})
        batch_shape = batch_shape or settings.get("batch_input_shape") or settings.get(
            "batch_shape")
    for position, layer in enumerate(model_layers, start=1):
        kind, settings = layer.get("class_name"), layer.get("config", {})
        where = f"{path}: layer {position} ({settings.get('name', kind)!r})"
        name = settings.get("name", "")
        if dense is not None:
            raise InputError(f"{where} ({kind}) follows the output layer; the tutorial's "
                             f"model is {ARCHITECTURE}")
        if kind == "Dropout":
            rates.append(float(settings.get("rate", 0.0)))
        elif kind == "Embedding" and embeddings is None and not lstms:
            (embeddings,) = _arrays(weights, name, 1, where)
        elif kind == "LSTM" and embeddings is not None:
            _check_lstm(settings, where)
            recurrent.add(settings.get("recurrent_activation", HARD_SIGMOID))
            lstms.append(_arrays(weights, name, 3, where))
        elif kind in ("Dense", "TimeDistributed") and lstms:
            inner = settings.get("layer", {}) if kind == "TimeDistributed" else layer
            if inner.get("class_name") != "Dense":
                raise InputError(f"{where}: TimeDistributed({inner.get('class_name')}); "
                                 f"the tutorial's output is a Dense softmax")
            activation = inner.get("config", {}).get("activation", "linear")
            if activation not in _OUTPUT_ACTIVATIONS:
                raise InputError(f"{where}: output activation {activation!r}; the "
                                 f"tutorial's is softmax")
            dense = _arrays(weights, name, 2, where)
        else:
            raise InputError(f"{where} is {kind}; the tutorial's model is {ARCHITECTURE}")
    if dense is None:
        raise InputError(f"{path}: no Embedding, LSTM and Dense output layers; the "
                         f"tutorial's model is {ARCHITECTURE}")
    if len(recurrent) > 1:
        raise InputError(f"{path}: the LSTM layers gate with different functions "
                         f"({', '.join(sorted(recurrent))})")
    model = LegacyModel(embeddings=embeddings, lstms=lstms, dense=dense,
                        drop_rate=rates[0] if rates else 0.0,
                        recurrent_activation=recurrent.pop())
    if batch_shape and len(batch_shape) == 2 and all(batch_shape):
        model.batch_size, model.seq_len = (int(n) for n in batch_shape)
    _check_shapes(model, path)
    return model


def _check_lstm(settings: dict, where: str) -> None:
    """What would make this project's LSTM compute something else."""
    if settings.get("activation", "tanh") != "tanh":
        raise InputError(f"{where}: activation {settings['activation']!r}; only tanh "
                         f"(the tutorial's) is supported")
    gate = settings.get("recurrent_activation", HARD_SIGMOID)
    if gate not in (SIGMOID, HARD_SIGMOID):
        raise InputError(f"{where}: recurrent_activation {gate!r}; only sigmoid or "
                         f"hard_sigmoid is supported")
    if not settings.get("use_bias", True) or settings.get("go_backwards"):
        raise InputError(f"{where}: an LSTM without bias or reading backwards is not "
                         f"the tutorial's")


def _arrays(weights: h5py.Group, name: str, count: int, where: str) -> list[np.ndarray]:
    if name not in weights:
        raise InputError(f"{where}: the file holds no weights for it")
    group = weights[name]
    names = [_text(n) for n in group.attrs.get("weight_names", [])]
    if len(names) != count:
        raise InputError(f"{where}: {len(names)} weight arrays, expected {count}")
    try:
        return [np.asarray(group[n], dtype=np.float32) for n in names]
    except (KeyError, OSError) as error:
        raise InputError(f"{where}: weights unreadable ({_first_line(error)})") from None


def _check_shapes(model: LegacyModel, path: Path) -> None:
    vocab, width = model.embeddings.shape
    if vocab != TUTORIAL_VOCAB_SIZE:
        raise InputError(f"{path}: a vocabulary of {vocab} characters; the tutorial's "
                         f"(and this project's) has {TUTORIAL_VOCAB_SIZE}")
    units = model.rnn_size
    for index, (kernel, recurrent, bias) in enumerate(model.lstms):
        expected = ((width if index == 0 else units, 4 * units), (units, 4 * units),
                    (4 * units,))
        if (kernel.shape, recurrent.shape, bias.shape) != expected:
            raise InputError(f"{path}: LSTM {index + 1}'s weights have shapes "
                             f"{kernel.shape}, {recurrent.shape}, {bias.shape}; expected "
                             f"{expected[0]}, {expected[1]}, {expected[2]}")
    kernel, bias = model.dense
    if kernel.shape != (units, vocab) or bias.shape != (vocab,):
        raise InputError(f"{path}: the output layer's weights have shapes {kernel.shape}, "
                         f"{bias.shape}; expected {(units, vocab)}, {(vocab,)}")


def _read_optimizer(training_config: dict, model: LegacyModel) -> None:
    """The optimizer the file was compiled with, if it is one this project has."""
    optimizer = training_config.get("optimizer_config") or {}
    # tf-keras writes "Custom>Adam" for its own optimizers.
    name = str(optimizer.get("class_name", "")).rpartition(">")[2].lower()
    if name in OPTIMIZERS:
        model.optimizer = name
    settings = optimizer.get("config") or {}
    rate = settings.get("learning_rate", settings.get("lr"))
    if isinstance(rate, int | float):
        model.learning_rate = float(f"{rate:.6g}")  # stored as float32: 0.003000000026
    clip = settings.get("clipnorm")
    if isinstance(clip, int | float):
        model.clip_norm = float(clip)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


# --- writing ------------------------------------------------------------------------

def write(model: LegacyModel, path: Path) -> Path:
    """``model`` as the tutorial's Keras 2.2 would have saved it (no optimizer
    state: a file to sample from, as ``model.save(include_optimizer=False)``
    writes). Written to a temporary name and renamed: never half a file."""
    layers, arrays = _keras2_layers(model)
    with replacing(Path(path)) as scratch, h5py.File(scratch, "w") as handle:
        handle.attrs["keras_version"] = EXPORT_KERAS_VERSION.encode()
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["model_config"] = json.dumps({
            "class_name": "Sequential",
            "config": {"name": "sequential_1", "layers": layers}}).encode()
        group = handle.create_group("model_weights")
        group.attrs["keras_version"] = EXPORT_KERAS_VERSION.encode()
        group.attrs["backend"] = b"tensorflow"
        group.attrs["layer_names"] = [layer["config"]["name"].encode() for layer in layers]
        for layer in layers:
            name = layer["config"]["name"]
            named = arrays.get(name, [])
            layer_group = group.create_group(name)
            layer_group.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w, _ in named]
            for weight, values in named:
                layer_group.create_dataset(f"{name}/{weight}:0", data=values)
    return Path(path)


def _keras2_layers(model: LegacyModel) -> tuple[list[dict], dict[str, list]]:
    """Keras 2.2 layer configs with only the arguments its layers accept (an
    unknown one fails its loader), and each layer's named arrays."""
    def layer(kind: str, name: str, **settings) -> dict:
        return {"class_name": kind, "config": {"name": name, "trainable": True, **settings}}

    batch = [model.batch_size or 1, model.seq_len or 1]
    layers = [layer("Embedding", "embedding_1", batch_input_shape=batch, dtype="float32",
                    input_dim=int(model.vocab_size),
                    output_dim=int(model.embeddings.shape[1])),
              layer("Dropout", "dropout_1", rate=model.drop_rate)]
    arrays = {"embedding_1": [("embeddings", model.embeddings)]}
    for index, weights in enumerate(model.lstms, start=1):
        name = f"lstm_{index}"
        layers += [layer("LSTM", name, units=int(model.rnn_size), activation="tanh",
                         recurrent_activation=model.recurrent_activation, use_bias=True,
                         return_sequences=True, stateful=True),
                   layer("Dropout", f"dropout_{index + 1}", rate=model.drop_rate)]
        arrays[name] = list(zip(("kernel", "recurrent_kernel", "bias"), weights, strict=True))
    dense = {"class_name": "Dense", "config": {
        "name": "dense_1", "trainable": True, "units": int(model.vocab_size),
        "activation": "softmax", "use_bias": True}}
    layers.append(layer("TimeDistributed", "time_distributed_1", layer=dense))
    arrays["time_distributed_1"] = list(zip(("kernel", "bias"), model.dense, strict=True))
    return layers, arrays


# --- this project's model (Keras imported only here) --------------------------------

def to_training_model(model: LegacyModel):
    """This project's training model with ``model``'s weights; the output layer
    becomes ``logits``."""
    from training.model.network import (
        EMBEDDING,
        LOGITS,
        build_training_model,
        keras2_hard_sigmoid,
        lstm_name,
    )

    gate = keras2_hard_sigmoid if model.recurrent_activation == HARD_SIGMOID else SIGMOID
    keras_model = build_training_model(model.hyperparams(), model.vocab_size,
                                       recurrent_activation=gate)
    keras_model.get_layer(EMBEDDING).set_weights([model.embeddings])
    for index, weights in enumerate(model.lstms):
        keras_model.get_layer(lstm_name(index)).set_weights(weights)
    keras_model.get_layer(LOGITS).set_weights(model.dense)
    return keras_model


def from_training_model(keras_model) -> LegacyModel:
    """A trained model of this project as the tutorial's layers; refused if its
    gates are neither sigmoid nor Keras 2's hard sigmoid."""
    import keras

    from training.model.network import EMBEDDING, LOGITS, keras2_hard_sigmoid

    lstms = [layer for layer in keras_model.layers if isinstance(layer, keras.layers.LSTM)]
    gate = lstms[0].cell.recurrent_activation
    names = {keras.activations.sigmoid: SIGMOID, keras2_hard_sigmoid: HARD_SIGMOID}
    if gate not in names:
        raise InputError(f"the model's LSTMs gate with {getattr(gate, '__name__', gate)}, "
                         f"which Keras 2 cannot load")
    rates = [layer.rate for layer in keras_model.layers
             if isinstance(layer, keras.layers.Dropout)]
    batch_size, seq_len = keras_model.inputs[0].shape
    return LegacyModel(
        embeddings=keras_model.get_layer(EMBEDDING).get_weights()[0],
        lstms=[layer.get_weights() for layer in lstms],
        dense=keras_model.get_layer(LOGITS).get_weights(),
        drop_rate=float(rates[0]) if rates else 0.0, batch_size=batch_size,
        seq_len=seq_len, recurrent_activation=names[gate])
