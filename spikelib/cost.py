"""What a plan of runs costs: training examples, and wall time from measured throughput.

Throughput is per single-threaded worker (one core), measured on the
project's 2-core machine with both cores training; it
depends mostly on the embedding size (the hidden layer's inputs are the
784 pixels, the output layer's the hidden spikes) and, for small batches,
on the batch size.  Early stopping can only make a run shorter, so the
estimate is an upper bound.
"""

import heapq

from spikelib.runs import Run

# Training and evaluation examples per second of one single-threaded worker
# while every core of the machine is busy, by embedding size, at the tuned
# batch sizes: medians over the epochs after the first of the 27 spiking runs
# of the `book` plan on the 2-core machine, two workers
# (`benchmarks/cost_rates.py`); 64 hidden neurons: half the rate of 32.
TRAIN_RATE = {8: 8150.0, 16: 4450.0, 32: 3150.0, 64: 1600.0}
EVALUATION_RATE = {8: 14800.0, 16: 7950.0, 32: 6350.0, 64: 3200.0}
# The conventional autoencoder trains far faster (a dense 784-n-784 network):
# the median of the book's 12 runs, evaluation and start-up included.
ANN_TRAIN_RATE = 23500.0
# Seconds a run spends before training at the rates above: process start-up,
# data, compiling (the first epoch took 6-7 s longer than the next).
STARTUP_SECONDS = 12.0


def _rate(table, n_hidden):
    sizes = sorted(table)
    size = next((s for s in sizes if s >= n_hidden), sizes[-1])
    return table[size] * size / max(n_hidden, size) if n_hidden > sizes[-1] else table[size]


def run_seconds(run: Run, share=1.0):
    """Upper bound on one run's seconds on one single-threaded worker; with `share`
    < 1, a spiking run that trains that share of its epoch cap."""
    epochs = run.config.budget.epochs
    if run.kind == "ann":
        return STARTUP_SECONDS + run.training_examples() / ANN_TRAIN_RATE
    n_hidden = run.config.network.n_hidden
    evaluation = run.examples("validation") + run.examples("test")
    return STARTUP_SECONDS + share * (run.training_examples() / _rate(TRAIN_RATE, n_hidden)
                                      + epochs * evaluation / _rate(EVALUATION_RATE, n_hidden))


def wall_seconds(runs, workers, share=1.0):
    """Makespan of `runs` on `workers` single-threaded workers, longest run first
    (`share`: as in `run_seconds`)."""
    finish = [0.0] * max(1, workers)
    for seconds in sorted((run_seconds(run, share) for run in runs), reverse=True):
        heapq.heappush(finish, heapq.heappop(finish) + seconds)
    return max(finish)


def epoch_share(finished):
    """Mean share of its epoch cap that each finished spiking run trained, from
    [(run, results dict)]: how much early stopping shortens such a plan (None if
    none has finished)."""
    shares = [results["epochs_run"] / run.config.budget.epochs
              for run, results in finished if run.kind == "sae"]
    return sum(shares) / len(shares) if shares else None


def duration(seconds):
    """Seconds as h:mm:ss (or d days h:mm:ss)."""
    seconds = int(round(seconds))
    days, seconds = divmod(seconds, 86400)
    text = f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{days} d {text}" if days else text
