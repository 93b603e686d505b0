"""The night's champion against its peers, on corpora the defaults were not tuned on.

    .venv/bin/python -m benchmarks.search_peers --scratch /tmp/bench [--corpora A B]

For each corpus (default: both shared corpora, each split by the project's own
splitter) and seed, four units, each in a fresh MLflow store and process:

- **tutorial**: the tutorial's hand-picked configuration (``train_cli.py``'s
  defaults: 1 x 512, embedding 64, batch 128 x seq 32, dropout 0.05, clip 5,
  RMSprop 0.001), no search.
- **nightly**: ``tweetbot_training``'s search with the DAG's default parameters
  (``RunConfig.from_params({})``: its space, trials, trials at once, epochs per
  trial, pruning and selection), as ``training.search`` runs it.
- **optuna**: the search a user would write instead (``benchmarks.optuna_search``:
  TPE with constant liar, multivariate, Hyperband), on the same space, splits,
  trials, trials at once, epochs per trial and stopping rule; its best trial wins.
- **random**: the tutorial's own search, random over the same space with no
  pruning: the yardstick of the cold search. Each search is scored by the
  trial-epochs it spent, in the order its trials finished, before a trial came
  within 2 % of the random search's best val_loss.

``--nightly NAME=PARAMS`` adds a nightly search with other run parameters (JSON,
over the DAG's defaults: ``--nightly before='{"floor": false}'``), so that a
default is chosen by measurement: its rows are "(b) nightly, NAME". One more key
is the benchmark's own, ``"shortlist": [K, EPOCHS]``: before the choice, the K
best trials that finished their epochs train on, from their last epoch, to
EPOCHS (the other way to give promising trials more than ASHA's rungs).

A/A: (a)'s models of each pair of seeds (one configuration, another random
initialisation), scored tweet by tweet on the test split and put through the
promotion gate at its defaults, as ``evaluate`` and the registry would.

Each search's winner, and the tutorial's configuration, is then trained by the
base model's rule (``RunConfig.base_model_fit``: early stopping, learning rate
halved on plateaus, ``final_epochs`` at most) and scored on the test split. A
search's cost is its trial-epochs and its trial-seconds (trial processes' wall
time: GPU-seconds, where trials run on GPUs). Units are kept as they finish, so
the benchmark, hours on 2 CPU cores, runs in parts (``benchmarks.common.run_unit``):
the units measured so far are kept in ``benchmarks/search_peers_units/``; copy them
into ``<scratch>/units/`` to continue. Both corpora hold seeds 1 to 3 of the four
variants above and of ``--nightly no_portfolio='{"portfolio": false}'`` (the
nightly search before the portfolio was its default); motivational also
``floor='{"portfolio": false, "floor": true}'``, ``asha='{"portfolio": false,
"floor": true, "trial_chars": 1700000, "max_epochs": 30, "pruning": "halving"}'`` and
``short='{"portfolio": false, "floor": true, "shortlist": [2, 9]}'``;
realdonaldtrump ``budget='{"portfolio": false, "trial_chars": 500000,
"max_epochs": 30}'``. The (b) nightly units are 3-epoch trials, which a
500,000-character budget also gives on motivational's train split.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

from benchmarks.common import REPO, emit, make_splits, median, ran_unit, run_unit, unit_parser

CORPORA = tuple(REPO.parent / "shared" / "data" / "tweets" / name
                for name in ("realdonaldtrump.txt", "motivational.txt"))
SEEDS = (1, 2, 3)
VARIANTS = ("tutorial", "nightly", "optuna", "random")
WITHIN = 0.02  # the cold search's target: within 2 % of the random search's best
# --quick: a search of 2 trials of 1 epoch, the base model at most 2 epochs, and
# the small space the demo uses (the default's largest models take minutes on a CPU).
QUICK = {"num_trials": 2, "max_epochs": 1, "final_epochs": 2}


def unit(variant: str, seed: int, splits: Path, home: Path, quick: bool) -> dict:
    """One corpus, variant and seed, in this process (``--unit``); ``variant``
    ``NAME=PARAMS`` is the nightly search with those run parameters."""
    os.environ["TWEETBOT_HOME"] = str(home)
    from training.core.config import HyperParams
    from training.pipeline.evaluation import evaluate
    from training.pipeline.run_config import RunConfig
    from training.tuning.space import SearchSpace
    from training.tuning.suggest import TUTORIAL

    variant, _, changed = variant.partition("=")
    params = {**(QUICK if quick else {}), **(json.loads(changed) if changed else {})}
    shortlist = params.pop("shortlist", None)
    config = RunConfig.from_params(params)
    if quick:
        config = config.model_copy(update={"space": SearchSpace.load(
            Path(__file__).parents[1] / "training" / "search_space_cpu.yaml")})
    result: dict = {"trials": []}
    if variant == "tutorial":
        chosen = TUTORIAL
    else:
        started = time.perf_counter()
        search = SEARCH.get(variant, nightly)
        if shortlist:
            search = functools.partial(nightly, before_select=functools.partial(
                train_on, splits=splits, best=shortlist[0], epochs=shortlist[1]))
        trials, picked = search(config, splits, home, seed)
        result |= {"trials": trials, "chosen": picked["trial_num"],
                   "search_seconds": time.perf_counter() - started}
        if picked["params"] is None:
            return result  # no trial succeeded: no champion
        chosen = HyperParams.from_mapping(picked["params"])
    from benchmarks.search_quality import base_model

    result["base"] = base_model(chosen, splits, home / "base", config.base_model_fit, evaluate)
    result["params"] = chosen.to_dict()
    return result


def nightly(config, splits: Path, home: Path, seed: int, before_select=None,
            **changes) -> tuple[list, dict]:
    from benchmarks.search_quality import run_search

    search = config.search.model_copy(update=changes.get("search", {}))
    pruning = config.pruning.model_copy(update=changes.get("pruning", {}))
    return run_search(f"night-{seed}", splits, search, pruning, config.trial_fit,
                      space=config.space, policy=config.policy, before_select=before_select)


def train_on(store, fit, *, splits: Path, best: int, epochs: int) -> dict[int, float]:
    """The ``best`` trials that trained all their epochs (not pruned, not stopped
    early), and the floor's trial if it did, train on from their last epoch to
    ``epochs``, in their own runs, one after the other; returns each one's seconds."""
    from training.core.config import TrainJob
    from training.core.records import OK, trial_name
    from training.pipeline import runner
    from training.pipeline.training_run import run_training
    from training.tracking import tags

    finished = [t for t in store.trials() if t.status == OK and t.num_epochs >= fit.num_epochs]
    ranked = sorted(finished, key=lambda t: t.val_loss)
    # The floor is always on the short list: its slow start is what 3 epochs misjudge.
    shortlist = ranked[:best] + [t for t in ranked[best:] if t.seeded == "tutorial"]
    spent = {}
    for trial in shortlist:
        started = time.perf_counter()
        run_training(TrainJob(data_dir=splits, hyperparams=trial.hyperparams, restore=True,
                              checkpoint_dir=runner.folder(store.search_id)
                              / trial_name(trial.trial_num),
                              fit=fit.model_copy(update={"num_epochs": epochs})),
                     run_id=trial.run_id, run_tags={tags.KIND: tags.TRIAL})
        spent[trial.trial_num] = time.perf_counter() - started
    return spent


