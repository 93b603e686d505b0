import math
import random
from pathlib import Path

import pytest

import training.tuning.sampler as sampler_module
from training.tuning.sampler import HyperoptSampler, Observation, point_key
from training.tuning.space import DEFAULT_SPACE_FILE, SearchSpace

SPACE = SearchSpace.load()
CPU_SPACE = SearchSpace.load(Path(DEFAULT_SPACE_FILE).with_name("search_space_cpu.yaml"))
TINY = SearchSpace.from_mapping({"num_layers": {"choice": [1, 2]},
                                 "optimizer": {"choice": ["adam", "rmsprop"]}})
TINY_POINTS = [{"num_layers": n, "optimizer": o} for n in (1, 2) for o in ("adam", "rmsprop")]


def random_point(space: SearchSpace, rng: random.Random) -> dict:
    """A point of ``space``, with the parameters its chosen options bring."""
    point = {}
    for d in space.dimensions:
        value = point[d.name] = (rng.choice(d.values) if d.kind == "choice"
                                 else round(rng.uniform(*d.values), 6))
        branch = d.branch(value)
        if branch is not None:
            point.update({**branch.fixed, **random_point(branch, rng)})
    return point


def history_favouring_rnn_512(seed: int, n: int = 12) -> list[Observation]:
    """Three trials per rnn_size; the 512 ones have a loss about a third of the rest."""
    rng = random.Random(seed)
    observations = []
    for i in range(n):
        point = {**random_point(SPACE, rng), "rnn_size": (64, 128, 256, 512)[i % 4]}
        loss = (1.0 if point["rnn_size"] == 512 else 3.0) + rng.random() / 10
        observations.append(Observation(point, loss))
    return observations


def share_of_512(points) -> float:
    return sum(p["rnn_size"] == 512 for p in points) / len(points)


def test_tpe_suggestions_follow_the_history():
    for seed in (0, 1, 2):
        history = history_favouring_rnn_512(seed)
        tpe = HyperoptSampler(SPACE, "tpe", n_startup_jobs=5, seed=seed)
        conditioned = tpe.suggest(history, [], 20)
        assert len(conditioned) == 20
        assert share_of_512(conditioned) >= 0.5, seed


def test_without_history_or_with_random_search_there_is_no_bias():
    shares = []
    for seed in (0, 1, 2):
        shares.append(share_of_512(
            HyperoptSampler(SPACE, "tpe", n_startup_jobs=5, seed=seed).suggest([], [], 20)))
        shares.append(share_of_512(HyperoptSampler(SPACE, "random", seed=seed).suggest(
            history_favouring_rnn_512(seed), [], 20)))
    assert sum(shares) / len(shares) < 0.4  # the prior is 1/4


def test_a_batch_is_distinct_and_new():
    rng = random.Random(7)
    history = [Observation(random_point(SPACE, rng), 2.0 + i / 10) for i in range(8)]
    pending = [random_point(SPACE, rng) for _ in range(4)]
    suggestions = HyperoptSampler(SPACE, "tpe", n_startup_jobs=2).suggest(history, pending, 30)
    keys = [point_key(p) for p in suggestions]
    assert len(keys) == 30 and len(set(keys)) == 30
    taken = {point_key(o.point) for o in history} | {point_key(p) for p in pending}
    assert not taken & set(keys)
    for point in suggestions:
        assert set(point) == set(SPACE.names)
        SPACE.to_hyperparams(point)  # every suggestion is a valid HyperParams


def test_failed_observations_are_failures_never_nan(monkeypatch):
    recorded = []

    class RecordingTrials(sampler_module.Trials):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            recorded.append(self)

    monkeypatch.setattr(sampler_module, "Trials", RecordingTrials)
    rng = random.Random(3)
    history = [Observation(random_point(SPACE, rng), None if i % 2 else 1.0 + i)
               for i in range(8)]
    suggestions = HyperoptSampler(SPACE, "tpe", n_startup_jobs=2).suggest(history, [], 4)
    assert len(suggestions) == 4
    results = [r for trials in recorded for r in trials.results]
    assert sum(r["status"] == "fail" for r in results) == 4
    for result in results:
        assert result["status"] in ("ok", "fail")
        if result["status"] == "ok":
            assert math.isfinite(result["loss"])
        else:
            assert "loss" not in result


