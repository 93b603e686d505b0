"""Run every benchmark section and write ``benchmarks/RESULTS.md``.

    make bench                      # all sections, 3 repeats each
    .venv/bin/python -m benchmarks.run --quick --output /tmp/RESULTS.md   # smoke run

Each section runs in its own process (see ``benchmarks.common``) and prints one
JSON object; this module runs them one after the other, so no two compete for
the cores, and renders the tables. Every comparison is side by side in one
run, the median of ``--repeats`` repeats, reported as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, default_corpus

SECTIONS = ("data_path", "training_speed", "evaluation", "orchestration", "search_cost",
            "search_quality", "slot_use", "search_rounds", "search_peers")
# slot_use starts the whole stack three times (about an hour), search_rounds and
# search_peers run 12 and 24 searches and models (hours): each runs when asked
# for, `--sections slot_use`.
DEFAULT_SECTIONS = SECTIONS[:-3]
# The round-based search (before the DAG's trials were suggested as they start),
# measured once by benchmarks.slot_use at its last commit: that code is gone.
ROUNDS = REPO / "benchmarks" / "slot_use_rounds.json"
# Written on the GPU machine by benchmarks/gpu_check.py (no TensorFlow there).
GPU_CHECK = REPO / "benchmarks" / "gpu_check.json"


def run_section(name: str, args, scratch: Path) -> dict:
    command = [sys.executable, "-m", f"benchmarks.{name}", "--scratch",
               str(scratch / name), "--repeats", str(args.repeats)]
    if args.corpus:
        command += ["--corpus", str(args.corpus)]
    if args.quick:
        command.append("--quick")
    print(f"== {name}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True,
                              check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    result["section_seconds"] = time.perf_counter() - started
    return result


def machine() -> list[str]:
    import tensorflow as tf

    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpus = tf.config.list_physical_devices("GPU")
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory:.0f} GiB; "
        f"GPU: {', '.join(g.name for g in gpus) if gpus else 'none'}",
        f"- Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {__import__('keras').__version__}, NumPy {__import__('numpy').__version__}; "
        f"{platform.platform()}",
    ]


def _n(value: float) -> str:
    return f"{value:,.0f}"


def render(results: dict, args) -> str:
    data, train, evaluation, orchestration, search, quality, slots, rounds, peers = (
        results.get(name) for name in SECTIONS)
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m benchmarks.run`) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f"{' in --quick mode: sizes too small to mean anything' if args.quick else ''}. "
        f"Medians of {args.repeats} repeats, each comparison side by side in one run; "
        f"corpus: {args.corpus or 'the generated sample'}.",
        "",
        "## Machine",
        "",
        *(results.get("machine") or machine()),
        "",
    ]
    if data:
        lines += [
            "## 1. Data path: ready batches, no training",
            "",
            f"Batch {data['batch_size']} x seq_len {data['seq_len']}, a whole epoch of "
            f"a {data['train_bytes'] / 1e6:.0f} MB train split, one core.",
            "",
            "| pipeline | characters/s |",
            "| --- | ---: |",
            f"| tutorial `io_batch_generator` (one-hot labels) | "
            f"{_n(data['tutorial_chars_per_second'])} |",
            f"| ours `StatefulBatches` | {_n(data['ours_chars_per_second'])} |",
            f"| **ours / tutorial** | **{data['ratio']:.0f}x** |",
            "",
            "## 5. Memory and counting steps",
            "",
            "| pipeline | split | peak RSS rise over an epoch | epoch seconds | "
            "characters/s |",
            "| --- | ---: | ---: | ---: | ---: |",
            *(f"| {m['pipeline']} | {m['file_bytes'] / 1e6:,.0f} MB | "
              f"{m['rss_rise_mib']:.1f} MiB | "
              f"{m['epoch_seconds']:.1f} | {_n(m['chars_per_second'])} |"
              for m in data["memory"]),
            "",
            "| split | steps per epoch counted by | seconds |",
            "| ---: | --- | ---: |",
            *(f"| {c['file_bytes'] / 1e6:,.0f} MB | "
              f"{'ours (file size)' if 'ours_seconds' in c else 'tutorial (reads the epoch)'}"
              f" | {c.get('ours_seconds', c.get('tutorial_seconds')):.6f} |"
              for c in data["counting"]),
            "",
        ]
    if train:
        lines += [
            "## 2. Training throughput and 3. the machine's limit",
            "",
            "Training characters per wall second of whole epochs after the first "
            "(training, validation, checkpoint, logging), "
            f"{train['epochs']} epochs per run. Ceiling: the fp32 matmul rate at the "
            "LSTM's shapes divided by the training FLOPs per character.",
            "",
            "| config | FLOPs/char | matmul GFLOP/s | ceiling chars/s | tutorial chars/s "
            "| ours chars/s | ours / tutorial | tutorial / ceiling | ours / ceiling |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *(f"| {r['config']} | {r['flops_per_char'] / 1e6:.2f} M | "
              f"{r['matmul_gflops']:.0f} | {_n(r['ceiling_chars_per_second'])} | "
              f"{_n(r['tutorial_chars_per_second'])} | {_n(r['ours_chars_per_second'])} | "
              f"**{r['ratio']:.2f}x** | {r['tutorial_fraction_of_ceiling']:.0%} | "
              f"**{r['ours_fraction_of_ceiling']:.0%}** |" for r in train["configs"]),
            "",
            *model_only_lines(train["configs"]),
        ]
    if evaluation:
        e = evaluation
        lines += [
            "## 4. Evaluation and generation",
            "",
            f"Test split: {e['test_chars']:,} characters, 1 x {e['rnn_size']} model.",
            "",
            "| scoring | characters/s | test loss |",
            "| --- | ---: | ---: |",
            f"| one stream, batch 1 | {_n(e['one_stream_chars_per_second'])} | "
            f"{e['one_stream_loss']:.5f} |",
            f"| side by side ({e['pieces']} pieces, {e['warmup_chars']} warm-up "
            f"characters, {e['pieces_rescored']} scored again from the true state) | "
            f"{_n(e['side_by_side_chars_per_second'])} | "
            f"{e['side_by_side_loss']:.5f} |",
            f"| **side by side / one stream** | **{e['ratio']:.1f}x** | relative difference "
            f"{e['relative_loss_difference']:.1e} |",
            "",
            f"Generating 100 tweets: {e['generate_100_seconds']:.2f} s "
            f"({e['generated_chars']:,} characters).",
            "",
            *gate_lines(e.get("gate")),
        ]
    if orchestration:
        lines += orchestration_lines(orchestration)
    if search:
        lines += search_cost_lines(search)
    if quality:
        lines += search_quality_lines(quality)
    if slots:
        lines += slot_use_lines(slots, json.loads(ROUNDS.read_text())
                                if ROUNDS.is_file() else None)
    if rounds:
        lines += search_rounds_lines(rounds)
    if peers:
        lines += search_peers_lines(peers)
    lines += gpu_lines(json.loads(GPU_CHECK.read_text()) if GPU_CHECK.is_file() else None)
    raw = args.output.with_suffix(".json").name
    lines += [f"Raw results, with when each section ran: `{raw}`.", ""]
    return "\n".join(lines)


def gate_lines(gate: dict | None) -> list[str]:
    """Section 4, continued: the promotion gate's bound and what it costs."""
    if not gate:
        return []
    bound = (f"{gate['lower_bound']:.2%}" if gate["lower_bound"] is not None
             else "none (too few tweets)")
    return [
        "The promotion gate on this test split: the model after its second epoch against "
        f"itself after its first (test loss {gate['new_loss']:.4f} against "
        f"{gate['champion_loss']:.4f}): gain {gate['gain']:.2%}, 95 % lower bound {bound}, "
        f"over {gate['units']:,} tweets, {gate['resamples']:,} paired resamples. The "
        f"bootstrap took {gate['bootstrap_seconds']:.3f} s, "
        f"{gate['bootstrap_fraction']:.2%} of scoring both models "
        f"({gate['scoring_seconds']:.1f} s; target under 2 %).",
        "",
    ]


