import keras
import numpy as np

from training.core.config import HyperParams
from training.model.network import build_training_model, inference_model_from, reset_states

PARAMS = HyperParams(batch_size=3, seq_len=5, embedding_size=4, rnn_size=6,
                     num_layers=2, drop_rate=0.1)


def test_architecture_follows_the_tutorial():
    model = build_training_model(PARAMS, vocab_size=98)
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["Embedding", "Dropout", "LSTM", "Dropout", "LSTM", "Dropout", "Dense"]
    assert model.output.shape == (3, 5, 98)


def test_lstm_layers_are_cudnn_eligible():
    """The conditions under which Keras 3 on TensorFlow picks the cuDNN kernel."""
    model = build_training_model(PARAMS, vocab_size=98)
    for layer in (lyr for lyr in model.layers if isinstance(lyr, keras.layers.LSTM)):
        config = layer.get_config()
        assert config["activation"] == "tanh"
        assert config["recurrent_activation"] == "sigmoid"
        assert config["recurrent_dropout"] == 0 and not config["unroll"]
        assert config["use_bias"] and layer.use_cudnn in ("auto", True)
        assert layer.stateful


def test_inference_model_reproduces_the_stateful_model_across_batches():
    model = build_training_model(PARAMS, vocab_size=98)
    inference = inference_model_from(model)
    rng = np.random.default_rng(0)
    first, second = (rng.integers(1, 98, size=(3, 5)).astype("int32") for _ in range(2))
    reset_states(model)
    stateful = np.concatenate([np.asarray(model(first)), np.asarray(model(second))], axis=1)
    zeros = [np.zeros((3, 6), np.float32)] * 4
    stateless = np.asarray(inference([np.concatenate([first, second], 1), *zeros])[0])
    np.testing.assert_allclose(stateful, stateless, atol=1e-5)
