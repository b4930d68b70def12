"""Early-stopping rules replayed on recorded learning curves.

For every finished spiking run (shipped with the repository, or under a
results folder), each candidate rule (patience, relative gain) is replayed
on the run's validation curve (`spikelib.stopping.replay`, epochs on the
mean-image plateau not counted; "each_epoch" compares every epoch with the
best so far, "window" the last `patience` epochs with the best before them).  Where the rule stops the run before its
recorded curve ends, the *shortfall* is how far the best validation error
up to that stop lies above the best of the whole recorded curve: what
stopping there would have lost.  Runs whose curve ends before the rule
stops them say nothing about it and are counted apart.

Usage: `python benchmarks/stopping_rules.py [RUNS_FOLDER ...]`
(default: shipped/runs).
"""

import json
import statistics
import sys
from pathlib import Path

from spikelib.stopping import replay

RULES = ((2, 0.02, "each_epoch"), (2, 0.01, "each_epoch"), (3, 0.02, "each_epoch"),
         (3, 0.01, "each_epoch"), (4, 0.01, "each_epoch"), (5, 0.005, "each_epoch"),
         (3, 0.01, "window"), (5, 0.005, "window"))
PLATEAU = 0.9


def curves(folders):
    """[(key, validation curve, plateau error)] of the spiking runs under `folders`."""
    found = []
    for folder in folders:
        for path in sorted(Path(folder).glob("sae-*/results.json")):
            results = json.loads(path.read_text())
            validation = [record["validation_mse"] for record in results["history"]]
            found.append((results["key"], validation, PLATEAU * results["mean_image_mse"]))
    return found


def shortfalls(found, patience, min_delta, rule):
    """([(key, stop epoch, shortfall)] of the runs the rule stops, count it does not stop)."""
    stopped, open_ended = [], 0
    for key, validation, plateau in found:
        epoch = replay(validation, patience, min_delta, plateau, rule)
        if epoch is None or epoch == len(validation):
            open_ended += 1
            continue
        stopped.append((key, epoch, min(validation[:epoch]) / min(validation) - 1.0))
    return stopped, open_ended


def main(folders):
    found = curves(folders)
    print(f"{len(found)} recorded curves from {', '.join(map(str, folders))}")
    print("rule (patience, gain, judged) | stopped early | shortfall median | max | > 2 % | "
          "median stop epoch | curve ends first")
    for patience, min_delta, rule in RULES:
        stopped, open_ended = shortfalls(found, patience, min_delta, rule)
        if not stopped:
            print(f"{patience}, {min_delta:.1%}, {rule} | 0 | - | - | - | - | {open_ended}")
            continue
        losses = [loss for _, _, loss in stopped]
        print(f"{patience}, {min_delta:.1%}, {rule} | {len(stopped)} | {statistics.median(losses):.2%} | "
              f"{max(losses):.2%} | {sum(loss > 0.02 for loss in losses)} | "
              f"{statistics.median(epoch for _, epoch, _ in stopped):.0f} | {open_ended}")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]] or [Path("shipped/runs")])
