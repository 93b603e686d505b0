"""The search engine against a real (embedded) MLflow store.

Trials recorded by hand here stand for trials that ran: they are written to
MLflow exactly as a trial writes them (params, per-epoch val_loss, summary
metrics, status tag), so suggestion and selection read them the real way.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from training.core.config import (
    FitSettings,
    HyperParams,
    PruningSettings,
    SearchSettings,
    SelectionPolicy,
)
from training.core.errors import InputError
from training.core.records import FAILED, OK, PENDING, PRUNED, RUNNING, Step
from training.model.checkpoints import TrainingState
from training.pipeline import runner, stop_signals, trial_run
from training.pipeline.trial_run import TrialSpec, build_parser, run_as_process, spec_from_args
from training.tracking import cost
from training.tracking.search_store import SearchStore
from training.trial import main as trial_main
from training.tuning import past_trials
from training.tuning.report import CSV_COLUMNS, finish_search, format_table
from training.tuning.selection import NoTrialSucceeded
from training.tuning.space import SearchSpace
from training.tuning.suggest import (
    TUTORIAL,
    NoPointLeft,
    next_trial,
    open_search,
    search_plan,
)

CPU_SPACE = SearchSpace.load(Path(__file__).parents[2] / "training" / "search_space_cpu.yaml")


def record_trial(store, trial_num, params, curve, status=OK, seconds=1.0, reason=None):
    """Write a finished trial to MLflow the way training.trial does."""
    run_id = store.create_trial(trial_num, params)
    for epoch, value in enumerate(curve, start=1):
        store.client.log_metric(run_id, "val_loss", value, step=epoch)
    if curve:
        store.client.log_metric(run_id, "best_val_loss", min(curve))
        store.client.log_metric(run_id, "best_train_loss", min(curve) - 0.1)
        store.client.log_metric(run_id, "num_epochs", len(curve))
        store.client.log_metric(run_id, "avg_epoch_seconds", seconds)
    store.set_status(run_id, status, reason)
    store.client.set_terminated(run_id, "FAILED" if status == FAILED else "FINISHED")
    return run_id


def suggested(search_id: str, search: SearchSettings, numbers, space=CPU_SPACE,
              **plan) -> list[HyperParams]:
    """Open the search and suggest its trials ``numbers``, one after the other, as
    trials starting one at a time would."""
    store = SearchStore(search_id)
    opened = open_search(store, space, search, **plan)
    return [next_trial(store, opened, num).hyperparams for num in numbers]


def test_suggestions_are_recorded_as_pending_and_respect_the_budget():
    store = SearchStore("budget")
    plan = open_search(store, CPU_SPACE, SearchSettings(num_trials=5, n_startup_jobs=2))
    first = [next_trial(store, plan, num) for num in (1, 2, 3)]
    records = store.trials()
    assert records == first
    assert [r.status for r in records] == [PENDING] * 3
    assert all(mlflow.get_run(r.run_id).info.status == "SCHEDULED" for r in records)
    # A retried trial finds its own suggestion; the others are new and distinct.
    assert next_trial(store, plan, 2) == first[1]
    second = [next_trial(store, plan, num) for num in (5, 4)]
    assert len({r.hyperparams for r in first + second}) == 5
    with pytest.raises(InputError, match="search budget has trials 1 to 5"):
        next_trial(store, plan, 6)
    assert len(store.trials()) == 5


def test_the_plan_kept_when_the_search_opened_is_the_one_every_trial_uses():
    store = SearchStore("kept")
    plan = open_search(store, CPU_SPACE, SearchSettings(num_trials=3), split_bytes={"train": 9})
    again = open_search(SearchStore("kept"), SearchSpace.load(), SearchSettings(num_trials=9))
    assert again == plan == search_plan(SearchStore("kept"))


def test_suggestions_learn_from_the_trials_mlflow_holds():
    store = SearchStore("learn")
    plan = open_search(store, CPU_SPACE, SearchSettings(num_trials=30, n_startup_jobs=2))
    for num in range(1, 11):
        record = next_trial(store, plan, num)
        loss = 1.0 if record.hyperparams.rnn_size == 128 else 3.0
        for key, value in {"val_loss": loss, "best_val_loss": loss, "num_epochs": 1,
                           "avg_epoch_seconds": 1.0}.items():
            store.client.log_metric(record.run_id, key, value, step=1)
        store.set_status(record.run_id, OK)
    # Fresh processes, as trial tasks would be: everything comes from MLflow.
    more = [next_trial(SearchStore("learn"), search_plan(SearchStore("learn")), num)
            for num in range(11, 31)]
    share = sum(r.hyperparams.rnn_size == 128 for r in more) / len(more)
    assert share >= 0.6  # the prior gives 1/3


def test_trials_starting_at_the_same_instant_never_take_the_same_point():
    """Eight processes suggest the eight trials of a search whose space holds
    only nine points, at once: each has its number and its own point."""
    import concurrent.futures
    import multiprocessing

    space = SearchSpace.from_mapping({"rnn_size": {"choice": [32, 64, 128]},
                                      "batch_size": {"choice": [16, 32, 64]}})
    store = SearchStore("at-once")
    open_search(store, space, SearchSettings(num_trials=8, algorithm="random"))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(8, mp_context=context) as pool:
        records = list(pool.map(_suggest_in_a_process, ["at-once"] * 8, range(1, 9)))
    assert sorted(r.trial_num for r in records) == list(range(1, 9))
    points = [(r.hyperparams.rnn_size, r.hyperparams.batch_size) for r in records]
    assert len(set(points)) == 8
    assert store.trials() == sorted(records, key=lambda r: r.trial_num)


def _suggest_in_a_process(search_id: str, trial_num: int):
    store = SearchStore(search_id)
    return next_trial(store, search_plan(store), trial_num)


def test_a_trial_that_finds_nothing_left_to_try_says_so():
    space = SearchSpace.from_mapping({"rnn_size": {"choice": [32, 64]}})
    store = SearchStore("small-space")
    plan = open_search(store, space, SearchSettings(num_trials=3))
    next_trial(store, plan, 1), next_trial(store, plan, 2)
    with pytest.raises(NoPointLeft, match="no point for trial 3"):
        next_trial(store, plan, 3)
    assert len(store.trials()) == 2


def test_trials_drawing_the_same_point_at_once_take_both_points_of_the_space(monkeypatch):
    """Two trials suggest at the same instant and draw the same point; neither
    claims it before both drew. One takes it and the other draws the last point
    (each giving it up on seeing the other had left both with nothing: found on
    the Celery stack, where the last two trials of a 4-point space both ended
    "no point")."""
    import threading

    from training.tuning.sampler import HyperoptSampler

    space = SearchSpace.from_mapping({"rnn_size": {"choice": [32, 64]}})
    plan = open_search(SearchStore("at-once"), space, SearchSettings(num_trials=2))
    both_drew = threading.Barrier(2, timeout=60)
    first_call = threading.local()
    real_suggest, real_claim = HyperoptSampler.suggest, SearchStore.claim_point

    def suggest(self, observations, pending, k):
        if getattr(first_call, "suggest", True):  # each trial's first draw: the same point
            first_call.suggest = False
            return [space.point_of(HyperParams(rnn_size=32))]
        return real_suggest(self, observations, pending, k)

    def claim_point(self, point, trial_num):
        if getattr(first_call, "claim", True):
            first_call.claim = False
            both_drew.wait()
        return real_claim(self, point, trial_num)

    monkeypatch.setattr(HyperoptSampler, "suggest", suggest)
    monkeypatch.setattr(SearchStore, "claim_point", claim_point)
    results = {}

    def suggest_trial(num):
        try:
            results[num] = next_trial(SearchStore("at-once"), plan, num).hyperparams.rnn_size
        except NoPointLeft as error:
            results[num] = error

    threads = [threading.Thread(target=suggest_trial, args=(num,)) for num in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results.values()) == [32, 64], results
    assert sorted(r.hyperparams.rnn_size for r in SearchStore("at-once").trials()) == [32, 64]


def test_a_retried_trial_that_draws_its_own_point_again_keeps_its_claim():
    store = SearchStore("retried")
    store.open_parent()
    assert store.claim_point("abc", 3)
    assert store.claim_point("abc", 3)  # the same trial, after a crash: still its own
    assert not store.claim_point("abc", 4)


def test_warm_start_seeds_a_new_search_with_the_best_earlier_trials():
    earlier = SearchStore("last-night")
    params = [HyperParams(rnn_size=size, batch_size=16, seq_len=16) for size in (32, 64, 128)]
    for num, (p, loss) in enumerate(zip(params, (2.0, 1.0, 3.0), strict=True), start=1):
        record_trial(earlier, num, p, [loss + 0.5, loss])
    tonight = suggested("tonight", SearchSettings(num_trials=4, warm_start=2), (4, 3, 2, 1))
    assert tonight[2:] == [params[0], params[1]]  # trials 1 and 2: the best first
    assert len(set(tonight)) == 4


def test_the_tutorials_configuration_is_a_trial_of_every_search_whose_space_holds_it():
    """The floor: trial 1 is the tutorial's hand-picked model, tagged as such and
    never drawn again; a space without it (the CPU one: no 1 x 512) goes without.
    The portfolio is off here: the floor alone."""
    store = SearchStore("with-floor")
    plan = open_search(store, SearchSpace.load(),
                       SearchSettings(num_trials=3, floor=True, portfolio=False))
    trials = [next_trial(store, plan, num) for num in (1, 2, 3)]
    assert trials[0].hyperparams == TUTORIAL == HyperParams(learning_rate=0.001)
    assert [t.seeded for t in trials] == ["tutorial", None, None]
    assert mlflow.get_run(trials[0].run_id).data.tags["tweetbot.seeded"] == "tutorial"
    assert TUTORIAL not in [t.hyperparams for t in trials[1:]]
    assert "[tutorial]" in format_table(store.trials()).splitlines()[1]
    off = suggested("no-floor", SearchSettings(num_trials=2, portfolio=False), (1, 2),
                    space=SearchSpace.load())
    assert TUTORIAL not in off
    cpu = SearchStore("cpu-space")
    cpu_plan = open_search(cpu, CPU_SPACE, SearchSettings(num_trials=2, floor=True))
    assert cpu_plan.seeded == () and next_trial(cpu, cpu_plan, 1).seeded is None
    # Splits too short for its 128 x 33 batch: no floor either.
    short = open_search(SearchStore("short"), SearchSpace.load(),
                        SearchSettings(num_trials=2, floor=True, portfolio=False),
                        split_bytes={"train": 50_000, "validate": 4_000})
    assert short.seeded == ()


def test_warm_start_points_say_where_they_came_from_after_the_floor():
    earlier = SearchStore("earlier-night")
    best = HyperParams(rnn_size=256, batch_size=32, seq_len=64, learning_rate=0.002)
    record_trial(earlier, 1, best, [2.5, 2.0])
    record_trial(earlier, 2, TUTORIAL, [2.6, 2.1])  # the floor again: seeded once
    store = SearchStore("seeded-night")
    plan = open_search(store, SearchSpace.load(),
                       SearchSettings(num_trials=4, warm_start=2, floor=True))
    assert list(zip(plan.seeded, plan.seeded_from, strict=True)) == [
        (TUTORIAL, "tutorial"), (best, "earlier")]
    assert [next_trial(store, plan, n).seeded for n in (1, 2, 3)] == [
        "tutorial", "earlier", None]


def test_a_cold_search_starts_at_the_portfolio_and_a_warm_one_at_its_history():
    from training.tuning.suggest import PORTFOLIO

    assert all(SearchSpace.load().contains(params) for params in PORTFOLIO)
    settings = SearchSettings(num_trials=4, warm_start=2)  # the portfolio is on by default
    cold = SearchStore("first-night")
    plan = open_search(cold, SearchSpace.load(), settings)
    assert plan.seeded == PORTFOLIO and plan.seeded_from == ("portfolio", "portfolio")
    assert [next_trial(cold, plan, n).hyperparams for n in (1, 2)] == list(PORTFOLIO)
    assert next_trial(cold, plan, 3).seeded is None
    # A space without them (the CPU space's small models) gets none.
    assert open_search(SearchStore("cpu-night"), CPU_SPACE,
                       settings.model_copy(update={"warm_start": 0})).seeded == ()
    # A night with a history to start from starts there, not at the portfolio.
    record_trial(SearchStore("last-night"), 1, HyperParams(rnn_size=256), [2.5, 2.0])
    warm = open_search(SearchStore("second-night"), SearchSpace.load(), settings)
    assert warm.seeded_from == ("earlier",)
    # So does a search given past trials to learn from (a trials.csv).
    past = past_trials.parse(
        "val_loss,status,batch_size,seq_len,embedding_size,rnn_size,num_layers,drop_rate,"
        "optimizer,clip_norm,learning_rate\n2.0,ok,32,32,64,256,1,0.1,adam,5.0,0.002",
        SearchSpace.load())
    assert len(past.trials) == 1
    informed = open_search(SearchStore("informed-night"), SearchSpace.load(),
                           settings.model_copy(update={"warm_start": 0}), past=past)
    assert informed.seeded == ()


def test_nothing_longer_than_a_split_is_suggested_not_even_a_warm_start():
    earlier = SearchStore("big-batches-night")
    too_long = HyperParams(rnn_size=64, batch_size=64, seq_len=64)  # 4,160 bytes a batch
    record_trial(earlier, 1, too_long, [1.0])
    sizes = {"train": 50_000, "validate": 2_100}  # a 32 x 64 batch fits; 64 x 64 does not
    tonight = suggested("small-splits", SearchSettings(num_trials=12, warm_start=1),
                        range(1, 13), split_bytes=sizes)
    assert too_long not in tonight
    assert all(params.batch_size * (params.seq_len + 1) <= 2_100 for params in tonight)
    # The train split counts as far as max_train_chars reaches.
    head = suggested("small-head", SearchSettings(num_trials=6), range(1, 7),
                     split_bytes={"train": 50_000, "validate": 50_000}, max_train_chars=1_100)
    assert all(params.batch_size * (params.seq_len + 1) <= 1_100 for params in head)


def test_each_search_draws_its_own_points_and_a_rerun_the_same():
    monday = suggested("night-1", SearchSettings(num_trials=3), (1, 2, 3))
    tuesday = suggested("night-2", SearchSettings(num_trials=3), (1, 2, 3))
    assert monday != tuesday
    # A search given a seed draws the same points whatever its id.
    seeded = SearchSettings(num_trials=3, sampler_seed=7)
    assert suggested("a", seeded, (1, 2, 3)) == suggested("b", seeded, (1, 2, 3))


def test_a_rerun_search_draws_the_points_of_its_first_run(tmp_path, monkeypatch):
    """The seed comes from the search id alone: a search re-run from scratch (a
    fresh store) draws what its first run drew."""
    first = suggested("nightly-2026-11-30", SearchSettings(num_trials=3), (1, 2, 3))
    monkeypatch.setenv("TWEETBOT_HOME", str(tmp_path / "a-fresh-store"))
    assert suggested("nightly-2026-11-30", SearchSettings(num_trials=3), (1, 2, 3)) == first


def test_finish_search_logs_the_ranked_table_the_plot_and_the_choice(tmp_path):
    store = SearchStore("finish")
    slow_best = HyperParams(rnn_size=512, batch_size=16)
    fast_close = HyperParams(rnn_size=64, batch_size=64)
    record_trial(store, 1, slow_best, [2.5, 2.0], seconds=50.0)
    record_trial(store, 2, fast_close, [2.4, 2.05], seconds=10.0)
    record_trial(store, 3, HyperParams(rnn_size=32), [3.5], status=PRUNED, seconds=5.0)
    record_trial(store, 4, HyperParams(rnn_size=128), [], status=FAILED, reason="out of memory")
    selection = finish_search(store, SelectionPolicy(tolerance=0.05), max_epochs=4)
    assert selection.trial.trial_num == 2 and "5.0x faster" in selection.reason

    parent = store.find_parent()
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["tweetbot.chosen_trial"] == "2"
    assert parent.data.metrics["trial_epochs_saved_by_pruning"] == 3
    artifacts = {a.path for a in store.client.list_artifacts(parent.info.run_id)}
    assert artifacts == {"trials.csv", "trade_off.png"}
    table = mlflow.artifacts.download_artifacts(run_id=parent.info.run_id,
                                                artifact_path="trials.csv", dst_path=tmp_path)
    with open(table) as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["rank"], r["trial_num"], r["status"]) for r in rows] == [
        ("1", "1", OK), ("2", "2", OK), ("3", "3", PRUNED), ("4", "4", FAILED)]
    assert rows[3]["failure_reason"] == "out of memory"
    # Trials are children of the parent run in MLflow's UI.
    trial = mlflow.get_run(store.find_trial(1).run_id)
    assert trial.data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_a_search_with_no_successful_trial_fails_its_parent():
    store = SearchStore("all-failed")
    record_trial(store, 1, HyperParams(), [], status=FAILED, reason="diverged")
    cost.charge(store.find_trial(1).run_id, cost.TRIAL, accelerators=2, wall_seconds=7.0)
    with pytest.raises(NoTrialSucceeded):
        finish_search(store, SelectionPolicy(), max_epochs=3)
    parent = store.find_parent()
    assert parent.info.status == "FAILED"
    # What the failed trials cost is on the search all the same.
    assert (parent.data.metrics["trials_wall_seconds"],
            parent.data.metrics["trials_accelerator_seconds"]) == (7.0, 14.0)


@pytest.mark.fault
def test_a_trial_that_died_without_a_result_is_marked_failed():
    store = SearchStore("killed")
    suggested("killed", SearchSettings(num_trials=1), (1,))
    num = 1
    store.mark_failed(num, "trial process exited with status -9 without a result")
    record = store.find_trial(num)
    assert record.status == FAILED and "status -9" in record.failure_reason
    assert mlflow.get_run(record.run_id).info.status == "FAILED"


@pytest.mark.fault
@pytest.mark.parametrize("signal_name, said", [
    ("SIGKILL", "was killed by SIGKILL (out of memory, or killed by hand)"),
    ("SIGTERM", "was killed by SIGTERM"),
])
def test_a_trial_process_killed_before_reporting_is_a_failed_trial(tmp_path, monkeypatch,
                                                                  sample_splits, signal_name,
                                                                  said):
    """The local runner, as the DAG's local placement and training.search use it:
    the real trial command, killed (as by the OOM killer, or by hand) before it
    reports."""
    store = SearchStore("killed-process")
    params, = suggested("killed-process", SearchSettings(num_trials=1), (1,))
    num = 1
    (tmp_path / "sitecustomize.py").write_text(
        f"import os, signal\nos.kill(os.getpid(), signal.{signal_name})\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    step = TrialSpec(search_id="killed-process", trial_num=num, data_dir=str(sample_splits),
                     hyperparams=params).step()
    record = run_as_process(step)
    assert record.status == FAILED and record.trial_num == num
    assert record.failure_reason == f"python -m training.trial {said} without a result"
    assert store.find_trial(num) == record
    assert mlflow.get_run(record.run_id).info.status == "FAILED"


def test_a_step_that_fails_without_a_result_says_how_it_ended():
    step = Step(module="json.tool", arguments=("--no-such-flag",), folder="s", name="x")
    with pytest.raises(runner.StepFailed, match="json.tool exited with status 2 without"):
        runner.run(runner.place(step))


def test_the_pod_command_parses_back_into_the_same_trial(tmp_path):
    spec = TrialSpec(search_id="nightly", trial_num=3, data_dir=str(tmp_path),
                     hyperparams=HyperParams(rnn_size=64, learning_rate=0.003, drop_rate=0.1),
                     result_path=tmp_path / "r.json", fit=FitSettings(num_epochs=4, seed=2),
                     pruning=PruningSettings(pruning="halving"),
                     checkpoint_dir=tmp_path / "checkpoints")
    assert spec_from_args(build_parser().parse_args(spec.arguments())) == spec


# --- real trials (TensorFlow) -----------------------------------------------------

TRIAL_PARAMS = ["--batch-size", "16", "--seq-len", "32", "--rnn-size", "32",
                "--embedding-size", "16", "--optimizer", "adam", "--learning-rate", "0.01",
                "--seed", "3"]


def _trial(tmp_path, splits, num, *extra, name="result.json"):
    """Suggest trial ``num`` (its record, as the search does), then run it."""
    argv = ["--search-id", "real", "--trial-num", str(num), "--data-dir", str(splits),
            "--result-path", str(tmp_path / name), *extra]
    store = SearchStore("real")
    if store.find_trial(num) is None:
        store.create_trial(num, spec_from_args(build_parser().parse_args(argv)).hyperparams)
    return trial_main(argv), json.loads((tmp_path / name).read_text())


def test_a_trial_never_suggested_is_refused_and_records_nothing(tmp_path, capsys):
    status = trial_main(["--search-id", "unknown", "--trial-num", "1", "--data-dir",
                         str(tmp_path), "--result-path", str(tmp_path / "r.json")])
    assert status == 2
    assert "search unknown has no plan in sqlite:" in capsys.readouterr().err
    assert SearchStore("unknown").trials() == []
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_a_trial_rerun_reports_the_finished_trial_without_training_again(tmp_path,
                                                                          sample_splits):
    status, first = _trial(tmp_path, sample_splits, 1, "--num-epochs", "2", *TRIAL_PARAMS)
    assert status == 0 and first["status"] == OK and first["num_epochs"] == 2
    assert first["val_loss"] < first["train_loss"] + 1  # real numbers, both present
    status, again = _trial(tmp_path, sample_splits, 1, "--num-epochs", "2", *TRIAL_PARAMS,
                           name="again.json")
    assert status == 0 and again == first
    runs = mlflow.search_runs(experiment_names=["tweetbot"],
                              filter_string="tags.`tweetbot.kind` = 'trial'")
    assert len(runs) == 1 and runs.status[0] == "FINISHED"
    assert mlflow.get_run(first["run_id"]).data.tags["mlflow.parentRunId"]


@pytest.mark.fault
@pytest.mark.slow
def test_a_failing_trial_is_recorded_as_failed_not_crashed(tmp_path, sample_splits):
    status, result = _trial(tmp_path, sample_splits, 1, "--batch-size", "512",
                            "--seq-len", "256")
    assert status == 0 and result["status"] == FAILED and result["val_loss"] is None
    assert result["failure_reason"].startswith("bad input: ")
    assert "shorter than one batch" in result["failure_reason"]
    run = mlflow.get_run(result["run_id"])
    assert run.info.status == "FAILED"
    assert run.data.tags["tweetbot.trial_status"] == FAILED


@pytest.mark.slow
def test_a_trial_losing_to_the_median_is_pruned(tmp_path, sample_splits):
    store = SearchStore("real")
    for num in (1, 2, 3):  # three strong trials already ran
        record_trial(store, num, HyperParams(rnn_size=200 + num), [0.3, 0.2, 0.1])
    status, result = _trial(tmp_path, sample_splits, 4, "--num-epochs", "3",
                            "--prune-min-epochs", "1", *TRIAL_PARAMS)
    assert status == 0 and result["status"] == PRUNED and result["num_epochs"] == 1
    assert result["val_loss"] > 0.3
    assert store.find_trial(4).status == PRUNED


@pytest.mark.fault
def test_ctrl_c_turned_into_another_error_leaves_the_trial_to_continue(
        tmp_path, sample_splits, monkeypatch):
    """Ctrl-C can land inside library code that raises an error of its own
    instead (TensorFlow building an input pipeline did): the trial was
    interrupted, not failed, and stays to be continued."""
    def interrupted_inside_a_library(job, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise AttributeError("'list' object has no attribute '_type_spec'") from None

    monkeypatch.setattr(trial_run, "run_training", interrupted_inside_a_library)
    monkeypatch.setattr(stop_signals, "_received", [])
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(KeyboardInterrupt):
            _trial(tmp_path, sample_splits, 1, *TRIAL_PARAMS)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    record = SearchStore("real").find_trial(1)
    assert (record.status, record.failure_reason) == (RUNNING, None)
    assert not (tmp_path / "result.json").exists()


@pytest.mark.fault
@pytest.mark.slow
def test_ctrl_c_leaves_a_search_to_continue_not_failed(tmp_path, sample_splits):
    """Ctrl-C reaches the driver and its trial processes; the same command
    continues the trials from their checkpoints instead of failing them."""
    space = tmp_path / "space.yaml"
    space.write_text("batch_size: 16\nseq_len: 32\nrnn_size: {choice: [16, 32]}\n"
                     "embedding_size: 8\nnum_layers: 1\ndrop_rate: 0.0\nclip_norm: 5.0\n"
                     "optimizer: adam\nlearning_rate: 0.01\n")
    command = [sys.executable, "-m", "training.search", "--data-dir", str(sample_splits),
               "--search-id", "interrupted", "--space", str(space), "--num-trials", "2",
               "--parallel", "2", "--num-epochs", "3", "--patience", "10",
               "--pruning", "none", "--seed", "1"]
    driver = subprocess.Popen(command, start_new_session=True, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    states = [runner.folder("interrupted") / f"trial-00{n}" for n in (1, 2)]
    deadline = time.monotonic() + 300
    while not any((s / "state.json").exists() for s in states):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
        time.sleep(0.2)
    os.killpg(driver.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, (out, err)
    assert "run the same command to continue" in err
    before = {s.name: TrainingState.load(s) for s in states if (s / "state.json").exists()}
    store = SearchStore("interrupted")
    interrupted = [(t.trial_num, t.status, t.failure_reason) for t in store.trials()]
    assert interrupted and all(status != FAILED for _, status, _ in interrupted), \
        (interrupted, err)

    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    trials = store.trials()
    assert [(t.trial_num, t.status, t.num_epochs) for t in trials] == [(1, OK, 3), (2, OK, 3)]
    for name, state in before.items():  # finished epochs were not trained again
        resumed = TrainingState.load(runner.folder("interrupted") / name)
        assert resumed.epochs[:state.epochs_done] == state.epochs
        assert resumed.mlflow_run_id == state.mlflow_run_id


def test_a_past_searchs_trials_csv_steers_the_sampler_without_using_the_budget():
    """The tutorial's trials.csv (no learning_rate column): rows with 512 units
    had a third of the others' loss; TPE, counting them as its startup trials,
    goes for 512 from the first suggestion on."""
    header = ("rank,trial_num,val_loss,train_loss,num_epochs,avg_epoch_seconds,batch_size,"
              "drop_rate,embedding_size,num_layers,rnn_size,seq_len,optimizer,clip_norm,"
              "status")
    rows = [f"{i},{i},{1.0 if size == 512 else 3.0},1,10,60,64,0.0,64,1,{size},64,rmsprop,"
            f"5.0,ok" for i, size in enumerate((64, 128, 256, 512) * 3, start=1)]
    past = past_trials.parse("\n".join([header, *rows]), SearchSpace.load())
    assert len(past.trials) == 12

    def share_of_512(search_id: str, **kwargs) -> float:
        # The portfolio off: a blind search would otherwise start at its 1 x 512.
        settings = SearchSettings(num_trials=6, n_startup_jobs=5, portfolio=False)
        points = suggested(search_id, settings, range(1, 7), space=SearchSpace.load(),
                           **kwargs)
        return sum(params.rnn_size == 512 for params in points) / 6

    informed = [share_of_512(f"informed-{n}", past=past) for n in range(3)]
    blind = [share_of_512(f"blind-{n}") for n in range(3)]
    assert sum(informed) / 3 >= 0.5 > sum(blind) / 3
