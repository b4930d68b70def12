"""The throughput that `spikelib.cost` assumes, measured from finished runs.

Reads every finished spiking run under a results folder (default
results/book) and prints, by embedding size, the median training and
evaluation examples per second of one worker over the epochs after the
first (which also compiles), and the median seconds the first epoch spent
beyond a later one (start-up: compiling).  These are the rates of workers
that shared the machine as the runs did (the runner: one single-threaded
worker per core), the figures `spikelib.cost` is calibrated from.  Also
prints the plan's estimated wall time (the cost model's upper bound) beside
the training time the runs took, per worker.

Usage: `python benchmarks/cost_rates.py [RESULTS_ROOT]`.
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from spikelib.runs import SPLIT_SIZES, Run


def _count(config, split):
    count = config["data"][f"{split}_examples"]
    return SPLIT_SIZES[split] if count is None else count


def measured(root):
    """{n_hidden: (train ex/s, eval ex/s, start-up s, runs)} of the spiking runs in `root`."""
    train, evaluation, startup = defaultdict(list), defaultdict(list), defaultdict(list)
    for path in sorted(Path(root).glob("runs/sae-*/results.json")):
        results = json.loads(path.read_text())
        config, history = results["config"], results["history"]
        n_hidden = config["network"]["n_hidden"]
        examples = _count(config, "train")
        evaluated = _count(config, "validation") + _count(config, "test")
        for record in history[1:]:
            train[n_hidden].append(examples / record["train_seconds"])
            evaluation[n_hidden].append(evaluated / record["evaluation_seconds"])
        if len(history) > 1:
            first, later = history[0], history[1]
            startup[n_hidden].append(first["train_seconds"] + first["evaluation_seconds"]
                                     - later["train_seconds"] - later["evaluation_seconds"])
    return {size: (statistics.median(train[size]), statistics.median(evaluation[size]),
                   statistics.median(startup[size]) if startup[size] else float("nan"),
                   len(startup[size]))
            for size in sorted(train)}


def conventional_rate(root):
    """(median training examples/s of the conventional runs in `root`, runs)."""
    rates = []
    for path in sorted(Path(root).glob("runs/ann-*/results.json")):
        results = json.loads(path.read_text())
        epochs = len(results["history"]["loss"])
        rates.append(epochs * _count(results["config"], "train") / results["train_seconds"])
    return (statistics.median(rates) if rates else float("nan")), len(rates)


def main():
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/book")
    print(f"finished spiking runs under {root}, epochs after the first:")
    print("n_hidden  train ex/s  eval ex/s  first-epoch extra s  runs")
    for size, (train, evaluation, startup, count) in measured(root).items():
        print(f"{size:>8} {train:>11.0f} {evaluation:>10.0f} {startup:>20.1f} {count:>5}")
    rate, count = conventional_rate(root)
    print(f"conventional autoencoder: {rate:.0f} training ex/s (median of {count} runs, "
          "evaluation and start-up included)")
    seconds = [json.loads(p.read_text())["train_seconds"] for p in Path(root).glob(
        "runs/*/results.json")]
    runs = [Run.from_dict(json.loads(p.read_text())) for p in Path(root).glob(
        "runs/*/results.json")]
    from spikelib.cost import wall_seconds
    print(f"{len(seconds)} runs took {sum(seconds) / 60:.0f} worker-minutes of training; "
          f"the cost model's bound for them on 2 workers: {wall_seconds(runs, 2) / 60:.0f} min")


if __name__ == "__main__":
    main()