def test_only_failures_still_give_suggestions():
    rng = random.Random(4)
    history = [Observation(random_point(SPACE, rng), None) for _ in range(6)]
    suggestions = HyperoptSampler(SPACE, "tpe", n_startup_jobs=2).suggest(history, [], 3)
    assert len({point_key(p) for p in suggestions}) == 3


def test_a_resumed_search_does_not_repeat_finished_points():
    sampler = HyperoptSampler(TINY, "tpe", n_startup_jobs=1, seed=5)
    first = sampler.suggest([], [], 2)
    resumed = sampler.suggest([Observation(p, 1.0) for p in first], [], 5)
    assert {point_key(p) for p in first}.isdisjoint(point_key(p) for p in resumed)
    assert len(first) + len(resumed) == len(TINY_POINTS)


def test_a_tiny_space_gives_exactly_what_is_left():
    observations = [Observation(p, float(i)) for i, p in enumerate(TINY_POINTS[:3])]
    for algorithm in ("tpe", "random"):
        suggestions = HyperoptSampler(TINY, algorithm, n_startup_jobs=1).suggest(
            observations, [], 5)
        assert suggestions == [TINY_POINTS[3]]
    full = [Observation(p, 1.0) for p in TINY_POINTS]
    assert HyperoptSampler(TINY).suggest(full, [], 3) == []
    assert HyperoptSampler(TINY).suggest(full[:2], TINY_POINTS[2:], 3) == []


def test_same_seed_and_inputs_give_the_same_suggestions():
    history = history_favouring_rnn_512(9, n=8)
    pending = [random_point(SPACE, random.Random(1))]
    runs = [HyperoptSampler(SPACE, "tpe", n_startup_jobs=3, seed=11).suggest(history, pending, 6)
            for _ in range(2)]
    assert runs[0] == runs[1]
    other = HyperoptSampler(SPACE, "tpe", n_startup_jobs=3, seed=12).suggest(history, pending, 6)
    assert other != runs[0]


def test_random_algorithm_works_and_unknown_algorithm_fails():
    suggestions = HyperoptSampler(CPU_SPACE, "random", seed=1).suggest([], [], 5)
    assert len({point_key(p) for p in suggestions}) == 5
    for point in suggestions:
        assert 0.001 <= point["learning_rate"] <= 0.02
        assert 0.0 <= point["drop_rate"] <= 0.3
    with pytest.raises(ValueError, match="anneal"):
        HyperoptSampler(SPACE, "anneal")


def test_points_from_another_space_are_tolerated():
    base = random_point(SPACE, random.Random(2))
    foreign = [
        Observation({**base, "rnn_size": 1024}, 1.0),      # not one of the choices
        Observation({**base, "drop_rate": 0.9}, 1.5),      # outside the uniform range
        Observation({k: v for k, v in base.items() if k != "optimizer"}, 0.5),  # missing
        Observation({**base, "learning_rate": 0.01}, 0.7),  # an extra key
    ]
    pending = [{**base, "rnn_size": 2048}]
    suggestions = HyperoptSampler(SPACE, "tpe", n_startup_jobs=1).suggest(foreign, pending, 4)
    assert len(suggestions) == 4
    for point in suggestions:
        assert point["rnn_size"] in (64, 128, 256, 512)
        assert 0.0 <= point["drop_rate"] <= 0.5


def test_a_warm_start_point_without_a_learning_rate_is_tolerated():
    champion = {"batch_size": 32, "drop_rate": 0.1, "embedding_size": 16, "num_layers": 1,
                "rnn_size": 64, "seq_len": 32, "optimizer": "adam", "clip_norm": 5.0,
                "learning_rate": None}  # HyperParams' default, as search._point gives it
    suggestions = HyperoptSampler(CPU_SPACE, "tpe", n_startup_jobs=1).suggest([], [champion], 2)
    assert len(suggestions) == 2


