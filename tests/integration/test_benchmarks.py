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