def model_only_lines(configs: list[dict]) -> list[str]:
    """Where the time goes: the loop around the model, or the model's own step."""
    if not all("model_only_chars_per_second" in r for r in configs):
        return []  # results from before the model-only measurement
    return [
        "The model's own step (the same Keras model's `train_on_batch` again and again on "
        "one batch in memory: no data path, validation or callbacks) against the whole "
        "loop and the ceiling:",
        "",
        "| config | model-only chars/s | ours / model-only | model-only / ceiling |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {r['config']} | {_n(r['model_only_chars_per_second'])} | "
          f"{r['ours_fraction_of_model_only']:.0%} | "
          f"{r['model_only_fraction_of_ceiling']:.0%} |" for r in configs),
        "",
    ]


def orchestration_lines(o: dict) -> list[str]:
    runs = o["runs"]
    start = o["start_up_seconds"]
    tasks = sorted({name for run in runs for name in run["task_seconds"]})
    return [
        "## 6. Orchestration overhead",
        "",
        f"`tweetbot_training` by `airflow dags test` (SQLite, every step a local "
        f"process), one-epoch trials and base model of one small model on a "
        f"{o['train_bytes'] / 1e3:,.0f} kB train split. Training: the epochs' own time "
        "(training and validation) in MLflow; overhead: the rest of the DAG run.",
        "",
        "| trials | DAG run s | training s | overhead s | overhead | per trial s "
        "| rest of the run s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {r['num_trials']} | {r['dag_run_seconds']:.1f} | {r['training_seconds']:.1f} "
          f"| {r['overhead_seconds']:.1f} | {r['overhead_fraction']:.0%} | "
          f"{r['per_trial_overhead_seconds']:.1f} | {r['fixed_overhead_seconds']:.1f} |"
          for r in runs),
        "",
        "Seconds per task (a trial: the mean of one):",
        "",
        "| task | " + " | ".join(f"{r['num_trials']} trials" for r in runs) + " |",
        "| --- | " + " | ".join("---:" for _ in runs) + " |",
        *("| " + name + " | " + " | ".join(
            f"{r['task_seconds'].get(name, 0.0):.1f}" for r in runs) + " |" for name in tasks),
        "",
        "A trial process's start-up, fresh processes, medians:",
        "",
        "| part | seconds |",
        "| --- | ---: |",
        *(f"| {name} | {value:.2f} |" for name, value in start.items()),
        f"| the rest of a trial task (Airflow's task start, MLflow lookups and logging, "
        f"model build and tracing, checkpoints) | {o['trial_rest_seconds']:.2f} |",
        "",
        f"Projected for trials that train {o['projected_trial_seconds']:.0f} s each "
        "(the measured per-trial and fixed overheads): " + ", ".join(
            f"{n} trials **{fraction:.1%}**"
            for n, fraction in o["projected_overhead_fraction"].items()) +
        " of the run (target < 10 %); it is 10 % for trials of " + ", ".join(
            f"{seconds:.0f} s ({n} trials)"
            for n, seconds in o["trial_seconds_for_ten_percent"].items()) + ".",
        "",
    ]