def test_a_space_with_every_value_fixed_holds_one_point():
    fixed = SearchSpace.from_mapping({"rnn_size": 64, "optimizer": "adam"})
    sampler = HyperoptSampler(fixed, "tpe", n_startup_jobs=1)
    assert sampler.suggest([], [], 3) == [{}]
    assert fixed.to_hyperparams({}).rnn_size == 64
    assert sampler.suggest([Observation({}, 2.0)], [], 2) == []
    assert sampler.suggest([], [{}], 2) == []


CONDITIONAL = SearchSpace.from_mapping({
    "batch_size": {"choice": [16, 32, 64, 128]},
    "optimizer": {"choice": {"adam": {"learning_rate": {"loguniform": [0.0003, 0.01]}},
                             "adadelta": {"learning_rate": {"loguniform": [0.3, 3.0]}},
                             "rmsprop": {}}}})
RATES = {"adam": (0.0003, 0.01), "adadelta": (0.3, 3.0)}


def in_its_range(point) -> bool:
    if point["optimizer"] == "rmsprop":
        return "learning_rate" not in point
    low, high = RATES[point["optimizer"]]
    return low <= point["learning_rate"] <= high


def test_an_options_own_parameters_are_drawn_from_its_own_range():
    for algorithm in ("tpe", "random"):
        points = HyperoptSampler(CONDITIONAL, algorithm, n_startup_jobs=3, seed=2).suggest(
            [], [], 30)
        assert {p["optimizer"] for p in points} == {"adam", "adadelta", "rmsprop"}
        assert all(in_its_range(p) for p in points), points
        for point in points:
            CONDITIONAL.to_hyperparams(point)


@pytest.mark.parametrize("better", ["adam", "adadelta"])
def test_tpe_learns_the_rate_of_each_option_separately(better):
    """Adam did well at small rates, adadelta at large ones, and ``better`` did
    well more often. TPE goes for ``better`` at its own good rates: one shared
    learning-rate label would pull it towards the other optimizer's rates."""
    two = SearchSpace.from_mapping({"optimizer": {"choice": {
        name: {"learning_rate": {"loguniform": list(RATES[name])}} for name in RATES}}})
    rng = random.Random(4)
    history = []
    for i in range(24):
        optimizer = ("adam", "adadelta")[i % 2]
        low, high = RATES[optimizer]
        rate = math.exp(rng.uniform(math.log(low), math.log(high)))
        good = rate < 0.001 if optimizer == "adam" else rate > 1.0
        if optimizer != better and i % 4 < 2:
            good = False  # the other optimizer's good trials are fewer
        history.append(Observation({"optimizer": optimizer, "learning_rate": round(rate, 6)},
                                   1.0 if good else 3.0))
    points = [point for seed in range(20) for point in
              HyperoptSampler(two, "tpe", n_startup_jobs=3, seed=seed).suggest(history, [], 1)]
    chosen = [p["learning_rate"] for p in points if p["optimizer"] == better]
    assert len(chosen) >= 10
    in_good_range = (lambda r: r < 0.001) if better == "adam" else (lambda r: r > 1.0)
    assert sum(map(in_good_range, chosen)) / len(chosen) >= 0.8


def test_a_point_that_cannot_run_is_never_suggested():
    small = HyperoptSampler(CONDITIONAL, "tpe", n_startup_jobs=2, seed=3,
                            feasible=lambda point: point["batch_size"] <= 32)
    history = [Observation({"batch_size": 128, "optimizer": "rmsprop"}, 0.5)]
    points = small.suggest(history, [], 12)
    assert len(points) == 12
    assert all(p["batch_size"] <= 32 for p in points)
    nothing_runs = HyperoptSampler(CONDITIONAL, feasible=lambda point: False)
    assert nothing_runs.suggest([], [], 3) == []
