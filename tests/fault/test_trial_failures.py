"""A trial that runs out of memory or never reports a metric is a failed trial
with its reason, not a crash and not a slot held for ever."""

from __future__ import annotations

import time

import mlflow
import pytest

from training.core.config import FitSettings, SearchSettings
from training.core.records import FAILED
from training.pipeline.trial_run import TrialSpec, run_trial
from training.tracking.search_store import SearchStore
from training.tuning.space import SearchSpace
from training.tuning.suggest import open_search

pytestmark = pytest.mark.fault


def suggested_trial(search_id: str, splits, tmp_path, fit: FitSettings) -> TrialSpec:
    """Trial 1 of a new search, to be suggested as it starts."""
    sizes = {name: (splits / f"{name}.txt").stat().st_size for name in ("train", "validate")}
    open_search(SearchStore(search_id), SearchSpace.load(), SearchSettings(num_trials=1),
                split_bytes=sizes)
    return TrialSpec(search_id=search_id, trial_num=1, data_dir=str(splits), fit=fit,
                     result_path=tmp_path / "result.json")


def test_a_trial_out_of_memory_is_failed_with_the_reason(sample_splits, tmp_path,
                                                         monkeypatch):
    import tensorflow as tf

    import training.model.fit

    def impossible(job, vocab, state, on_epoch=None, verbose=None):
        tf.zeros((2**22, 2**20))  # 16 TiB: what an impossible batch size asks a GPU for

    monkeypatch.setattr(training.model.fit, "fit_model", impossible)
    spec = suggested_trial("oom", sample_splits, tmp_path, FitSettings(num_epochs=1))
    result = run_trial(spec)
    assert result.status == FAILED
    assert result.failure_reason.startswith("out of memory: ")
    assert "OOM when allocating tensor" in result.failure_reason
    assert SearchStore("oom").find_trial(spec.trial_num).status == FAILED
    assert mlflow.get_run(result.run_id).info.status == "FAILED"


def test_a_trial_that_never_finishes_an_epoch_is_failed_as_hung(sample_splits, tmp_path,
                                                                 monkeypatch):
    import training.model.fit

    def wedged(job, vocab, state, on_epoch=None, verbose=None):
        time.sleep(120)  # a data loader on a dead file system, say

    monkeypatch.setattr(training.model.fit, "fit_model", wedged)
    spec = suggested_trial("hung", sample_splits, tmp_path,
                           FitSettings(num_epochs=1, epoch_timeout=2))
    store = SearchStore("hung")
    num = spec.trial_num
    started = time.monotonic()
    result = run_trial(spec)
    assert time.monotonic() - started < 60  # stopped, not slept through
    assert result.status == FAILED
    assert result.failure_reason.startswith("hung: no epoch finished within 2 s")
    assert store.find_trial(num).status == FAILED
    assert mlflow.get_run(result.run_id).info.status == "FAILED"
    assert (tmp_path / "result.json").is_file()