def search_cost_lines(c: dict) -> list[str]:
    def epochs(value):
        return "not reached" if value is None else str(value)

    def ratio(value):
        return "-" if value is None else f"**{value:.1f}x**"

    def budget_ratio(name):
        """The tutorial-style search knows its best only once all its trials ran:
        its whole budget against what ours spent to reach that best + 2 %."""
        ratios = [r["tutorial_epochs_spent"] / r[f"{name}_epochs_to_target"]
                  for r in c["seeds"] if r[f"{name}_epochs_to_target"]]
        return statistics.median(ratios) if len(ratios) == len(c["seeds"]) else None

    return [
        "## 7. Search cost",
        "",
        f"CPU search space, {c['num_trials']} trials of at most {c['num_epochs']} epochs, "
        f"{c['train_bytes'] / 1e3:,.0f} kB train and {c['validate_bytes'] / 1e3:,.0f} kB "
        f"validate splits. Target: the tutorial-style search's best val_loss + "
        f"{c['within']:.0%}; trial-epochs spent in trial order until a trial reached it.",
        "",
        "| seed | target | tutorial-style best | epochs to target | ours cold best "
        "| epochs to target | ours warm best | epochs to target |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {r['seed']} | {r['target']:.4f} | {r['tutorial_best']:.4f} | "
          f"{epochs(r['tutorial_epochs_to_target'])} of {r['tutorial_epochs_spent']} | "
          f"{r['ours_cold_best']:.4f} | {epochs(r['ours_cold_epochs_to_target'])} of "
          f"{r['ours_cold_epochs_spent']} | {r['ours_warm_best']:.4f} | "
          f"{epochs(r['ours_warm_epochs_to_target'])} of {r['ours_warm_epochs_spent']} |"
          for r in c["seeds"]),
        "",
        "Fewer trial-epochs than the tutorial-style search (median over seeds), counting "
        f"each until it first reached the target: ours cold {ratio(c['ours_cold_ratio'])}, "
        f"ours warm {ratio(c['ours_warm_ratio'])}; counting the tutorial-style search's "
        "whole budget, which it must spend to know its best: ours cold "
        f"{ratio(budget_ratio('ours_cold'))}, ours warm {ratio(budget_ratio('ours_warm'))} "
        f"(warm: seeded from an earlier night's search, best val_loss "
        f"{c['previous_night_best']:.4f} on other data). Target >= 2x.",
        "",
        f"Trials on the first {c['subset_chars'] / 1e3:,.0f} kB of the train split "
        "(`--max-train-chars`), the same configurations as the tutorial-style search:",
        "",
        "| seed | configurations | Spearman vs full data | same best | epoch seconds "
        "full | subset |",
        "| ---: | ---: | ---: | --- | ---: | ---: |",
        *(f"| {r['seed']} | {r['subset']['configurations']} | "
          f"{r['subset']['spearman']:.2f} | {'yes' if r['subset']['best_is_best'] else 'no'} "
          f"| {r['subset']['epoch_seconds_full']:.1f} | "
          f"{r['subset']['epoch_seconds_subset']:.1f} |" for r in c["seeds"]),
        "",
    ]


