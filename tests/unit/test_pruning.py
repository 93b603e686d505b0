import math

import pytest

from training.core.config import PruningSettings
from training.core.errors import InputError
from training.tuning.pruning import should_prune

MEDIAN = PruningSettings(pruning="median", prune_min_trials=3, prune_min_epochs=1)
PEERS = [[1.0, 0.9, 0.8], [1.2, 1.0, 0.9], [1.3, 1.1, 1.0]]  # bests at epoch 2: .9, 1.0, 1.1


def halving(**overrides) -> PruningSettings:
    values = {"pruning": "halving", "prune_min_trials": 1, "prune_min_epochs": 1,
              "reduction_factor": 3, **overrides}
    return PruningSettings(**values)


def test_median_prunes_a_trial_worse_than_the_median_of_its_peers():
    assert should_prune([2.0, 1.9], PEERS, MEDIAN)
    assert not should_prune([2.0, 0.95], PEERS, MEDIAN)


def test_median_does_not_prune_a_trial_equal_to_the_median():
    assert not should_prune([1.5, 1.0], PEERS, MEDIAN)


def test_median_judges_the_best_so_far_not_the_last_epoch():
    assert not should_prune([0.5, 3.0], PEERS, MEDIAN)  # own best 0.5, last 3.0


def test_median_compares_with_peers_best_up_to_the_same_epoch():
    late_bloomers = [[2.0, 1.9, 0.1], [2.1, 2.0, 0.1], [2.2, 2.1, 0.1]]
    assert not should_prune([1.5, 1.4], late_bloomers, MEDIAN)  # epoch 3 not counted
    assert should_prune([1.5, 1.4, 1.3], late_bloomers, MEDIAN)


def test_median_waits_for_prune_min_epochs():
    settings = PruningSettings(pruning="median", prune_min_trials=3, prune_min_epochs=3)
    assert not should_prune([9.0], PEERS, settings)
    assert not should_prune([9.0, 9.0], PEERS, settings)
    assert should_prune([9.0, 9.0, 9.0], PEERS, settings)


def test_median_waits_for_prune_min_trials_peers_at_the_epoch():
    assert not should_prune([9.0, 9.0], PEERS[:2], MEDIAN)
    assert not should_prune([9.0, 9.0], PEERS[:2] + [[0.5]], MEDIAN)  # [0.5] is too short
    assert should_prune([9.0, 9.0], PEERS[:2] + [[0.5, 0.5]], MEDIAN)


def test_median_ignores_peers_that_have_not_reached_the_epoch():
    peers = [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]
    assert not should_prune([1.8, 1.8], peers, MEDIAN)  # median 2.0
    # Counting the short [0.1] would make the median 1.5 and prune it.
    assert not should_prune([1.8, 1.8], peers + [[0.1]], MEDIAN)
    assert should_prune([1.8, 1.8], peers + [[0.1, 0.1]], MEDIAN)


def test_no_pruning_with_none_and_no_history():
    never = PruningSettings(pruning="none", prune_min_trials=1, prune_min_epochs=1)
    assert not should_prune([100.0, 100.0, 100.0], PEERS, never)
    assert not should_prune([], PEERS, MEDIAN)
    assert not should_prune([9.0, 9.0], [], MEDIAN)


def test_halving_judges_only_at_rungs():
    settings = halving(prune_min_epochs=1, reduction_factor=3)  # rungs 1, 3, 9, 27
    peers = [[1.0] * 30] * 5
    verdicts = {epoch: should_prune([9.0] * epoch, peers, settings) for epoch in range(1, 30)}
    assert {e for e, prune in verdicts.items() if prune} == {1, 3, 9, 27}


@pytest.mark.parametrize("max_epochs, rungs", [(10, {1, 3}), (9, {1, 3}), (8, {1}),
                                               (27, {1, 3, 9}), (2, set())])
def test_a_halving_rung_needs_room_above_it_within_the_budget(max_epochs, rungs):
    """A rung only where its survivors get reduction_factor times its epochs more:
    with 10 epochs, no rung at 9 to throw a trial away one epoch from its end."""
    settings = halving(prune_min_epochs=1, reduction_factor=3)
    peers = [[1.0] * 30] * 5
    pruned = {epoch for epoch in range(1, max_epochs)
              if should_prune([9.0] * epoch, peers, settings, max_epochs=max_epochs)}
    assert pruned == rungs


def test_halving_rungs_start_at_prune_min_epochs():
    settings = halving(prune_min_epochs=2, reduction_factor=2)  # rungs 2, 4, 8, 16
    peers = [[1.0] * 20] * 3
    verdicts = {epoch: should_prune([9.0] * epoch, peers, settings) for epoch in range(1, 20)}
    assert {e for e, prune in verdicts.items() if prune} == {2, 4, 8, 16}


@pytest.mark.parametrize("own_best, pruned", [
    (0.5, False),   # rank 1 of 6
    (1.5, False),   # rank 2 of 6: ceil(6 / 3) = 2 go on
    (2.5, True),    # rank 3 of 6
    (9.0, True),    # rank 6 of 6
])
def test_halving_keeps_the_top_third(own_best, pruned):
    peers = [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0], [4.0] * 3, [5.0] * 3]
    assert should_prune([9.0, 9.0, own_best], peers, halving()) is pruned


def test_halving_rounds_up_the_survivors():
    peers = [[1.0], [2.0], [3.0], [4.0]]  # 5 trials at rung 1: ceil(5 / 2) = 3 go on
    settings = halving(reduction_factor=2)
    assert not should_prune([2.5], peers, settings)  # rank 3
    assert should_prune([3.5], peers, settings)  # rank 4


def test_halving_with_one_peer_keeps_the_better_and_ties():
    settings = halving(reduction_factor=3)
    assert should_prune([2.0], [[1.0]], settings)
    assert not should_prune([1.0], [[2.0]], settings)
    assert not should_prune([1.0], [[1.0]], settings)


def test_halving_also_waits_for_prune_min_trials():
    settings = halving(prune_min_trials=3)
    assert not should_prune([9.0], [[1.0], [1.0]], settings)
    assert should_prune([9.0], [[1.0], [1.0], [1.0]], settings)


@pytest.mark.parametrize("values", [
    {"pruning": "asha"}, {"reduction_factor": 1}, {"prune_min_epochs": 0},
    {"prune_min_trials": 0},
])
def test_bad_pruning_settings_are_input_errors(values):
    with pytest.raises(InputError):
        PruningSettings.from_mapping(values)


def test_a_trial_no_better_than_chance_is_pruned_without_peers():
    uniform = math.log(98)
    alone = PruningSettings(pruning="median", prune_min_trials=3)
    assert should_prune([uniform + 0.001], [], alone, vocab_size=98)
    assert should_prune([uniform * 0.995], [], alone, vocab_size=98)  # within 1 %
    assert not should_prune([uniform * 0.98], [], alone, vocab_size=98)
    assert not should_prune([uniform + 0.001], [], alone)  # no vocabulary, no rule
    off = PruningSettings(pruning="none", prune_at_chance=False)
    assert not should_prune([uniform + 0.001], [], off, vocab_size=98)
    # Judged by the best epoch, as the other rules: one good epoch is enough.
    assert not should_prune([3.0, uniform], [], alone, vocab_size=98)
