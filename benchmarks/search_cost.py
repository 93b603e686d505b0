"""Search cost: trial-epochs to a good model, ours against a tutorial-style search.

    .venv/bin/python -m benchmarks.search_cost --scratch /tmp/bench

A scaled-down problem that fits this machine: the CPU search space
(``training/search_space_cpu.yaml``), a 120 kB head of the train split and a
30 kB validation split, 8 trials of at most 3 epochs. For each seed, with
``python -m training.search`` in a fresh MLflow store each time:

- **tutorial-style**: random search, one trial at a time (as hyperopt's ``fmin``
  ran it), no pruning, every trial its 3 epochs;
- **ours, cold**: the project's defaults (TPE after 5 random points, 2 trials at
  a time, median pruning), nothing to start from;
- **ours, warm**: the same, in a store holding an earlier search on other data
  (a previous night), seeded from its best 3 trials (the DAG's default);
- **tutorial-style on a subset**: the random search again, same seed and so the
  same configurations, each trial on only the first 30 kB of the train split
  (``--max-train-chars``, what the tutorial did to cut its cost).

The target value is the tutorial-style search's best val_loss plus 2 %; each
search is charged the trial-epochs it spent, in trial order, until a trial
reached it. The subset's val_losses are ranked against the full-data ones of
the same configurations (Spearman), and their epoch time compared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.common import REPO, emit, make_splits, median, section_parser

SPACE = REPO / "training" / "search_space_cpu.yaml"
TRAIN_BYTES, VALIDATE_BYTES, SUBSET_CHARS = 120_000, 30_000, 30_000
NUM_TRIALS, NUM_EPOCHS = 8, 3
SEEDS = (1, 2, 3)
WITHIN = 0.02
TUTORIAL = {"algorithm": "random", "parallel": 1, "pruning": "none"}
OURS = {"algorithm": "tpe", "parallel": 2, "pruning": "median"}


def cut_splits(source: Path, out_dir: Path, part: int, train_bytes: int,
               validate_bytes: int) -> Path:
    """Part ``part`` (0, 1, ...) of ``source``'s train and validate splits, cut
    to the given sizes: part 0 is today's data, part 1 an earlier night's."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, size in (("train", train_bytes), ("validate", validate_bytes)):
        cut = (source / f"{name}.txt").read_bytes()[part * size:(part + 1) * size]
        # Whole UTF-8 characters at both ends.
        (out_dir / f"{name}.txt").write_bytes(cut.decode("utf-8", "ignore").encode())
    return out_dir


