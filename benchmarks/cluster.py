"""Aggregate training throughput of the embedded Dask cluster, by layout.

Trains the same small plan (README-row runs, several seeds) on a fresh
LocalCluster of each layout, e.g. 1 worker x 2 threads against 2 workers x
1 thread, into temporary results folders, and prints training examples per
second of wall time (all runs together) and the time spent compiling.

    python benchmarks/cluster.py --runs 4 --examples 6000 --layouts 1x2 2x1
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from spikelib.config import paper_config  # noqa: E402
from spikelib.runner import run_plan  # noqa: E402
from spikelib.runs import Run  # noqa: E402


def plan(n_runs, examples, epochs):
    return [Run("sae", paper_config(0.0, 1, 32, epochs=epochs, train_examples=examples,
                                    validation_examples=1000, test_examples=1000, seed=seed))
            for seed in range(n_runs)]


def measure(runs, workers, threads):
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        summary = run_plan(runs, root, workers=workers, threads_per_worker=threads,
                           progress=False)
        wall = time.perf_counter() - started
    assert summary.ok, summary.report()
    examples = sum(run.training_examples() for run in runs)
    first_epochs = [r["history"][0]["train_seconds"] for r in summary.finished]
    later = [h["train_examples_per_second"] for r in summary.finished for h in r["history"][1:]]
    return dict(layout=f"{workers}x{threads}", wall_seconds=round(wall, 1),
                examples_per_second=round(examples / wall),
                first_epoch_seconds=round(sum(first_epochs) / len(first_epochs), 1),
                later_epoch_rate_per_run=round(sum(later) / len(later)) if later else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--examples", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--layouts", nargs="+", default=["1x2", "2x1"])
    args = parser.parse_args()
    runs = plan(args.runs, args.examples, args.epochs)
    for layout in args.layouts:
        workers, threads = (int(part) for part in layout.split("x"))
        print(measure(runs, workers, threads), flush=True)


if __name__ == "__main__":
    main()