def search_quality_lines(q: dict) -> list[str]:
    def loss(value):
        return "-" if value is None else f"{value:.4f}"

    def cells(row):
        return " | ".join(
            f"{loss(s['test_loss'])} ({s['trial_epochs']})" for s in row["seeds"])

    names = {"today": "today (before the change)", "feasible": "+ nothing longer than a split",
             "learning_rates": "+ a learning rate per optimizer",
             "chance_pruning": "+ chance rule", "seed": "+ seed from the search id",
             "converged_base": "+ base model to convergence",
             "all": "**all together (the DAG now)**",
             "tutorial_defaults": "tutorial's default hyper-parameters, no search"}
    rows = {r["name"]: r for r in q["rows"]}
    lines = [
        "## 8. Search quality",
        "",
        f"The nightly default on the shared corpus's splits: {q['num_trials']} trials of at "
        f"most {q['max_epochs']} epochs, 2 at a time, then the chosen parameters trained as "
        "the base model and scored on the test split. Per seed: the champion's test loss "
        "(nats per character) and, in brackets, the trial-epochs its search spent.",
        "",
        "| variant | " + " | ".join(f"seed {seed}" for seed in q["seeds"]) +
        " | median test loss | failed trials | trials at chance | base epochs |",
        "| --- | " + " | ".join("---:" for _ in q["seeds"]) + " | ---: | ---: | ---: | ---: |",
    ]
    for name, row in rows.items():
        seeds = row["seeds"]
        base_epochs = "/".join(str(s["base_epochs"]) for s in seeds)
        failed = sum(s["failed"] for s in seeds)
        chance = sum(s["at_chance"] for s in seeds)
        lines.append(f"| {names.get(name, name)} | {cells(row)} | "
                     f"{loss(row['median_test_loss'])} | {failed} | {chance} | "
                     f"{base_epochs} |")
    target = rows["tutorial_defaults"]["median_test_loss"]
    ours = rows["all"]["median_test_loss"]
    if target and ours:
        lines += ["", f"All together against the tutorial's defaults, trained with the same "
                      f"stopping rule and cap: **{1 - ours / target:.1%} lower** test loss "
                      f"(target: at least 25 %)."]
    below = [(s["base_best_val_loss"], s["best_trial_val_loss"]) for s in rows["all"]["seeds"]
             if s["base_best_val_loss"] is not None and s["best_trial_val_loss"] is not None]
    if below:
        lines += ["", "The converged base model's best val_loss against its search's best "
                      "trial: " + ", ".join(f"{b:.4f} vs {t:.4f}" for b, t in below) + "."]
    return [*lines, ""]


