"""Real steps charge their MLflow runs: tiny trials (one run twice, one that
fails), a tiny base model and its evaluation, each the process the local
placement starts, told in its environment how many accelerators it holds."""

from __future__ import annotations

import mlflow
import pytest

from training.core.config import FitSettings, HyperParams, SelectionPolicy, to_arguments
from training.core.records import FAILED, OK, Step, TrainedModel
from training.pipeline import runner
from training.pipeline.step_cost import ACCELERATORS
from training.pipeline.trial_run import TrialSpec, run_as_process
from training.tracking import cost, search_store
from training.tracking.cost import Cost
from training.tracking.search_store import SearchStore
from training.tuning.report import finish_search

pytestmark = pytest.mark.slow

SEARCH = "costed"
FIT = FitSettings(num_epochs=1, max_train_chars=20_000, seed=1)


def holding(accelerators: int) -> dict[str, str]:
    return {ACCELERATORS: str(accelerators)}


def charged(run_id: str, prefix: str) -> Cost:
    return Cost.from_metrics(mlflow.get_run(run_id).data.metrics, prefix)


def assert_charged_at(accelerators: int, spent: Cost) -> None:
    assert spent.wall_seconds > 0
    assert spent.accelerator_seconds == pytest.approx(accelerators * spent.wall_seconds)


def test_each_step_charges_its_run_and_the_night_adds_them_up(sample_splits,
                                                             tiny_hyperparams):
    store = SearchStore(SEARCH)
    search_run_id = store.open_parent()
    too_long = HyperParams(**{**tiny_hyperparams.to_dict(), "batch_size": 512,
                              "seq_len": 256})  # longer than the splits: it fails
    trials = {1: (tiny_hyperparams, 2), 2: (too_long, 3)}
    for trial_num, (hyperparams, accelerators) in trials.items():
        store.create_trial(trial_num, hyperparams)
        step = TrialSpec(search_id=SEARCH, trial_num=trial_num, data_dir=str(sample_splits),
                         hyperparams=hyperparams, fit=FIT).step(
            environment=holding(accelerators))
        record = run_as_process(step)
        assert record.status == (OK if trial_num == 1 else FAILED)
        assert_charged_at(accelerators, charged(record.run_id, cost.TRIAL))
    # Run again, a finished trial only reports; that attempt is added, not lost.
    first = store.find_trial(1)
    before = charged(first.run_id, cost.TRIAL)
    run_as_process(TrialSpec(search_id=SEARCH, trial_num=1, data_dir=str(sample_splits),
                             hyperparams=tiny_hyperparams, fit=FIT).step(
        environment=holding(2)))
    after = charged(first.run_id, cost.TRIAL)
    assert after.wall_seconds > before.wall_seconds
    assert_charged_at(2, after)

    finish_search(store, SelectionPolicy(), FIT.num_epochs)
    trials_cost = sum((charged(t.run_id, cost.TRIAL) for t in store.trials()), Cost())
    rolled_up = charged(search_run_id, cost.TRIALS)
    assert rolled_up.wall_seconds == pytest.approx(trials_cost.wall_seconds)
    assert rolled_up.accelerator_seconds == pytest.approx(trials_cost.accelerator_seconds)

    base = Step(module="training.train", folder=SEARCH, name="base", checkpoint=True,
                arguments=("--data-dir", str(sample_splits), "--resume",
                           *to_arguments(FIT), *to_arguments(tiny_hyperparams)),
                environment=holding(4))
    trained = TrainedModel.from_json(runner.run(runner.place(base)))
    evaluation = Step(module="training.evaluate", folder=SEARCH, name="evaluation",
                      arguments=("--run-id", trained.run_id, "--data-dir",
                                 str(sample_splits)),
                      environment=holding(1))
    runner.run(runner.place(evaluation))
    train, evaluate = charged(trained.run_id, cost.TRAIN), charged(trained.run_id,
                                                                   cost.EVALUATE)
    assert_charged_at(4, train)
    assert_charged_at(1, evaluate)

    night = search_store.night_cost(search_run_id, trained.run_id)
    expected = rolled_up + train + evaluate
    assert night.wall_seconds == pytest.approx(expected.wall_seconds)
    assert night.accelerator_seconds == pytest.approx(expected.accelerator_seconds)
