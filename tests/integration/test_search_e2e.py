"""A real search: 8 short trials, 2 at a time, on the shared tweet corpus."""

import csv
import sys

import mlflow
import pytest

from training.core.records import FINISHED_STATUSES, OK, PRUNED
from training.search import main
from training.tracking.search_store import SearchStore

pytestmark = pytest.mark.slow


def test_a_local_search_runs_prunes_and_selects(shared_splits, tmp_path, capsys):
    status = main(["--data-dir", str(shared_splits), "--search-id", "e2e",
                   "--space", "training/search_space_cpu.yaml", "--num-trials", "8",
                   "--parallel", "2", "--num-epochs", "3", "--n-startup-jobs", "4",
                   "--seed", "1", "--tolerance", "0.05"])
    out = capsys.readouterr().out
    print(out, file=sys.stderr)  # the table, for whoever reads the test log
    assert status == 0, out
    store = SearchStore("e2e")
    trials = store.trials()
    assert [t.trial_num for t in trials] == list(range(1, 9))
    assert all(t.status in FINISHED_STATUSES for t in trials)
    assert sum(t.status == OK for t in trials) >= 2
    assert len({t.hyperparams for t in trials}) == 8

    parent = store.find_parent()
    assert parent.info.status == "FINISHED"
    chosen = store.find_trial(int(parent.data.tags["tweetbot.chosen_trial"]))
    assert chosen.status == OK
    assert "<- chosen" in out and "chosen: trial" in out
    pruned = [t for t in trials if t.status == PRUNED]
    assert parent.data.metrics["trial_epochs_saved_by_pruning"] == sum(
        3 - t.num_epochs for t in pruned)
    table = mlflow.artifacts.download_artifacts(run_id=parent.info.run_id,
                                                artifact_path="trials.csv", dst_path=tmp_path)
    with open(table) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and rows[0]["status"] == OK
    losses = [float(r["val_loss"]) for r in rows if r["val_loss"]]
    assert losses == sorted(losses)

    # The same command again continues the search: its budget is spent, so nothing
    # is trained again and no trial is duplicated.
    run_ids = [t.run_id for t in trials]
    assert main(["--data-dir", str(shared_splits), "--search-id", "e2e",
                 "--space", "training/search_space_cpu.yaml", "--num-trials", "8",
                 "--num-epochs", "3"]) == 0
    assert [t.run_id for t in store.trials()] == run_ids
    assert "started" not in capsys.readouterr().out
