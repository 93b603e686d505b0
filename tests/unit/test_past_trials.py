"""An earlier search's trials.csv: the tutorial's columns or tweetbot's own."""

from __future__ import annotations

import pytest

from training.core.config import HyperParams
from training.core.errors import InputError
from training.core.records import FAILED, OK, PRUNED, TrialRecord
from training.tuning import past_trials
from training.tuning.report import write_trials_csv
from training.tuning.space import SearchSpace

SPACE = SearchSpace.load()
# The tutorial's header and the kinds of row its search wrote (status ok or fail,
# val_loss 100 for a failure, no learning_rate column).
HEADER = ("rank,trial_num,val_loss,train_loss,num_epochs,avg_epoch_seconds,batch_size,"
          "drop_rate,embedding_size,num_layers,rnn_size,seq_len,optimizer,clip_norm,status\n")
TUTORIAL_CSV = HEADER + (
    "1,7,1.5162,1.43,10,300,64,0.0,64,1,512,64,rmsprop,5.0,ok\n"
    "2,2,1.7031,1.62,10,210,128,0.0,32,1,256,32,adam,0.0,ok\n"
    "3,5,1.9,1.8,10,200,128,0.0,32,1,256,32,adagrad,0.0,ok\n"
    "4,4,100,100,0,12,512,0.0,256,2,512,256,adadelta,5.0,fail\n"
    "5,9,1.8,1.7,10,200,64,0.0,64,3,512,64,rmsprop,5.0,ok\n"
    "6,1,1.8,1.7,10,200,64,0.0,64,1,512,64,nadam,5.0,ok\n")


def test_the_tutorials_rows_become_observations_at_keras_2s_learning_rates():
    past = past_trials.parse(TUTORIAL_CSV, SPACE)
    rows = {(t.hyperparams.optimizer, t.hyperparams.learning_rate): t.val_loss
            for t in past.trials}
    # Keras 2's defaults: rmsprop and adam 0.001, adadelta 1.0 (all in the
    # default space's ranges); adagrad's 0.01 is below its range [0.1, 2].
    assert rows == {("rmsprop", 0.001): 1.5162, ("adam", 0.001): 1.7031,
                    ("adadelta", 1.0): None}  # the failed row: a failure, not 100
    assert past.trials[0].hyperparams.batch_size == 64
    # adagrad at 0.01 and 3 layers are outside the space; nadam is no optimizer here.
    assert past.skipped == {past_trials.OUTSIDE: 2, past_trials.INVALID: 1}
    assert past.summary() == ("3 past trials used; skipped: 2 outside the search space, "
                              "1 not valid hyper-parameters")


def test_tweetbots_own_trials_csv_reads_back_as_it_was_written(tmp_path):
    def record(num, status, loss, **params):
        return TrialRecord(search_id="s", trial_num=num, run_id=f"r{num}", status=status,
                           val_loss=loss, train_loss=loss, num_epochs=3,
                           avg_epoch_seconds=10.0,
                           hyperparams=HyperParams(batch_size=32, seq_len=64,
                                                   embedding_size=64, rnn_size=256,
                                                   drop_rate=0.25, clip_norm=0.0, **params))

    records = [record(1, OK, 1.62, optimizer="adam", learning_rate=0.004),
               record(2, PRUNED, 2.31, optimizer="adagrad", learning_rate=0.5),
               record(3, FAILED, None, optimizer="rmsprop", learning_rate=0.01)]
    path = write_trials_csv(records, tmp_path / "trials.csv")
    past = past_trials.parse(path.read_text(), SPACE)
    assert past.skipped == {}
    read = {t.hyperparams.optimizer: (t.hyperparams, t.val_loss) for t in past.trials}
    assert read == {r.hyperparams.optimizer: (r.hyperparams, r.val_loss) for r in records}


def test_a_file_that_is_not_a_trials_csv_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TWEETBOT_DATA_ROOT", str(tmp_path))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("rank,trial_num,loss\n1,1,1.5\n")
    with pytest.raises(InputError, match=r"past_trials: .*wrong.csv: no column 'val_loss'"):
        past_trials.load(str(wrong), SPACE)
    with pytest.raises(InputError, match=r"past_trials: .*missing.csv: no such file"):
        past_trials.load(str(tmp_path / "missing.csv"), SPACE)
    with pytest.raises(InputError, match=r"past_trials: /etc/passwd is outside the data root"):
        past_trials.load("/etc/passwd", SPACE)
    binary = tmp_path / "trials.csv"
    binary.write_bytes(b"\xff\xfe\x00val_loss")
    with pytest.raises(InputError, match="not UTF-8 text"):
        past_trials.load(str(binary), SPACE)


@pytest.mark.parametrize(("params", "inside"), [
    ({"optimizer": "adam", "learning_rate": 0.001}, True),
    ({"optimizer": "adam", "learning_rate": 0.0005}, True),  # the range's ends count
    ({"optimizer": "adam", "learning_rate": 0.03}, False),
    ({"optimizer": "adam", "learning_rate": None}, False),  # the space always sets one
    ({"optimizer": "adagrad", "learning_rate": 0.5}, True),
    ({"optimizer": "adagrad", "learning_rate": 0.01}, False),
    ({"optimizer": "sgd", "learning_rate": 0.01}, False),
    ({"optimizer": "adam", "learning_rate": 0.001, "rnn_size": 100}, False),
    ({"optimizer": "adam", "learning_rate": 0.001, "drop_rate": 0.6}, False),
])
def test_the_space_says_which_points_it_could_have_suggested(params, inside):
    base = {"batch_size": 64, "seq_len": 64, "embedding_size": 64, "rnn_size": 256,
            "num_layers": 1, "drop_rate": 0.1, "clip_norm": 5.0}
    assert SPACE.contains(HyperParams(**{**base, **params})) is inside


def test_a_fixed_value_must_match():
    space = SearchSpace.from_mapping({"batch_size": 64, "rnn_size": {"choice": [64, 128]}})
    assert space.contains(HyperParams(batch_size=64, rnn_size=128))
    assert not space.contains(HyperParams(batch_size=32, rnn_size=128))
