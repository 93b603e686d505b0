import numpy as np
import pytest

from training.data.vocab import Vocabulary
from training.model import scoring
from training.model.generator import TweetGenerator
from training.model.network import build_inference_model

VOCAB = Vocabulary.default()


@pytest.fixture(scope="module")
def generator():
    import keras

    keras.utils.set_random_seed(3)
    return TweetGenerator(build_inference_model(VOCAB.size, 8, 12, 2), VOCAB)


def naive_loss(generator, ids):
    """Every character predicted from all before it, one call over the whole text."""
    context = np.concatenate([[generator.newline_id], ids[:-1]]).astype(np.int32)
    logits, _ = generator.step(context[None, :], generator.zero_states(1))
    shifted = logits[0].astype(np.float64)
    shifted -= shifted.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(ids)), ids].mean()


def test_one_stream_scores_each_character_given_all_before_it(generator):
    ids = np.random.default_rng(0).integers(1, VOCAB.size, 1300).astype(np.int32)
    assert scoring.stream_loss(generator, ids, streams=1) == pytest.approx(
        naive_loss(generator, ids), rel=1e-5)


def test_a_short_split_is_one_piece(generator):
    ids = np.random.default_rng(1).integers(1, VOCAB.size, 1500).astype(np.int32)
    score = scoring.stream_score(generator, ids, streams=64, warmup=256)
    assert (score.pieces, score.rescored) == (1, 0)


TEXT = "\n".join(f"tweet number {i} says something short" for i in range(300))


def test_side_by_side_pieces_whose_warm_up_converges_are_not_scored_again(generator):
    """A random-weight LSTM forgets fast: every warm-up reaches the true state."""
    ids = VOCAB.encode(TEXT)
    score = scoring.stream_score(generator, ids, streams=8, warmup=64)
    assert (score.pieces, score.rescored) == (8, 0)
    assert score.loss == pytest.approx(scoring.stream_loss(generator, ids, streams=1),
                                       rel=1e-6)


def test_a_model_that_never_forgets_still_gets_the_one_stream_loss():
    """A forget gate held open makes the cell state sum the whole text: no
    warm-up reaches it, so each piece is scored again from the true state."""
    import keras

    keras.utils.set_random_seed(4)
    model = build_inference_model(VOCAB.size, 8, 12, 1)
    lstm = model.get_layer("lstm_0")
    kernel, recurrent, bias = lstm.get_weights()
    bias[12:24] = 30.0  # the forget gate: sigmoid(30) == 1 in float32
    lstm.set_weights([kernel * 3, recurrent * 0, bias])
    generator = TweetGenerator(model, VOCAB)
    ids = VOCAB.encode(TEXT)
    score = scoring.stream_score(generator, ids, streams=8, warmup=64)
    assert score.pieces == 8 and score.rescored == 7
    assert score.loss == pytest.approx(scoring.stream_loss(generator, ids, streams=1),
                                       rel=1e-6)
    # Scored again, each piece's characters still land in their own tweets.
    one = scoring.stream_score(generator, ids, streams=1)
    np.testing.assert_allclose(score.tweet_nats, one.tweet_nats, rtol=1e-5)


def test_each_tweets_nats_are_its_characters_and_its_newline(generator):
    ids = VOCAB.encode(TEXT)
    score = scoring.stream_score(generator, ids, streams=8, warmup=64)
    lines = TEXT.split("\n")
    assert len(score.tweet_nats) == len(lines) == 300
    # Every line but the last ends in its newline.
    assert score.tweet_chars.tolist() == [len(line) + 1 for line in lines[:-1]] + [
        len(lines[-1])]
    assert score.tweet_nats.sum() / len(ids) == pytest.approx(score.loss, rel=1e-9)
    one = scoring.stream_score(generator, ids, streams=1)
    np.testing.assert_allclose(score.tweet_nats, one.tweet_nats, rtol=1e-4)
