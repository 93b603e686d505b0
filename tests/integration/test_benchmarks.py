"""The benchmarks run and report every comparison; speed itself is never asserted."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import tutorial
from training.data.vocab import Vocabulary

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_the_tutorial_generator_is_the_tutorials_layout(tmp_path):
    text = "".join(chr(32 + i % 90) for i in range(5000))
    path = tmp_path / "train.txt"
    path.write_text(text)
    generator = tutorial.io_batch_generator(path, batch_size=4, seq_len=10,
                                            one_hot_labels=True)
    x, y, epoch = next(generator)
    assert x.shape == (4, 10) and y.shape == (4, 10, tutorial.VOCAB_SIZE) and epoch == 1
    ids = Vocabulary.default().byte_to_id[np.frombuffer(text.encode(), np.uint8)]
    row_len = (len(ids) - 1) // 40 * 10  # the chunk reshaped into 4 rows
    np.testing.assert_array_equal(x[1], ids[row_len:row_len + 10])
    np.testing.assert_array_equal(y.argmax(-1)[1], ids[row_len + 1:row_len + 11])
    assert tutorial.get_num_steps_per_epoch(
        tutorial.io_batch_generator(path, batch_size=4, seq_len=10)) == (5000 - 1) // 40


@pytest.mark.slow
def test_quick_bench_writes_every_section(tmp_path):
    output = tmp_path / "RESULTS.md"
    subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--repeats", "1",
                    "--output", str(output)], cwd=ROOT, check=True, timeout=900)
    report = output.read_text()
    for heading in ("## Machine", "## 1. Data path", "## 2. Training throughput",
                    "## 4. Evaluation and generation", "## 5. Memory",
                    "## 6. Orchestration overhead", "## 7. Search cost",
                    "## 8. Search quality"):
        assert heading in report
    results = json.loads(output.with_suffix(".json").read_text())
    ratios = [results["data_path"]["ratio"], results["evaluation"]["ratio"],
              *(row["ratio"] for row in results["training_speed"]["configs"]),
              *(row[key] for row in results["training_speed"]["configs"]
                for key in ("ours_fraction_of_ceiling", "ours_fraction_of_model_only"))]
    assert all(math.isfinite(r) and r > 0 for r in ratios)
    assert {m["pipeline"] for m in results["data_path"]["memory"]} == {"ours", "tutorial"}
    assert results["evaluation"]["relative_loss_difference"] < 1e-3
    (run,) = results["orchestration"]["runs"]
    # The DAG run's time is its training plus the rest, each part positive.
    assert 0 < run["training_seconds"] < run["dag_run_seconds"]
    assert run["per_trial_overhead_seconds"] > 0 and run["task_seconds"]["register"] > 0
    (seed,) = results["search_cost"]["seeds"]
    # The tutorial-style search reaches its own best + 2 % by construction.
    assert seed["tutorial_epochs_to_target"] <= seed["tutorial_epochs_spent"]
    assert seed["subset"]["configurations"] == len(seed["trials"]["tutorial"])
    quality = {row["name"]: row for row in results["search_quality"]["rows"]}
    assert list(quality) == ["today", "feasible", "learning_rates", "chance_pruning", "seed",
                             "converged_base", "all", "tutorial_defaults"]
    for name in ("converged_base", "all", "tutorial_defaults"):
        assert math.isfinite(quality[name]["median_test_loss"])
    # With the splits measured, no trial fails for a batch longer than a split.
    units = results["search_quality"]["units"]
    for variant in ("feasible", "all"):
        for trial in units[variant][0]["trials"]:
            assert "shorter than one batch" not in (trial["failure_reason"] or "")


def test_slot_use_is_trial_seconds_over_slots_times_the_search_span():
    from benchmarks.run import slot_use_lines
    from benchmarks.slot_use import slot_use

    def instance(task_id, start, end, map_index=-1):
        return {"task_id": task_id, "map_index": map_index, "state": "success",
                "start_date": f"2026-12-04T03:00:{start:02d}Z",
                "end_date": f"2026-12-04T03:00:{end:02d}Z"}

    # Two slots: trial 1 runs 0-10 s; trial 2 runs 0-4 s and trial 3 starts at once.
    now = slot_use([instance("trial", 0, 10, 0), instance("trial", 0, 4, 1),
                    instance("trial", 4, 10, 2), instance("select", 12, 13)], 2)
    assert now["slot_use"] == 1.0 and now["search_wall_seconds"] == 12
    assert now["suggest_task_seconds"] == 0 and now["trial_tasks"] == 3
    # Rounds: trial 3 waits for the round's slowest, and for suggest_r1.
    rounds = slot_use([instance("trial_r0", 0, 10, 0), instance("trial_r0", 0, 4, 1),
                       instance("suggest_r1", 10, 12), instance("trial_r1", 12, 18, 0),
                       instance("select", 19, 20)], 2)
    assert rounds["slot_use"] == 20 / (2 * 18) and rounds["suggest_task_seconds"] == 2
    case = {"case": "local:2", "executor": "local", "parallel": 2, "test_loss": 1.9,
            "to_first_epoch_seconds": 8.0, **now}
    report = "\n".join(slot_use_lines(
        {"num_trials": 3, "max_epochs": 3, "final_epochs": 3, "train_bytes": 1000,
         "cases": [case]},
        {"code": "a commit", "cases": [{**case, **rounds, "test_loss": 2.0}]}))
    assert "| LocalExecutor | 2 | 0.556 | 1.000 | 19 | 12 | 2.0000 | 1.9000 |" in report


PEER_SPACE = {"batch_size": {"choice": [8, 16]}, "seq_len": 16, "embedding_size": 8,
              "rnn_size": {"choice": [16, 32]}, "num_layers": 1, "drop_rate": 0.0,
              "clip_norm": 5.0,
              "optimizer": {"choice": {"adam": {"learning_rate": {"loguniform": [0.005, 0.02]}},
                                       "rmsprop": {"learning_rate": 0.01}}}}


def test_the_optuna_peer_asks_for_tweetbots_space_define_by_run():
    import optuna

    from benchmarks.optuna_search import suggest
    from training.tuning.space import SearchSpace

    space = SearchSpace.from_mapping(PEER_SPACE)
    adam = suggest(optuna.trial.FixedTrial({"batch_size": 16, "rnn_size": 32,
                                            "optimizer": "adam",
                                            "learning_rate|adam": 0.007}), space)
    assert (adam.optimizer, adam.learning_rate, adam.rnn_size) == ("adam", 0.007, 32)
    rmsprop = suggest(optuna.trial.FixedTrial({"batch_size": 16, "rnn_size": 16,
                                               "optimizer": "rmsprop"}), space)
    assert (rmsprop.learning_rate, rmsprop.seq_len) == (0.01, 16)  # the branch's fixed
    assert space.contains(adam) and space.contains(rmsprop)


@pytest.mark.slow
def test_the_optuna_peer_runs_its_trials_through_the_trainer(tmp_path, sample_splits):
    """Two trials at once, each a ``training.train`` process whose epochs the
    study reads as they are saved."""
    from benchmarks.optuna_search import OptunaSearch
    from training.core.config import FitSettings, HyperParams
    from training.tuning.space import SearchSpace

    space = SearchSpace.from_mapping(PEER_SPACE)
    trials, chosen = OptunaSearch(sample_splits, tmp_path / "study", space,
                                  FitSettings(num_epochs=2), num_trials=2, parallel=2,
                                  seed=3).run()
    assert sorted(t["trial_num"] for t in trials) == [1, 2]
    for trial in trials:
        assert space.contains(HyperParams.from_mapping(trial["params"]))
        assert trial["status"] in ("ok", "pruned") and 1 <= trial["num_epochs"] <= 2, trial
        assert math.isfinite(trial["val_loss"]) and trial["avg_epoch_seconds"] > 0
    finished = [t for t in trials if t["status"] == "ok"]
    assert chosen["trial_num"] == min(finished, key=lambda t: t["val_loss"])["trial_num"]


def test_search_peers_counts_trial_epochs_to_the_random_searchs_best():
    from benchmarks.run import search_peers_lines
    from benchmarks.search_peers import corpus_rows, epochs_to_reach

    def trial(num, epochs, val_loss, finished_at, seconds=10.0):
        return {"trial_num": num, "num_epochs": epochs, "val_loss": val_loss,
                "status": "ok", "seconds": seconds, "finished_at": finished_at}

    # Finished in the order 2, 1, 3: the target 2.04 is reached by trial 1.
    nightly = [trial(1, 3, 2.01, 20), trial(2, 1, 3.5, 10), trial(3, 3, 1.9, 30)]
    assert epochs_to_reach(nightly, 2.04) == 4 and epochs_to_reach(nightly, 1.0) is None
    random = [trial(1, 3, 2.0, 5), trial(2, 3, 2.5, 6)]
    units = {"tutorial": [{"trials": [], "base": {"test_loss": 1.90, "epochs": 38}}],
             "nightly": [{"trials": nightly, "base": {"test_loss": 1.80, "epochs": 30}}],
             "optuna": [{"trials": [trial(1, 2, 3.0, 1)]}],  # no trial succeeded
             "random": [{"trials": random, "base": {"test_loss": 1.95, "epochs": 20}}],
             # A nightly search with other parameters (--nightly before=...).
             "before": [{"trials": nightly[:2], "base": {"test_loss": 1.85, "epochs": 25}}]}
    rows = corpus_rows(units)
    assert rows["nightly"]["seeds"][0] == {
        "test_loss": 1.80, "base_epochs": 30, "trial_epochs": 7, "trial_seconds": 30.0,
        "failed": 0, "below_tutorial": pytest.approx(1 - 1.80 / 1.90),
        "epochs_to_random_best": 4}
    assert rows["random"]["seeds"][0]["epochs_to_random_best"] == 3
    assert rows["optuna"]["median_test_loss"] is None
    assert "below_tutorial" not in rows["optuna"]["seeds"][0]  # no champion to compare
    aa = {"champion": 2, "new": 3, "champion_loss": 1.62, "new_loss": 1.51, "gain": 0.068,
          "lower_bound": 0.051, "units": 312, "promoted": True}
    report = "\n".join(search_peers_lines({"within": 0.02, "corpora": {"motivational": {
        "seeds": [1], "train_bytes": 230_000, "rows": rows, "same_configuration": [aa]}},
        "nightly_variants": {"before": '{"floor": false}'}}))
    assert "| (b) the nightly search | 1.8000 | 1.8000 | 5.3% | 7 | 30 | 4 |" in report
    assert "| (a) the tutorial's configuration | 1.9000 | 1.9000 | - | - | - | - |" in report
    assert "| (c) Optuna | - | - | - | 2 | 10 | - |" in report
    assert "| (b) nightly, before | 1.8500 | 1.8500 | 2.6% | 4 | 20 | 4 |" in report
    assert "(b) nightly, before: the run parameters `{\"floor\": false}`" in report
    assert ("seed 3 against 2: 1.5100 against 1.6200, gain 6.80%, lower bound 5.10% "
            "over 312 tweets: promoted") in report
    # Only some variants (--variants): the rows there are, no trial-epochs to reach.
    alone = corpus_rows({"tutorial": units["tutorial"], "nightly": units["nightly"]})
    assert "epochs_to_random_best" not in alone["nightly"]["seeds"][0]


def test_a_search_in_rounds_waits_for_each_rounds_slowest_trial(tmp_path, monkeypatch):
    """The benchmark's rounds driver: trials 3 and 4 start only after both 1 and 2
    ended, however short 1 was; the driver as it is starts 3 when 1 ends."""
    import threading
    import time

    from benchmarks.search_rounds import RoundsSearch, mode_row, scheduled
    from training.core.config import FitSettings, PruningSettings, SearchSettings
    from training.core.records import OK, TrialRecord
    from training.pipeline.local_search import LocalSearch
    from training.tuning.space import SearchSpace

    monkeypatch.setenv("TWEETBOT_HOME", str(tmp_path))
    lengths = {1: 0.05, 2: 0.6, 3: 0.05, 4: 0.05}

    def starts(driver_class) -> dict[int, float]:
        started, lock = {}, threading.Lock()

        class Recording(driver_class):
            def _run_trial(self, trial_num):
                with lock:
                    started[trial_num] = time.monotonic()
                time.sleep(lengths[trial_num])
                return TrialRecord(search_id="s", trial_num=trial_num, run_id="r",
                                   hyperparams=SearchSpace.load().smallest_batch(),
                                   status=OK, val_loss=2.0, num_epochs=1,
                                   avg_epoch_seconds=1.0)

        driver = Recording("rounds-test", str(tmp_path), SearchSpace.load(),
                           SearchSettings(num_trials=4, parallel=2), FitSettings(),
                           PruningSettings(), report=lambda line: None)
        driver.run_trials([1, 2, 3, 4])
        return started

    rounds, free = starts(RoundsSearch), starts(LocalSearch)
    assert rounds[3] - rounds[1] >= lengths[2] and rounds[4] - rounds[1] >= lengths[2]
    assert free[3] - free[1] < lengths[2]
    # Slot use from the trials' start and end: 2 slots busy 3 s each over 4 s.
    row = mode_row([{"trials": [
        {"trial_num": 1, "num_epochs": 3, "seconds": 3.0, "started_at": 0.0,
         "finished_at": 3.0, "val_loss": 2.1},
        {"trial_num": 2, "num_epochs": 1, "seconds": 3.0, "started_at": 1.0,
         "finished_at": 4.0, "val_loss": None}], "test_loss": 1.9, "chosen": 1}], parallel=2)
    assert row["seeds"][0] == {"test_loss": 1.9, "best_val_loss": 2.1, "trial_epochs": 4,
                               "chosen": 1, "search_seconds": 4.0, "slot_use": 0.75,
                               "same_trials_rounds_seconds": 3.0,
                               "same_trials_asynchronous_seconds": 3.0}
    # The same trials in each schedule: 5, 1 | 1, 1 on 2 slots.
    assert scheduled([5, 1, 1, 1], 2, rounds=True) == 6
    assert scheduled([5, 1, 1, 1], 2, rounds=False) == 5
    from benchmarks.run import search_rounds_lines

    report = "\n".join(search_rounds_lines({"parallel": 2, "seeds": [1], "train_chars": 100,
                                            "corpora": {"motivational": {"rounds": row}}}))
    assert "| motivational | rounds | 1.9000 | 1.9000 | 2.1000 | 4 | 4 | 3 | 0.75 |" in report


def test_the_gpu_check_runs_its_cpu_path_and_renders(tmp_path):
    """The check of the GPU machine, here on a CPU under Keras' JAX backend: the
    same code, at small shapes (``--quick``); its JSON is RESULTS.md's section 11."""
    from benchmarks import run

    out = tmp_path / "gpu_check.json"
    subprocess.run([sys.executable, "benchmarks/gpu_check.py", "run", "--quick", "--out",
                    str(out)], cwd=ROOT, check=True, timeout=600)
    check = json.loads(out.read_text())
    assert check["device"].startswith("cpu") and check["rows"]
    for row in check["rows"]:
        assert row["ours"]["backend"] == "jax" and row["ours"]["chars_per_second"] > 0
        torch = row["pytorch"]  # PyTorch is not installed here; there, it is
        assert torch is None or (torch["chars_per_second"] > 0 and row["ratio"] > 0)
    lines = run.gpu_lines(check)
    assert lines[0] == "## 11. The GPU path"
    assert any(line.startswith("| tiny: 1 x 32, batch 8 x seq 16 | ") for line in lines)
    assert "Not measured yet" in "\n".join(run.gpu_lines(None))
