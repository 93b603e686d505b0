"""The character LSTM: a stateful training graph and a stateless inference graph.

Training graph (the tutorial's architecture): Embedding -> Dropout ->
N x (stateful LSTM -> Dropout) -> Dense over the vocabulary. The Dense layer
emits logits and the loss applies the softmax (``from_logits=True``): same
model, numerically safer, and temperature sampling divides logits directly.

The LSTM layers keep Keras' defaults that make them eligible for the cuDNN
kernel on a GPU (tanh/sigmoid, no recurrent dropout, not unrolled, with bias);
dropout is applied between layers, which cuDNN allows. ``use_cudnn`` can be set
to ``True`` to make a GPU run fail loudly instead of falling back.

Inference graph: the same layers, any batch size, one or more steps, with the
LSTM states passed in and returned explicitly, so generation needs no stateful
model and no fixed batch. Weights move across by layer name.

A model imported from the tutorial (``training.model.tutorial_h5``) may gate its LSTMs
with Keras 2's hard sigmoid, which Keras 3 no longer has under that name:
``keras2_hard_sigmoid`` is it, registered so a saved model finds it again.
"""

from __future__ import annotations

import keras
from keras import layers

from training.core.config import HyperParams
from training.core.errors import InputError

EMBEDDING = "embedding"
LOGITS = "logits"
# The Keras backends the stateful training graph trains on. PyTorch's fails in the
# backward pass: the stateful LSTM's state update is an in-place operation that
# autograd refuses ("one of the variables needed for gradient computation has been
# modified by an inplace operation"). Inference needs no state kept in the model,
# and loads on any backend.
TRAINING_BACKENDS = ("tensorflow", "jax")


def check_training_backend() -> str:
    """Keras' backend (``KERAS_BACKEND``); a one-line error, before any training,
    where it cannot train."""
    backend = keras.backend.backend()
    if backend not in TRAINING_BACKENDS:
        raise InputError(f"KERAS_BACKEND={backend}: the trainer trains on "
                         f"{' or '.join(TRAINING_BACKENDS)} (tensorflow by default); "
                         f"{backend}'s autograd refuses the stateful LSTM's state update")
    return backend


def lstm_name(index: int) -> str:
    return f"lstm_{index}"


@keras.saving.register_keras_serializable(package="tweetbot")
def keras2_hard_sigmoid(x):
    """Keras 2's ``hard_sigmoid``: 0.2 x + 0.5, clipped to [0, 1]. Keras 3's
    function of that name has slope 1/6, so the name alone would change the
    gates of a model trained with Keras 2."""
    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def build_training_model(hyperparams: HyperParams, vocab_size: int,
                         use_cudnn: bool | str = "auto",
                         recurrent_activation="sigmoid") -> keras.Model:
    """The stateful model ``fit`` trains; batch shape is fixed by the hyperparams.
    ``recurrent_activation``: the gates' function; only an imported model has
    another than Keras' default (which cuDNN needs)."""
    char_ids = keras.Input(batch_shape=(hyperparams.batch_size, hyperparams.seq_len),
                           dtype="int32", name="char_ids")
    x = layers.Embedding(vocab_size, hyperparams.embedding_size, name=EMBEDDING)(char_ids)
    x = layers.Dropout(hyperparams.drop_rate, name="embedding_dropout")(x)
    for index in range(hyperparams.num_layers):
        x = layers.LSTM(hyperparams.rnn_size, return_sequences=True, stateful=True,
                        recurrent_activation=recurrent_activation, use_cudnn=use_cudnn,
                        name=lstm_name(index))(x)
        x = layers.Dropout(hyperparams.drop_rate, name=f"{lstm_name(index)}_dropout")(x)
    logits = layers.Dense(vocab_size, name=LOGITS)(x)
    return keras.Model(char_ids, logits, name="charrnn_train")


def build_inference_model(vocab_size: int, embedding_size: int, rnn_size: int,
                          num_layers: int, recurrent_activation="sigmoid") -> keras.Model:
    """Inputs ``[char_ids, h_0, c_0, h_1, c_1, ...]``, outputs ``[logits, h_0, c_0, ...]``."""
    char_ids = keras.Input(shape=(None,), dtype="int32", name="char_ids")
    states_in, states_out = [], []
    x = layers.Embedding(vocab_size, embedding_size, name=EMBEDDING)(char_ids)
    for index in range(num_layers):
        h = keras.Input(shape=(rnn_size,), name=f"h_{index}")
        c = keras.Input(shape=(rnn_size,), name=f"c_{index}")
        x, h_out, c_out = layers.LSTM(rnn_size, return_sequences=True, return_state=True,
                                      recurrent_activation=recurrent_activation,
                                      name=lstm_name(index))(
            x, initial_state=[h, c])
        states_in += [h, c]
        states_out += [h_out, c_out]
    logits = layers.Dense(vocab_size, name=LOGITS)(x)
    return keras.Model([char_ids, *states_in], [logits, *states_out],
                       name="charrnn_generate")


def inference_model_from(training_model: keras.Model) -> keras.Model:
    """A stateless inference model carrying a trained model's weights.

    The shape is read off the trained model itself, so a ``.keras`` file is all
    it needs (plus the vocabulary, for text)."""
    embedding = training_model.get_layer(EMBEDDING)
    lstms = [layer for layer in training_model.layers if isinstance(layer, layers.LSTM)]
    model = build_inference_model(embedding.input_dim, embedding.output_dim,
                                  lstms[0].units, len(lstms),
                                  lstms[0].cell.recurrent_activation)
    for name in (EMBEDDING, *(lstm_name(i) for i in range(len(lstms))), LOGITS):
        model.get_layer(name).set_weights(training_model.get_layer(name).get_weights())
    return model


def load_trained(path) -> keras.Model:
    """A saved model, for inference: not compiled, and in ``safe_mode`` (Keras'
    default, said here so it stays): a model file may not carry code, such as a
    Lambda layer's pickled function. Loading from this module also registers
    ``keras2_hard_sigmoid`` first, which an imported model's file names."""
    return keras.models.load_model(path, compile=False, safe_mode=True)


def reset_states(model: keras.Model) -> None:
    """Zero the state of every stateful layer (Keras 3 has no Model.reset_states)."""
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()