def slot_use_lines(now: dict, rounds: dict | None) -> list[str]:
    """Section 9: the search's slots under the real scheduler, beside the rounds'."""
    before = {c["case"]: c for c in rounds["cases"]} if rounds else {}
    names = {"local": "LocalExecutor", "celery": "CeleryExecutor, a GPU worker per slot"}

    def pair(case: dict, key: str, form: str) -> str:
        """The rounds' value and today's, as two cells."""
        old = before.get(case["case"], {}).get(key)
        return f"{format(old, form) if old is not None else '-'} | {format(case[key], form)}"

    lines = [
        "## 9. Slot use of the search",
        "",
        f"`tweetbot_training` on the project's stack (`benchmarks.slot_use`): "
        f"{now['num_trials']} trials of the default space, at most {now['max_epochs']} "
        f"epochs each, pruning on, no warm start, the base model capped at "
        f"{now['final_epochs']} epochs; the `tweetbot_trials` pool at `parallel` slots; "
        f"{now['train_bytes'] / 1e3:,.0f} kB train split. Slot use = trial task seconds / "
        "(slots x (last trial end - first trial start)), from Airflow's task instances. "
        "Before: the search in rounds (`suggest_r*`, `trial_r*`), measured at "
        f"{rounds['code'] if rounds else '-'}; now: one trial task per trial, each "
        "suggested as it starts. The same run id, so the same sampler seed.",
        "",
        "| executor | parallel | slot use, rounds | slot use, now | search s, rounds | "
        "search s, now | champion test loss, rounds | champion test loss, now |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {names[c['executor']]} | {c['parallel']} | {pair(c, 'slot_use', '.3f')} | "
          f"{pair(c, 'search_wall_seconds', '.0f')} | {pair(c, 'test_loss', '.4f')} |"
          for c in now["cases"]),
        "",
        "What a trial costs beside its training: the seconds from its task's start to its "
        "first epoch's start (median over the trials; the suggestion is in it now), and the "
        "`suggest_r*` tasks' seconds, which no trial ran during (none now).",
        "",
        "| executor | parallel | to first epoch s, rounds | to first epoch s, now | "
        "suggest tasks s, rounds | suggest tasks s, now | trial task s, rounds | "
        "trial task s, now |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {names[c['executor']]} | {c['parallel']} | "
          f"{pair(c, 'to_first_epoch_seconds', '.1f')} | "
          f"{pair(c, 'suggest_task_seconds', '.1f')} | "
          f"{pair(c, 'trial_task_seconds', '.0f')} |" for c in now["cases"]),
        "",
        "One search per case, so one draw of the sampler: which points a search draws "
        "decides its champion's test loss and how long its trials take (the trial task "
        "seconds), and so part of its wall-clock. Slot use does not depend on the draw; "
        "the champion's loss needs several seeds to compare: the next table has them.",
    ]
    cached = now.get("login_cache")
    if cached:
        lines += [
            "",
            "The suggestion's own cost was MLflow logins: each authenticated call to the "
            "server checked the password (scrypt, about 0.2 s on these cores), and a trial "
            "makes a dozen before its first epoch. With the server's login cache on "
            f"({cached['code']}), LocalExecutor, parallel "
            f"{cached['parallel']}: to first epoch {cached['to_first_epoch_seconds']:.1f} s "
            f"(median; at most {cached['to_first_epoch_max_seconds']:.1f} s), slot use "
            f"{cached['slot_use']:.3f}, search {cached['search_wall_seconds']:.0f} s.",
        ]
    return [*lines, ""]


