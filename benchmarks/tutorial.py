"""The tutorial's data path and training loop, rebuilt on Keras 3: the baseline.

Faithful to the tutorial's code: text read through ``open(..., "r")`` a
``max_bytes_in_ram`` chunk at a time, encoded a character at a time through a
dict (``encode_text``), labels one-hot encoded with ``np.eye`` (``one_hot_encode``),
each chunk cut into ``batch_size`` rows and split into ``seq_len`` batches
(``io_batch_generator``), steps per epoch counted by running the generator
through a whole epoch (``get_num_steps_per_epoch``). The model is the tutorial's
``build_model`` (softmax output, categorical cross-entropy on one-hot labels),
trained batch by batch with ``train_on_batch``, validated after each epoch, the
state reset between epochs and the model saved when val_loss improves.

Only what Keras 3 removed is changed: ``batch_input_shape`` becomes an ``Input``
with ``batch_shape``, ``fit_generator`` an explicit loop, ``model.reset_states()``
a reset of each stateful layer.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from training.data.vocab import Vocabulary

_VOCAB = Vocabulary.default()
CHAR2ID = {char: index for index, char in enumerate(_VOCAB.chars, start=1)}
VOCAB_SIZE = _VOCAB.size
MAX_BYTES_IN_RAM = 1_000_000


def encode_text(text, char2id=CHAR2ID):
    return np.fromiter((char2id.get(ch, 0) for ch in text), int)


def one_hot_encode(indices, num_classes):
    return np.eye(num_classes)[indices]


def io_batch_generator(text_path, max_bytes_in_ram=MAX_BYTES_IN_RAM, batch_size=64,
                       seq_len=64, one_hot_features=False, one_hot_labels=False):
    """Yields ``(x, y, epoch)`` forever, as the tutorial's ``utils.io_batch_generator``."""
    total_bytes = os.path.getsize(text_path)
    effective_file_end = total_bytes - total_bytes % max_bytes_in_ram
    with open(text_path) as file:
        epoch = 0
        while True:
            if file.tell() == 0:
                epoch += 1
            io_batch = file.read(max_bytes_in_ram)
            if file.tell() + max_bytes_in_ram > effective_file_end:
                file.seek(0)
            encoded = encode_text(io_batch)
            num_batches = (len(encoded) - 1) // (batch_size * seq_len)
            if num_batches == 0:
                raise ValueError("No batches created. Use smaller batch_size or "
                                 "seq_len or larger value for RAM.")
            rounded_len = num_batches * batch_size * seq_len
            x = np.reshape(encoded[:rounded_len], [batch_size, num_batches * seq_len])
            if one_hot_features:
                x = one_hot_encode(x, VOCAB_SIZE)
            y = np.reshape(encoded[1:rounded_len + 1], [batch_size, num_batches * seq_len])
            if one_hot_labels:
                y = one_hot_encode(y, VOCAB_SIZE)
            x_batches = np.split(x, num_batches, axis=1)
            y_batches = np.split(y, num_batches, axis=1)
            for batch in range(num_batches):
                yield x_batches[batch], y_batches[batch], epoch


def get_num_steps_per_epoch(generator):
    num_steps = 0
    while True:
        _, _, epoch = next(generator)
        if epoch > 1:
            return num_steps
        num_steps += 1


def build_model(batch_size, seq_len, embedding_size, rnn_size, num_layers, drop_rate):
    from keras import Input
    from keras.layers import LSTM, Dense, Dropout, Embedding, TimeDistributed
    from keras.models import Sequential

    model = Sequential()
    model.add(Input(batch_shape=(batch_size, seq_len)))
    model.add(Embedding(VOCAB_SIZE, embedding_size))
    model.add(Dropout(drop_rate))
    for _ in range(num_layers):
        model.add(LSTM(rnn_size, return_sequences=True, stateful=True))
        model.add(Dropout(drop_rate))
    model.add(TimeDistributed(Dense(VOCAB_SIZE, activation="softmax")))
    return model


def _reset_states(model):
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()


def train(train_path: Path, val_path: Path, checkpoint_path: Path, *, batch_size: int,
          seq_len: int, embedding_size: int, rnn_size: int, num_layers: int,
          drop_rate: float, optimizer: str, clip_norm: float, num_epochs: int,
          on_epoch=lambda epoch, seconds: None) -> None:
    """The tutorial's ``train()``; ``on_epoch`` gets each epoch's wall seconds,
    from the end of the previous one (training, validation and the checkpoint)."""
    import keras

    model = build_model(batch_size, seq_len, embedding_size, rnn_size, num_layers,
                        drop_rate)
    config = {"clipnorm": clip_norm} if clip_norm else {}
    model.compile(loss="categorical_crossentropy",
                  optimizer=keras.optimizers.get({"class_name": optimizer,
                                                  "config": config}))

    def generator(path):
        return io_batch_generator(path, batch_size=batch_size, seq_len=seq_len,
                                  one_hot_labels=True)

    train_steps = get_num_steps_per_epoch(generator(train_path))
    val_steps = get_num_steps_per_epoch(generator(val_path))
    train_batches, val_batches = generator(train_path), generator(val_path)
    best = float("inf")
    started = time.perf_counter()
    for epoch in range(num_epochs):
        for _ in range(train_steps):
            x, y, _ = next(train_batches)
            model.train_on_batch(x, y)
        _reset_states(model)
        val_loss = float(np.mean([model.test_on_batch(*next(val_batches)[:2])
                                  for _ in range(val_steps)]))
        _reset_states(model)
        if val_loss < best:
            best = val_loss
            model.save(checkpoint_path)
        now = time.perf_counter()
        on_epoch(epoch, now - started)
        started = now
