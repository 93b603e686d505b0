import csv

import pytest

from training.core.config import HyperParams, SelectionPolicy
from training.core.errors import InputError
from training.core.records import FAILED, OK, PENDING, PRUNED, TrialRecord
from training.tuning.report import CSV_COLUMNS, write_trials_csv
from training.tuning.selection import NoTrialSucceeded, pareto_front, rank, select

TUTORIAL_COLUMNS = ("rank", "trial_num", "val_loss", "train_loss", "num_epochs",
                    "avg_epoch_seconds", "batch_size", "drop_rate", "embedding_size",
                    "num_layers", "rnn_size", "seq_len", "optimizer", "clip_norm")


def trial(num, val_loss=None, seconds=None, status=OK, **params) -> TrialRecord:
    return TrialRecord(search_id="s", trial_num=num, run_id=f"run{num}",
                       hyperparams=HyperParams(**params),
                       status=status, val_loss=val_loss,
                       train_loss=None if val_loss is None else val_loss - 0.1,
                       num_epochs=10 if status == OK else 3, avg_epoch_seconds=seconds)


def tutorial_trials() -> list[TrialRecord]:
    """Ten ok trials 0.5 % apart in val_loss; the ninth best is 5x faster than the best."""
    trials = [trial(n, 1.0 + 0.005 * position, 10.0 + position, rnn_size=512)
              for position, n in enumerate((4, 7, 1, 9, 2, 10, 3, 6, 8, 5))]
    trials[8] = trial(8, 1.04, 2.0, batch_size=512, rnn_size=256)  # ninth by val_loss
    return trials


def test_fastest_within_takes_the_fast_trial_ranked_ninth():
    trials = tutorial_trials()
    assert [t.trial_num for t in rank(trials)][8] == 8
    selection = select(trials, SelectionPolicy(policy="fastest-within", tolerance=0.05))
    assert selection.trial.trial_num == 8
    assert "trial 8" in selection.reason and "trial 4" in selection.reason
    assert "5.0x faster" in selection.reason


def test_fastest_within_a_smaller_tolerance_leaves_it_out():
    selection = select(tutorial_trials(), SelectionPolicy(tolerance=0.03))
    assert selection.trial.trial_num == 4  # the best: fastest among those within 3 %
    assert "trial 4" in selection.reason and "lowest val_loss" in selection.reason


def test_fastest_within_picks_the_fastest_not_the_next_best():
    trials = [trial(1, 1.00, 10.0), trial(2, 1.01, 6.0), trial(3, 1.02, 4.0),
              trial(4, 1.20, 1.0)]
    assert select(trials, SelectionPolicy(tolerance=0.05)).trial.trial_num == 3
    assert select(trials, SelectionPolicy(tolerance=0.015)).trial.trial_num == 2
    assert select(trials, SelectionPolicy(tolerance=0.0)).trial.trial_num == 1


def test_fastest_within_ties_go_to_lower_val_loss_then_lower_trial_number():
    trials = [trial(5, 1.00, 10.0), trial(3, 1.02, 4.0), trial(2, 1.01, 4.0)]
    assert select(trials, SelectionPolicy()).trial.trial_num == 2
    same = [trial(6, 1.0, 5.0), trial(4, 1.0, 5.0), trial(9, 1.0, 5.0)]
    assert select(same, SelectionPolicy()).trial.trial_num == 4


def test_lowest_val_loss_ignores_speed_and_breaks_ties_by_trial_number():
    trials = tutorial_trials() + [trial(11, 1.0, 1.0)]
    selection = select(trials, SelectionPolicy(policy="lowest-val-loss"))
    assert selection.trial.trial_num == 4
    assert "trial 4" in selection.reason and "1.0000" in selection.reason


def test_weighted_trades_loss_against_time():
    trials = [trial(1, 1.0, 10.0), trial(2, 1.2, 2.0)]
    # scores: trial 1 = 1 + 0.5 * 5 = 3.5, trial 2 = 1.2 + 0.5 * 1 = 1.7
    chosen = select(trials, SelectionPolicy(policy="weighted", weight=0.5))
    assert chosen.trial.trial_num == 2
    assert "trial 2" in chosen.reason and "1.700" in chosen.reason
    # scores: trial 1 = 1 + 0.01 * 5 = 1.05, trial 2 = 1.2 + 0.01 = 1.21
    assert select(trials, SelectionPolicy(policy="weighted", weight=0.01)).trial.trial_num == 1


