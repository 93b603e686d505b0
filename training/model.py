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
"""

from __future__ import annotations

import keras
from keras import layers

from training.config import HyperParams

EMBEDDING = "embedding"
LOGITS = "logits"


def lstm_name(index: int) -> str:
    return f"lstm_{index}"


def build_training_model(hyperparams: HyperParams, vocab_size: int,
                         use_cudnn: bool | str = "auto") -> keras.Model:
    """The stateful model ``fit`` trains; batch shape is fixed by the hyperparams."""
    char_ids = keras.Input(batch_shape=(hyperparams.batch_size, hyperparams.seq_len),
                           dtype="int32", name="char_ids")
    x = layers.Embedding(vocab_size, hyperparams.embedding_size, name=EMBEDDING)(char_ids)
    x = layers.Dropout(hyperparams.drop_rate, name="embedding_dropout")(x)
    for index in range(hyperparams.num_layers):
        x = layers.LSTM(hyperparams.rnn_size, return_sequences=True, stateful=True,
                        use_cudnn=use_cudnn, name=lstm_name(index))(x)
        x = layers.Dropout(hyperparams.drop_rate, name=f"{lstm_name(index)}_dropout")(x)
    logits = layers.Dense(vocab_size, name=LOGITS)(x)
    return keras.Model(char_ids, logits, name="charrnn_train")


def build_inference_model(vocab_size: int, embedding_size: int, rnn_size: int,
                          num_layers: int) -> keras.Model:
    """Inputs ``[char_ids, h_0, c_0, h_1, c_1, ...]``, outputs ``[logits, h_0, c_0, ...]``."""
    char_ids = keras.Input(shape=(None,), dtype="int32", name="char_ids")
    states_in, states_out = [], []
    x = layers.Embedding(vocab_size, embedding_size, name=EMBEDDING)(char_ids)
    for index in range(num_layers):
        h = keras.Input(shape=(rnn_size,), name=f"h_{index}")
        c = keras.Input(shape=(rnn_size,), name=f"c_{index}")
        x, h_out, c_out = layers.LSTM(rnn_size, return_sequences=True,
                                      return_state=True, name=lstm_name(index))(
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
                                  lstms[0].units, len(lstms))
    for name in (EMBEDDING, *(lstm_name(i) for i in range(len(lstms))), LOGITS):
        model.get_layer(name).set_weights(training_model.get_layer(name).get_weights())
    return model


def reset_states(model: keras.Model) -> None:
    """Zero the state of every stateful layer (Keras 3 has no Model.reset_states)."""
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()
