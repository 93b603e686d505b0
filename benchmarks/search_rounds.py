"""Rounds against no rounds: does the champion lose by suggesting each trial as it starts?

    .venv/bin/python -m benchmarks.search_rounds --scratch /tmp/bench [--corpora A B]

The DAG used to search in rounds: ``parallel`` trials suggested together, the
next round suggested when the round's slowest trial ended. Now a trial suggests
itself when a slot frees (``training.tuning.suggest.next_trial``). Section 9
measures the slots' use under Airflow; this section asks whether the champion
pays for it, with several seeds on both shared corpora, where Airflow is not
needed: the same search by ``training.search``'s driver, either way.

- **asynchronous**: the driver as it is (``search_peers``' ``nightly`` unit: the
  DAG's default parameters, its search id and so its sampler seed per seed).
- **rounds**: the same search, the driver waiting for every trial of a round of
  ``parallel`` before starting the next round, whose trials are suggested from
  the rounds before it (``RoundsSearch``).

Each search's winner is trained by the base model's rule and scored on the test
split (``search_peers.unit``). Per search: that test loss, the trial-epochs, the
search's wall-clock (first trial's start to last trial's end) and the driver's
slot use (trial seconds / (``parallel`` x that span)). The asynchronous units
are ``search_peers``' own: with the same ``--scratch`` either benchmark reuses
the other's.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import emit, make_splits, median, ran_unit, run_unit, unit_parser
from benchmarks.search_peers import CORPORA, SEEDS
from training.pipeline.local_search import LocalSearch

MODES = {"asynchronous": "nightly", "rounds": "rounds"}  # mode: search_peers variant


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


def unit(variant: str, seed: int, splits: Path, home: Path, quick: bool) -> dict:
    """The rounds unit: ``search_peers``' nightly unit with ``RoundsSearch``."""
    from benchmarks import search_peers

    return search_peers.unit(variant, seed, splits, home, quick,
                             search=functools.partial(search_peers.nightly,
                                                      driver=RoundsSearch))


def search_timing(result: dict, parallel: int) -> dict:
    """The search's wall-clock and slot use, from its trials' start and end."""
    trials = [t for t in result["trials"]
              if t.get("started_at") is not None and t.get("finished_at") is not None]
    if not trials:
        return {"search_seconds": None, "slot_use": None}
    span = max(t["finished_at"] for t in trials) - min(t["started_at"] for t in trials)
    return {"search_seconds": span,
            "slot_use": sum(t["seconds"] for t in trials) / (parallel * span)}


def mode_row(results: list[dict], parallel: int) -> dict:
    seeds = [{"test_loss": r["base"]["test_loss"] if "base" in r else None,
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
            for mode, variant in MODES.items():
                module = ("benchmarks.search_peers" if variant == "nightly"
                          else "benchmarks.search_rounds")
                units[name][mode].append(run_unit(
                    module, f"{name}-{variant}-{seed}", [variant, str(seed), str(folder)],
                    args.scratch, args.quick))
    emit({"parallel": parallel, "seeds": seeds, "corpora": {
        name: {mode: mode_row(results, parallel) for mode, results in by_mode.items()}
        for name, by_mode in units.items()}})


if __name__ == "__main__":
    main()