def search(home: Path, search_id: str, splits: Path, options: dict, seed: int,
           num_trials: int, num_epochs: int, **extra) -> list[dict]:
    """One ``training.search`` in ``home``; its trials in order, from their result files."""
    from training.core.records import TrialRecord

    arguments = {"search-id": search_id, "data-dir": splits, "space": SPACE,
                 "num-trials": num_trials, "num-epochs": num_epochs, "sampler-seed": seed,
                 **{k.replace("_", "-"): v for k, v in {**options, **extra}.items()}}
    command = [sys.executable, "-m", "training.search"]
    for name, value in arguments.items():
        command += [f"--{name}", str(value)]
    env = {**os.environ, "TWEETBOT_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(home.parent / f"{home.name}-{search_id}.log", "w") as log:
        subprocess.run(command, env=env, cwd=REPO, check=True, stdout=log,
                       stderr=subprocess.STDOUT)
    folder = home / "runs" / search_id
    trials = [TrialRecord.model_validate_json(path.read_text())
              for path in sorted(folder.glob("trial-*.json"))]
    return [{"trial_num": t.trial_num, "status": t.status, "val_loss": t.val_loss,
             "num_epochs": t.num_epochs, "avg_epoch_seconds": t.avg_epoch_seconds,
             "params": t.hyperparams.to_dict()} for t in trials]


def epochs_to_reach(trials: list[dict], target: float) -> int | None:
    """Trial-epochs spent, in trial order, until a trial's val_loss reached ``target``."""
    spent = 0
    for trial in sorted(trials, key=lambda t: t["trial_num"]):
        spent += trial["num_epochs"]
        if trial["val_loss"] is not None and trial["val_loss"] <= target:
            return spent
    return None


def best(trials: list[dict]) -> float:
    return min(t["val_loss"] for t in trials if t["val_loss"] is not None)


def rank_agreement(full: list[dict], subset: list[dict]) -> dict:
    """Spearman correlation of val_loss between the same configurations trained
    on all of the train split and on its head, and the epoch time of each."""
    import pandas as pd

    key = lambda t: repr(sorted(t["params"].items()))  # noqa: E731
    on_subset = {key(t): t for t in subset if t["val_loss"] is not None}
    pairs = [(t, on_subset[key(t)]) for t in full
             if t["val_loss"] is not None and key(t) in on_subset]
    frame = pd.DataFrame({"full": [a["val_loss"] for a, _ in pairs],
                          "subset": [b["val_loss"] for _, b in pairs]})
    seconds = lambda ts: sum(t["avg_epoch_seconds"] * t["num_epochs"] for t in ts)  # noqa: E731
    return {"configurations": len(pairs),
            "spearman": float(frame["full"].corr(frame["subset"], method="spearman")),
            "best_is_best": bool(frame["full"].idxmin() == frame["subset"].idxmin()),
            "epoch_seconds_full": seconds(a for a, _ in pairs),
            "epoch_seconds_subset": seconds(b for _, b in pairs)}


def main() -> None:
    args = section_parser(__doc__).parse_args()
    scale = 10 if args.quick else 1
    num_trials, num_epochs = (3, 1) if args.quick else (NUM_TRIALS, NUM_EPOCHS)
    seeds = SEEDS[:1] if args.quick else SEEDS
    source = make_splits(args.corpus, args.scratch / "source")
    today = cut_splits(source, args.scratch / "today", 0, TRAIN_BYTES // scale,
                       VALIDATE_BYTES // scale)
    yesterday = cut_splits(source, args.scratch / "yesterday", 1, TRAIN_BYTES // scale,
                           VALIDATE_BYTES // scale)
    run = lambda home, sid, splits, options, seed, **extra: search(  # noqa: E731
        args.scratch / home, sid, splits, options, seed, num_trials, num_epochs, **extra)
    previous = run("previous-night", "previous", yesterday, OURS, 0, warm_start=0)
    rows = []
    for seed in seeds:
        tutorial = run(f"tutorial-{seed}", "tutorial", today, TUTORIAL, seed)
        cold = run(f"cold-{seed}", "ours", today, OURS, seed, warm_start=0)
        warm_home = args.scratch / f"warm-{seed}"
        shutil.copytree(args.scratch / "previous-night", warm_home)
        warm = run(warm_home.name, "ours", today, OURS, seed, warm_start=3)
        subset = run(f"subset-{seed}", "tutorial", today, TUTORIAL, seed,
                     max_train_chars=SUBSET_CHARS // scale)
        target = best(tutorial) * (1 + WITHIN)
        searches = {"tutorial": tutorial, "ours_cold": cold, "ours_warm": warm}
        rows.append({
            "seed": seed, "target": target,
            **{f"{name}_best": best(trials) for name, trials in searches.items()},
            **{f"{name}_epochs_to_target": epochs_to_reach(trials, target)
               for name, trials in searches.items()},
            **{f"{name}_epochs_spent": sum(t["num_epochs"] for t in trials)
               for name, trials in searches.items()},
            "subset": rank_agreement(tutorial, subset),
            "trials": searches,
        })

    def ratio(name: str) -> float | None:
        ratios = [r["tutorial_epochs_to_target"] / r[f"{name}_epochs_to_target"]
                  for r in rows if r[f"{name}_epochs_to_target"]]
        return median(ratios) if len(ratios) == len(rows) else None

    emit({"num_trials": num_trials, "num_epochs": num_epochs, "within": WITHIN,
          "train_bytes": TRAIN_BYTES // scale, "validate_bytes": VALIDATE_BYTES // scale,
          "subset_chars": SUBSET_CHARS // scale, "previous_night_best": best(previous),
          "seeds": rows, "ours_cold_ratio": ratio("ours_cold"),
          "ours_warm_ratio": ratio("ours_warm"),
          "subset_spearman": median(r["subset"]["spearman"] for r in rows)})


if __name__ == "__main__":
    main()