@pytest.mark.parametrize("policy", ["fastest-within", "lowest-val-loss", "weighted"])
def test_pruned_failed_and_pending_trials_are_never_chosen(policy):
    trials = [trial(1, 0.5, 1.0, status=PRUNED), trial(2, 0.4, 0.5, status=FAILED),
              trial(3, 0.3, 0.2, status=PENDING), trial(4, 1.0, 10.0),
              trial(5, 1.01, 9.0)]
    chosen = select(trials, SelectionPolicy(policy=policy, tolerance=10.0)).trial
    assert chosen.status == OK and chosen.trial_num in (4, 5)


@pytest.mark.parametrize("trials", [
    [],
    [trial(1, 0.5, 1.0, status=PRUNED), trial(2, status=FAILED), trial(3, status=PENDING)],
    [trial(4, None, 3.0), trial(5, 1.0, None)],  # ok, but without a loss or a time
])
def test_no_ok_trial_means_no_selection(trials):
    with pytest.raises(NoTrialSucceeded):
        select(trials, SelectionPolicy())


def test_rank_orders_by_val_loss_and_puts_trials_without_one_last():
    trials = [trial(1, status=FAILED), trial(2, 1.5, 3.0), trial(3, status=PENDING),
              trial(4, 1.2, 3.0, status=PRUNED), trial(5, 1.5, 2.0), trial(6, 1.1, 9.0)]
    assert [t.trial_num for t in rank(trials)] == [6, 4, 2, 5, 1, 3]
    assert [t.trial_num for t in rank([trial(1, 0.5, 1.0), trial(2, 0.0, 1.0)])] == [2, 1]


def test_trials_csv_has_the_tutorials_columns_and_rows_ranked(tmp_path):
    trials = tutorial_trials() + [trial(11, status=FAILED), trial(12, 0.9, 3.0, status=PRUNED)]
    path = write_trials_csv(trials, tmp_path / "trials.csv")
    with open(path, newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == CSV_COLUMNS
    assert tuple(header[:len(TUTORIAL_COLUMNS)]) == TUTORIAL_COLUMNS
    assert "status" in header
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["rank"]) for r in rows] == list(range(1, 13))
    assert [int(r["trial_num"]) for r in rows] == [t.trial_num for t in rank(trials)]
    assert rows[0]["trial_num"] == "12" and rows[0]["status"] == PRUNED
    assert rows[-1]["trial_num"] == "11" and rows[-1]["val_loss"] == ""
    fast = next(r for r in rows if r["trial_num"] == "8")
    assert (fast["batch_size"], fast["rnn_size"], fast["avg_epoch_seconds"]) == ("512", "256", "2")
    assert float(fast["val_loss"]) == pytest.approx(1.04)


def test_pareto_front_is_the_non_dominated_ok_trials_by_time():
    trials = [trial(1, 1.0, 10.0), trial(2, 1.1, 5.0), trial(3, 1.2, 6.0),
              trial(4, 1.3, 2.0), trial(5, 1.3, 3.0), trial(6, 0.5, 1.0, status=PRUNED),
              trial(7, 0.4, 0.5, status=FAILED)]
    assert [t.trial_num for t in pareto_front(trials)] == [4, 2, 1]


def test_pareto_front_keeps_identical_trials_and_is_empty_without_ok_trials():
    twins = [trial(1, 1.0, 5.0), trial(2, 1.0, 5.0)]
    assert {t.trial_num for t in pareto_front(twins)} == {1, 2}
    assert pareto_front([trial(3, 1.0, 1.0, status=PRUNED)]) == []


@pytest.mark.parametrize("values, detail", [
    ({"policy": "best"}, "policy"),
    ({"tolerance": -0.01}, "tolerance"),
    ({"weight": -1.0}, "weight"),
])
def test_selection_policy_rejects_bad_values(values, detail):
    with pytest.raises(InputError, match=detail):
        SelectionPolicy.from_mapping(values)