def random_search(config, splits: Path, home: Path, seed: int) -> tuple[list, dict]:
    return nightly(config, splits, home, seed, search={"algorithm": "random"},
                   pruning={"pruning": "none", "prune_at_chance": False})


def optuna_peer(config, splits: Path, home: Path, seed: int) -> tuple[list, dict]:
    from benchmarks.optuna_search import OptunaSearch
    from training.pipeline.local_search import measure_splits

    search = config.search
    sizes = measure_splits(str(splits), config.space, config.trial_fit)
    # The same trials as the nightly search's: its budget spent on this split.
    fit = config.trial_fit.for_train_split(sizes["train"])
    return OptunaSearch(splits, home / "optuna", config.space, fit,
                        search.num_trials, search.parallel, seed, split_bytes=sizes,
                        n_startup_trials=search.n_startup_jobs).run()


SEARCH = {"nightly": nightly, "optuna": optuna_peer, "random": random_search}


def epochs_to_reach(trials: list[dict], target: float) -> int | None:
    """Trial-epochs spent, in the order the trials finished, until one's val_loss
    was at or below ``target``; None if none got there."""
    spent = 0
    for trial in sorted(trials, key=lambda t: t.get("finished_at") or t["trial_num"]):
        spent += trial["num_epochs"]
        if trial["val_loss"] is not None and trial["val_loss"] <= target:
            return spent
    return None


