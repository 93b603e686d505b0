"""Rounds against no rounds: does the champion lose by suggesting each trial as it starts?

    .venv/bin/python -m benchmarks.search_rounds --scratch /tmp/bench [--corpora A B]

The DAG used to search in rounds: ``parallel`` trials suggested together, the
next round suggested when the round's slowest trial ended. Now a trial suggests
itself when a slot frees (``training.tuning.suggest.next_trial``). Section 9
measures the slots' use under Airflow, one search per case; this asks whether
the choice pays for it, over seeds and on both shared corpora. Airflow is not
needed for that: the same search by ``training.search``'s driver, either way.

- **asynchronous**: the driver as it is.
- **rounds**: the driver waiting for every trial of a round of ``parallel``
  before starting the next round, whose trials are suggested from the rounds
  before it (``RoundsSearch``).

Both: the DAG's default parameters (space, trials, trials at once, epochs per
trial, pruning, selection) and search id ``night-<seed>``, so the same sampler
seed; the trials train on the first ``TRAIN_CHARS`` characters of the train
split, so that 12 searches take about an hour on 2 CPU cores. The chosen trial's
own model (its best epoch) is scored on the whole test split: what the search
found, without a base model's training on top. Per search: that test loss, the
best val_loss, the trial-epochs, the search's wall-clock (first trial's start to
last trial's end) and the driver's slot use (trial seconds / (``parallel`` x
that span)). Units are kept as they finish (``benchmarks.common.run_unit``);
the units behind RESULTS.md are in ``benchmarks/search_rounds_units/``: copy them
into ``<scratch>/units/`` to render again or add seeds.
"""

from __future__ import annotations

import heapq
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import emit, make_splits, median, ran_unit, run_unit, unit_parser
from benchmarks.search_peers import CORPORA, QUICK, SEEDS
from training.pipeline.local_search import LocalSearch

MODES = ("asynchronous", "rounds")
TRAIN_CHARS = 100_000


class RoundsSearch(LocalSearch):
    """The driver in rounds: ``parallel`` trials start together, and the next
    round waits until all of them have ended."""

    def run_trials(self, todo: list[int]) -> None:
        parallel = self.search.parallel
        for start in range(0, len(todo), parallel):
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                results = list(pool.map(self._run_trial, todo[start:start + parallel]))
            for result in results:
                self._report(result)


def unit(mode: str, seed: int, splits: Path, home: Path, quick: bool) -> dict:
    """One corpus, mode and seed, in this process (``--unit``)."""
    os.environ["TWEETBOT_HOME"] = str(home)
    import numpy as np

    from benchmarks.search_quality import run_search
    from training.core.records import trial_name
    from training.data.splits import TEST, split_path
    from training.data.vocab import Vocabulary
    from training.model.generator import TweetGenerator
    from training.model.scoring import stream_loss
    from training.pipeline import runner
    from training.pipeline.run_config import RunConfig
    from training.tuning.space import SearchSpace

    config = RunConfig.from_params(QUICK if quick else {})
    if quick:
        config = config.model_copy(update={"space": SearchSpace.load(
            Path(__file__).parents[1] / "training" / "search_space_cpu.yaml")})
    search_id = f"night-{seed}"
    fit = config.trial_fit.model_copy(update={"max_train_chars": TRAIN_CHARS})
    trials, chosen = run_search(search_id, splits, config.search, config.pruning, fit,
                                space=config.space, policy=config.policy,
                                driver=RoundsSearch if mode == "rounds" else None)
    result = {"trials": trials, "chosen": chosen["trial_num"], "test_loss": None}
    if chosen["trial_num"] is not None:
        vocab = Vocabulary.default()
        ids = vocab.byte_to_id[np.frombuffer(split_path(splits, TEST).read_bytes(), np.uint8)]
        model = TweetGenerator.from_checkpoint(
            runner.folder(search_id) / trial_name(chosen["trial_num"]))
        result["test_loss"] = stream_loss(model, ids)
    return result


def search_timing(result: dict, parallel: int) -> dict:
    """The search's wall-clock and slot use, from its trials' start and end, and
    the wall-clock its very trials would have taken in rounds and without
    (``scheduled``, from their measured seconds): two searches draw different
    trials, so only the same trials compare the schedules alone."""
    trials = sorted((t for t in result["trials"]
                     if t.get("started_at") is not None and t.get("finished_at") is not None),
                    key=lambda t: t["trial_num"])
    if not trials:
        return {"search_seconds": None, "slot_use": None}
    span = max(t["finished_at"] for t in trials) - min(t["started_at"] for t in trials)
    seconds = [t["seconds"] for t in trials]
    return {"search_seconds": span, "slot_use": sum(seconds) / (parallel * span),
            "same_trials_rounds_seconds": scheduled(seconds, parallel, rounds=True),
            "same_trials_asynchronous_seconds": scheduled(seconds, parallel, rounds=False)}


def scheduled(seconds: list[float], slots: int, rounds: bool) -> float:
    """Wall-clock of trials of these lengths, in this order, on ``slots``: in
    rounds (each as long as its longest trial), or each trial as a slot frees."""
    if rounds:
        return sum(max(seconds[i:i + slots]) for i in range(0, len(seconds), slots))
    free = [0.0] * slots
    for length in seconds:
        heapq.heappush(free, heapq.heappop(free) + length)
    return max(free)


def mode_row(results: list[dict], parallel: int) -> dict:
    seeds = [{"test_loss": r["test_loss"],
              "best_val_loss": min((t["val_loss"] for t in r["trials"]
                                    if t["val_loss"] is not None), default=None),
              "trial_epochs": sum(t["num_epochs"] for t in r["trials"]),
              "chosen": r.get("chosen"), **search_timing(r, parallel)} for r in results]
    losses = [s["test_loss"] for s in seeds if s["test_loss"] is not None]
    return {"seeds": seeds, "median_test_loss": median(losses) if losses else None}


def main() -> None:
    parser = unit_parser(__doc__)
    parser.add_argument("--corpora", type=Path, nargs="+", default=list(CORPORA),
                        help="raw tweet files (default: both shared corpora)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    args = parser.parse_args()
    if ran_unit(args, unit):
        return
    from training.pipeline.run_config import RunConfig

    parallel = RunConfig.from_params({}).search.parallel
    corpora = args.corpora[:1] if args.quick else args.corpora
    seeds = args.seeds[:1] if args.quick else args.seeds
    splits = {corpus.stem: make_splits(corpus, args.scratch / "splits" / corpus.stem,
                                       max_bytes=20_000 if args.quick else None)
              for corpus in corpora}
    units: dict[str, dict[str, list[dict]]] = {name: {mode: [] for mode in MODES}
                                              for name in splits}
    # Seed by seed across the corpora, so that a run stopped half-way holds whole pairs.
    for seed in seeds:
        for name, folder in splits.items():
            for mode in MODES:
                units[name][mode].append(run_unit(
                    "benchmarks.search_rounds", f"{name}-{mode}-{seed}",
                    [mode, str(seed), str(folder)], args.scratch, args.quick))
    emit({"parallel": parallel, "seeds": seeds, "train_chars": TRAIN_CHARS, "corpora": {
        name: {mode: mode_row(results, parallel) for mode, results in by_mode.items()}
        for name, by_mode in units.items()}})


if __name__ == "__main__":
    main()
