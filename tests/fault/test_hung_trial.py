"""A trial that never reports a metric is failed with the reason, not left
holding its slot: its epoch deadline (``--epoch-timeout``) runs out."""

from __future__ import annotations

import time

import mlflow
import pytest

from training.config import FitSettings, SearchSettings
from training.records import FAILED
from training.space import SearchSpace
from training.suggest import suggest_trials
from training.tracking.search_store import SearchStore
from training.trial import TrialSpec, run_trial

pytestmark = pytest.mark.fault


def test_a_trial_that_never_finishes_an_epoch_is_failed_as_hung(sample_splits, tmp_path,
                                                                 monkeypatch):
    import training.fit

    def wedged(job, vocab, state, on_epoch=None, verbose=None):
        time.sleep(120)  # a data loader on a dead file system, say

    monkeypatch.setattr(training.fit, "fit_model", wedged)
    store = SearchStore("hung")
    (num, params), = suggest_trials(store, SearchSpace.load(), SearchSettings(num_trials=1), 1)
    spec = TrialSpec(search_id="hung", trial_num=num, data_dir=str(sample_splits),
                     hyperparams=params, fit=FitSettings(num_epochs=1, epoch_timeout=2),
                     result_path=tmp_path / "result.json")
    started = time.monotonic()
    result = run_trial(spec)
    assert time.monotonic() - started < 60  # stopped, not slept through
    assert result.status == FAILED
    assert result.failure_reason.startswith("hung: no epoch finished within 2 s")
    assert store.find_trial(num).status == FAILED
    assert mlflow.get_run(result.run_id).info.status == "FAILED"
    assert (tmp_path / "result.json").is_file()