def corpus_rows(units: dict[str, list[dict]]) -> dict:
    """Per variant: the champion's test loss per seed and the search's cost."""
    rows = {}
    for variant, results in units.items():
        seeds = [{"test_loss": r["base"]["test_loss"] if "base" in r else None,
                  "base_epochs": r["base"]["epochs"] if "base" in r else None,
                  "trial_epochs": sum(t["num_epochs"] for t in r["trials"]),
                  "trial_seconds": sum(t.get("seconds") or 0.0 for t in r["trials"]),
                  "failed": sum(t["status"] == "failed" for t in r["trials"])}
                 for r in results]
        losses = [s["test_loss"] for s in seeds if s["test_loss"] is not None]
        rows[variant] = {"seeds": seeds,
                         "median_test_loss": median(losses) if losses else None}
    # Each search's champion against (a) of the same seed: how far below it is.
    for position, tutorial in enumerate(rows.get("tutorial", {}).get("seeds", [])):
        for variant in [name for name in rows if name != "tutorial"]:
            seed = rows[variant]["seeds"][position]
            if None not in (seed["test_loss"], tutorial["test_loss"]):
                seed["below_tutorial"] = 1 - seed["test_loss"] / tutorial["test_loss"]
    for position, random in enumerate(units.get("random", [])):
        best = min((t["val_loss"] for t in random["trials"] if t["val_loss"] is not None),
                   default=None)
        for variant in [name for name in units if name != "tutorial"]:
            trials = units[variant][position]["trials"]
            rows[variant]["seeds"][position]["epochs_to_random_best"] = (
                None if best is None else epochs_to_reach(trials, best * (1 + WITHIN)))
    return rows


def same_configuration_pairs(scratch: Path, name: str, splits: Path) -> list[dict]:
    """A/A, end to end: the tutorial units' models (one configuration, trained by
    the base model's rule, each from its own random initialisation) scored tweet by
    tweet on the test split as ``evaluate`` scores them, and each ordered pair put
    through the promotion gate at its defaults, the later seed as the new version."""
    from itertools import combinations

    import numpy as np

    from training.core.config import PROMOTION_MARGIN
    from training.data.vocab import Vocabulary
    from training.model.checkpoints import BEST_FILENAME
    from training.model.comparison import paired_gain
    from training.model.generator import TweetGenerator
    from training.model.scoring import stream_score
    from training.tracking.registry import BOUND, beats

    models = {int(folder.parents[1].name.rsplit("-", 1)[1]): folder
              for folder in sorted((scratch / "homes").glob(f"{name}-tutorial-*/base/base"))
              if (folder / BEST_FILENAME).is_file()}
    vocab = Vocabulary.default()
    ids = vocab.byte_to_id[np.frombuffer((splits / "test.txt").read_bytes(), np.uint8)]
    scores = {seed: stream_score(TweetGenerator.from_checkpoint(folder), ids)
              for seed, folder in models.items()}
    pairs = []
    for champion, new in combinations(sorted(scores), 2):
        gain = paired_gain(scores[new].tweet_nats, scores[champion].tweet_nats)
        pairs.append({"champion": champion, "new": new, "champion_loss": scores[champion].loss,
                      "new_loss": scores[new].loss, "gain": gain.point,
                      "lower_bound": gain.lower_bound, "units": gain.units,
                      "promoted": beats(scores[new].loss, scores[champion].loss,
                                        PROMOTION_MARGIN, gain.lower_bound, BOUND)})
    return pairs


def main() -> None:
    parser = unit_parser(__doc__)
    parser.add_argument("--corpora", type=Path, nargs="+", default=list(CORPORA),
                        help="raw tweet files (default: both shared corpora)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--nightly", nargs="*", default=[], metavar="NAME=PARAMS",
                        help="more nightly searches, each with these run parameters (JSON)")
    parser.add_argument("--variants", nargs="+", metavar="NAME", help=(
        "run only these, in this order (default: all, those of --nightly last); without "
        "random, no trial-epochs to reach its best"))
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.nightly)
    variants = args.variants or [*VARIANTS, *extra]
    if unknown := set(variants) - {*VARIANTS, *extra}:
        parser.error(f"--variants: no variant {', '.join(sorted(unknown))}")
    if ran_unit(args, unit):
        return
    corpora = {}
    for corpus in args.corpora[:1] if args.quick else args.corpora:
        name = corpus.stem
        splits = make_splits(corpus, args.scratch / "splits" / name,
                             max_bytes=20_000 if args.quick else None)
        seeds = args.seeds[:1] if args.quick else args.seeds
        # Seed by seed, so that a run stopped half-way holds every variant of a seed.
        by_seed = [{variant: run_unit(
            "benchmarks.search_peers", f"{name}-{variant}-{seed}",
            [f"{variant}={extra[variant]}" if variant in extra else variant, str(seed),
             str(splits)], args.scratch, args.quick) for variant in variants}
            for seed in seeds]
        units = {variant: [results[variant] for results in by_seed]
                 for variant in by_seed[0]}
        corpora[name] = {"seeds": seeds, "train_bytes": (splits / "train.txt").stat().st_size,
                         "rows": corpus_rows(units), "units": units,
                         "same_configuration": same_configuration_pairs(args.scratch, name,
                                                                        splits)}
    emit({"within": WITHIN, "nightly_variants": extra, "corpora": corpora})


if __name__ == "__main__":
    main()