OTHER_WAY = {"asynchronous": "same_trials_rounds_seconds",
             "rounds": "same_trials_asynchronous_seconds"}


def search_rounds_lines(rounds: dict) -> list[str]:
    """Section 9, continued: the search's choice in rounds and without, over seeds."""
    lines = [
        "### Rounds against no rounds, over seeds and corpora",
        "",
        "`benchmarks.search_rounds`: the nightly default search (the DAG's default "
        f"parameters, {rounds['parallel']} trials at a time) by `training.search`'s driver, "
        "in rounds (a round's trials start together and the next round waits for its "
        "slowest) and as now (a trial starts, and suggests itself, as soon as a slot "
        "frees); the same search id, so the same sampler seed; trials on the first "
        f"{rounds['train_chars']:,} characters of the train split. Chosen: the trial the "
        "selection policy picks, its own best epoch scored on the whole test split. Values "
        f"per seed ({', '.join(map(str, rounds['seeds']))}); wall-clock and slot use are "
        "the driver's, from its trial processes' start and end. Two searches draw "
        "different trials, so their wall-clocks differ by their trials' lengths too: "
        "'the other way' is the wall-clock the same trials, of the lengths measured, "
        "would have taken in the other schedule.",
        "",
        "| corpus | search | chosen trial's test loss | median | best val_loss | "
        "trial-epochs | search s | the other way s | slot use |",
        "| --- | --- | --- | ---: | --- | --- | --- | --- | --- |",
    ]
    for name, modes in rounds["corpora"].items():
        lines += [f"| {name} | {mode} | {_per_seed(row, 'test_loss', '.4f')} | "
                  f"{_maybe(row['median_test_loss'], '.4f')} | "
                  f"{_per_seed(row, 'best_val_loss', '.4f')} | "
                  f"{_per_seed(row, 'trial_epochs', 'd')} | "
                  f"{_per_seed(row, 'search_seconds', '.0f')} | "
                  f"{_per_seed(row, OTHER_WAY[mode], '.0f')} | "
                  f"{_per_seed(row, 'slot_use', '.2f')} |" for mode, row in modes.items()]
    return [*lines, ""]


PEERS = {"tutorial": "(a) the tutorial's configuration", "nightly": "(b) the nightly search",
         "optuna": "(c) Optuna", "random": "random search (the tutorial's)"}


def search_peers_lines(peers: dict) -> list[str]:
    """Section 10: the night's champion against the tutorial's model and Optuna."""
    lines = [
        "## 10. The night's champion against its peers",
        "",
        "`benchmarks.search_peers`: per corpus and seed, (a) the tutorial's hand-picked "
        "configuration, (b) `tweetbot_training`'s search with its default parameters, "
        "(c) Optuna (TPE with constant liar, multivariate; Hyperband) on the same space, "
        "splits, trials and epochs per trial, and the tutorial's random search; each "
        "search's winner and (a) trained by the base model's rule and scored on the test "
        "split. Trial-epochs to reach: the trial-epochs a search spent, in the order its "
        f"trials finished, before one came within {peers['within']:.0%} of the random "
        "search's best val_loss.",
        "",
        *(f"- (b) nightly, {name}: the run parameters `{params}` over the defaults"
          for name, params in peers.get("nightly_variants", {}).items()),
        "",
        *(line for remark in peers.get("remarks", []) for line in (remark, "")),
    ]
    for name, corpus in peers["corpora"].items():
        rows, seeds = corpus["rows"], corpus["seeds"]

        lines += [
            f"**{name}** ({corpus['train_bytes'] / 1e3:,.0f} kB train split; seeds "
            f"{', '.join(map(str, seeds))}; values per seed)",
            "",
            "| | champion test loss | median | below (a) | trial-epochs | trial-seconds | "
            "trial-epochs to reach |",
            "| --- | --- | ---: | --- | --- | --- | --- |",
            *(f"| {PEERS.get(v, f'(b) nightly, {v}')} | "
              f"{_per_seed(rows[v], 'test_loss', '.4f')} | "
              f"{_maybe(rows[v]['median_test_loss'], '.4f')} | "
              f"{_per_seed(rows[v], 'below_tutorial', '.1%') if v != 'tutorial' else '-'} | "
              f"{_per_seed(rows[v], 'trial_epochs', 'd') if v != 'tutorial' else '-'} | "
              f"{_per_seed(rows[v], 'trial_seconds', '.0f') if v != 'tutorial' else '-'} | "
              f"{_per_seed(rows[v], 'epochs_to_random_best', 'd') if v != 'tutorial' else '-'}"
              " |" for v in sorted(rows, key=lambda v: (v not in PEERS, [*PEERS, v].index(v)))),
            "",
        ]
        if corpus.get("same_configuration"):
            lines += ["A/A through the promotion gate: (a)'s models of two seeds, the later "
                      "as the new version: " + "; ".join(
                          f"seed {pair['new']} against {pair['champion']}: "
                          f"{pair['new_loss']:.4f} against {pair['champion_loss']:.4f}, gain "
                          f"{pair['gain']:.2%}, lower bound {_maybe(pair['lower_bound'], '.2%')}"
                          f" over {pair['units']} tweets: "
                          f"{'promoted' if pair['promoted'] else 'refused'}"
                          for pair in corpus["same_configuration"]) + ".", ""]
    return lines


