"""What a step costs: the accelerators it was told it holds, its wall seconds,
charged to its MLflow run (a real embedded store) and added up across attempts."""

import pytest

from training import tracking
from training.core.config import HyperParams
from training.core.errors import InputError
from training.pipeline.step_cost import ACCELERATORS, accelerator_count, recording_cost
from training.tracking import cost, search_store
from training.tracking.cost import Cost
from training.tracking.search_store import SearchStore


def new_run() -> str:
    return tracking.client().create_run(tracking.configure()).info.run_id


def metrics(run_id: str) -> dict[str, float]:
    return tracking.client().get_run(run_id).data.metrics


@pytest.mark.parametrize(("value", "count"), [(None, 0), ("", 0), ("0", 0), ("2", 2),
                                              (" 8 ", 8)])
def test_the_accelerator_count_is_a_whole_number_and_none_when_unset(value, count):
    environ = {} if value is None else {ACCELERATORS: value}
    assert accelerator_count(ACCELERATORS, environ) == count


@pytest.mark.parametrize("value", ["1.5", "two", "-1"])
def test_a_bad_accelerator_count_is_one_line_naming_the_variable(value):
    with pytest.raises(InputError) as refused:
        accelerator_count("TWEETBOT_LOCAL_ACCELERATORS", {"TWEETBOT_LOCAL_ACCELERATORS": value})
    assert str(refused.value) == (f"TWEETBOT_LOCAL_ACCELERATORS: {value!r} is not a number of "
                                  f"accelerators (a whole number, 0 or more)")


def test_a_bad_count_stops_the_step_before_it_works(monkeypatch):
    monkeypatch.setenv(ACCELERATORS, "all")
    with pytest.raises(InputError, match="TWEETBOT_ACCELERATORS: 'all'"), \
            recording_cost(cost.TRIAL):
        pytest.fail("the step ran")


def test_a_cost_reads_as_gpu_hours_and_step_time():
    assert Cost(accelerator_seconds=430, wall_seconds=1500).describe() == (
        "0.12 GPU-hours (430 accelerator-seconds), 25 min of step time")
    assert Cost(wall_seconds=12).describe() == (
        "0.00 GPU-hours (0 accelerator-seconds), 12 s of step time")


def test_each_attempt_adds_to_what_the_earlier_ones_charged():
    run_id = new_run()
    assert cost.charge(run_id, cost.TRAIN, 2, 10.0) == Cost(accelerator_seconds=20,
                                                            wall_seconds=10)
    # A retry on another machine: one accelerator this time.
    assert cost.charge(run_id, cost.TRAIN, 1, 5.0) == Cost(accelerator_seconds=25,
                                                           wall_seconds=15)
    assert cost.charge(run_id, cost.EVALUATE, 0, 3.0) == Cost(wall_seconds=3)
    assert metrics(run_id) == {
        "train_wall_seconds": 15, "train_accelerator_seconds": 25,
        "evaluate_wall_seconds": 3, "evaluate_accelerator_seconds": 0}
    history = tracking.client().get_metric_history(run_id, "train_wall_seconds")
    assert sorted((m.step, m.value) for m in history) == [(1, 10), (2, 15)]


def test_a_step_is_charged_however_it_ends(monkeypatch):
    monkeypatch.setenv(ACCELERATORS, "3")
    run_id = new_run()
    with pytest.raises(RuntimeError, match="diverged"), recording_cost(cost.TRIAL) as clock:
        clock.charge_to(run_id)
        raise RuntimeError("diverged")
    failed = Cost.from_metrics(metrics(run_id), cost.TRIAL)
    assert failed.wall_seconds > 0
    assert failed.accelerator_seconds == pytest.approx(3 * failed.wall_seconds)
    with recording_cost(cost.TRIAL, run_id=run_id):  # the retried attempt, which succeeds
        pass
    total = Cost.from_metrics(metrics(run_id), cost.TRIAL)
    assert total.wall_seconds > failed.wall_seconds
    assert total.accelerator_seconds == pytest.approx(3 * total.wall_seconds)


def test_a_step_that_never_found_its_run_charges_nothing(monkeypatch):
    monkeypatch.setenv(ACCELERATORS, "1")
    run_id = new_run()
    with recording_cost(cost.TRIAL):
        pass
    assert metrics(run_id) == {}


def test_a_run_that_takes_no_more_metrics_loses_only_the_attempts_cost(capsys):
    run_id = new_run()
    tracking.client().delete_run(run_id)
    with recording_cost(cost.TRAIN, run_id=run_id):
        pass  # the step's own outcome stands
    assert f"was not recorded on MLflow run {run_id}" in capsys.readouterr().err


def test_a_nights_cost_is_its_trials_and_its_base_models_training_and_evaluation():
    store = SearchStore("night")
    search_run_id = store.open_parent()
    for trial_num, seconds in ((1, 10.0), (2, 30.0)):
        cost.charge(store.create_trial(trial_num, HyperParams()), cost.TRIAL, 1, seconds)
    base_run_id = new_run()
    cost.charge(base_run_id, cost.TRAIN, 2, 100.0)
    cost.charge(base_run_id, cost.EVALUATE, 0, 20.0)
    trials = Cost(accelerator_seconds=40, wall_seconds=40)
    assert store.trials_cost() == trials
    # A search that never finished holds no roll-up: its trials as they stand.
    assert search_store.night_cost(search_run_id) == trials
    assert search_store.night_cost(search_run_id, base_run_id) == Cost(accelerator_seconds=240,
                                                               wall_seconds=160)
    # Finished, the search's own roll-up is what counts.
    store.close_parent(Cost(accelerator_seconds=50, wall_seconds=45).metrics(cost.TRIALS), {},
                       [], "FINISHED")
    assert search_store.night_cost(search_run_id, base_run_id) == Cost(accelerator_seconds=250,
                                                               wall_seconds=165)
