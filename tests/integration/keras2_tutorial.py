"""The tutorial's own model code, run by Keras 2 (tf-keras) in a process of its own.

    python keras2_tutorial.py make MODEL.h5 INPUTS.npy PROBS.npy
    python keras2_tutorial.py load MODEL.h5 INPUTS.npy PROBS.npy

``make`` builds the tutorial's ``build_model()`` (Keras 2.2's LSTM gated with
its hard sigmoid, which the tutorial's Keras used by default), gives it weights
away from the initial ones so its outputs differ from position to position,
saves it as the tutorial's ``model.save`` did, and writes its softmax output on
random inputs. ``load`` loads a file with Keras 2's ``load_model`` and writes
its output on the given inputs. Keras 3 and Keras 2 cannot share a process.
"""

import sys

import numpy as np
import tf_keras as keras
from tf_keras.layers import LSTM, Dense, Dropout, Embedding, TimeDistributed
from tf_keras.models import Sequential, load_model

VOCAB_SIZE = 98
BATCH_SIZE, SEQ_LEN, EMBEDDINGS_SIZE, RNN_SIZE, NUM_LAYERS, DROP_RATE = 4, 8, 16, 32, 2, 0.2


def build_model():
    model = Sequential()
    model.add(Embedding(VOCAB_SIZE, EMBEDDINGS_SIZE,
                        batch_input_shape=(BATCH_SIZE, SEQ_LEN)))
    model.add(Dropout(DROP_RATE))
    for _ in range(NUM_LAYERS):
        model.add(LSTM(RNN_SIZE, return_sequences=True, stateful=True,
                       recurrent_activation="hard_sigmoid"))
        model.add(Dropout(DROP_RATE))
    model.add(TimeDistributed(Dense(VOCAB_SIZE, activation="softmax")))
    return model


def main(command: str, model_path: str, inputs_path: str, probs_path: str) -> None:
    if command == "make":
        model = build_model()
        model.compile(loss="categorical_crossentropy",
                      optimizer=keras.optimizers.RMSprop(clipnorm=5.0))
        rng = np.random.default_rng(0)
        model.set_weights([w + rng.normal(0, 0.5, w.shape) for w in model.get_weights()])
        model.save(model_path)
        inputs = rng.integers(0, VOCAB_SIZE, (BATCH_SIZE, SEQ_LEN))
        np.save(inputs_path, inputs)
    else:
        model = load_model(model_path)
        inputs = np.load(inputs_path)
    np.save(probs_path, model.predict(inputs, verbose=0))


if __name__ == "__main__":
    main(*sys.argv[1:])