def gpu_lines(check: dict | None) -> list[str]:
    lines = ["## 11. The GPU path", "",
             "`benchmarks/gpu_check.py` on the GPU machine lent for checks: training characters "
             "per second of the project's model under Keras' JAX backend, beside PyTorch's "
             "`nn.LSTM` (cuDNN) with the same layers, loss and optimizer, one batch of random "
             "ids, after warm-up.", ""]
    if check is None:
        return lines + ["Not measured yet: no GPU machine has been lent to this project's "
                        "sessions since the check was written. CPU figures: sections 2 "
                        "and 3.", ""]
    lines += [f"{check['device']}, Python {check['python']}; {check['steps']} steps after "
              f"{check['warmup']}; measured {check['measured_at']}.", "",
              "| shape | ours (JAX) chars/s | PyTorch cuDNN chars/s | PyTorch / ours |",
              "| --- | ---: | ---: | ---: |"]
    for row in check["rows"]:
        torch = row.get("pytorch")
        lines.append(
            f"| {row['shape']}: 1 x {row['rnn_size']}, batch {row['batch_size']} x seq "
            f"{row['seq_len']} | {_n(row['ours']['chars_per_second'])} | "
            f"{_n(torch['chars_per_second']) if torch else '-'} | "
            f"{format(row['ratio'], '.2f') + 'x' if 'ratio' in row else '-'} |")
    return lines + [""]


def _per_seed(row: dict, key: str, form: str) -> str:
    return " / ".join(_maybe(seed.get(key), form) for seed in row["seeds"])


def _maybe(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument("--sections", nargs="*", choices=SECTIONS,
                        default=list(DEFAULT_SECTIONS),
                        help="run only these; the others keep their last results (none: "
                             "only write RESULTS.md again from RESULTS.json; slot_use and "
                             "search_peers run only when named)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one config: checks the benchmarks run")
    parser.add_argument("--scratch", type=Path, default=None,
                        help="keep the sections' work here (default: a temporary folder); "
                             "search_quality keeps each finished search there, so a run "
                             "stopped half-way continues where it stopped")
    args = parser.parse_args(argv)
    raw = args.output.with_suffix(".json")
    # Running some sections keeps the others' last results (each says when it ran).
    results = json.loads(raw.read_text()) if raw.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="tweetbot-bench-") as temporary:
        scratch = args.scratch or Path(temporary)
        for name in args.sections:
            results[name] = run_section(name, args, scratch)
            results[name]["ran_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        # Only re-writing RESULTS.md (or merging units run elsewhere) keeps the
        # machine the numbers were measured on, not the one that wrote the page.
        if args.sections:
            results["machine"] = machine()
    raw.write_text(json.dumps(results, indent=1) + "\n")
    args.output.write_text(render(results, args))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
