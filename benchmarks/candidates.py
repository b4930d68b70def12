"""How much of the spiking neurons' candidate work an early exit could save.

`spikelib.neuron.spike_times` tests every candidate interval (each input,
in time order) of every (example, neuron), up to the padded width, with no
early exit; the accepted candidate is the last input that arrived before
the neuron fired.  Whether stopping early is worth building depends on
where that candidate lies, which this measures from the outside (the
layers' input and spike times, not neuron.py's internals).

For the README row (0, 1, 32) and (0, 16, 8) on MNIST: trains the model
for one epoch on TRAIN_EXAMPLES examples, then on TEST_EXAMPLES test
examples, per layer (hidden: events + pulses, width = the largest count of
non-silent inputs rounded up to 16, plus the pulses; output: the hidden
spike times + pulses, dense):

- position of a firing (example, neuron): the number of the layer's inputs
  with time <= its spike time (1-based; +inf inputs never count), as a
  histogram in 10 % bins of position / padded width ("of W") and of
  position / the example's non-silent inputs ("of n");
- silent: the share of (example, neuron) that never fire; an exact early
  exit needs all of the example's non-silent inputs for them;
- skip: the share of today's candidate tests an ideal early exit skips,
  (a) "pair": per (example, neuron), (b) "batch": per batch of the row's
  training batch size, stopping after the block of BLOCK candidates that
  holds the batch's largest needed position; "trim" is (b) with every
  pair needing all non-silent inputs (only the padding dropped per batch).

Prints a table and writes results/bench/candidates.csv.  A measurement,
not a test.

Usage: `make candidates` or `python benchmarks/candidates.py [--train N] [--test N]`.
"""

import argparse
import csv
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from spikelib.autoencoder import SpikingAutoencoder  # noqa: E402
from spikelib.config import paper_config  # noqa: E402
from spikelib.events import event_width, to_events  # noqa: E402
from spikelib.experiment import prepare_data  # noqa: E402
from spikelib.training import Trainer, spike_times_of  # noqa: E402

ROWS = ((0.0, 1, 32), (0.0, 16, 8))
TRAIN_EXAMPLES = 20000
TEST_EXAMPLES = 2000
BLOCK = 16
BINS = np.linspace(0.0, 1.0, 11)
RESULTS = Path(__file__).resolve().parent.parent / "results" / "bench"


def trained_model(config, data):
    """The model of `config` after one epoch on the training data."""
    keras.utils.set_random_seed(config.seed)
    model = SpikingAutoencoder.from_run_config(config)
    Trainer(model, config).train_epoch(data.train_inputs, data.train_clean,
                                       np.random.default_rng(0))
    return model


def _with_pulses(times, layer):
    pulses = layer.pulse_times.numpy().astype(times.dtype)
    return np.concatenate([times, np.broadcast_to(pulses, (len(times), len(pulses)))], axis=1)


def layers(model, data):
    """[(name, inputs (n, m), spike times (n, units), padded width)] of both layers."""
    counts = [np.isfinite(x).sum(axis=1) for x in (data.train_inputs, data.test_inputs)]
    width = event_width(np.concatenate(counts))
    events = to_events(data.test_inputs, width)
    hidden, output = spike_times_of(model, events)
    hidden_inputs = _with_pulses(events.times, model.hidden)
    output_inputs = _with_pulses(hidden.astype(events.times.dtype), model.reconstruction)
    return [("hidden", hidden_inputs, hidden, hidden_inputs.shape[1]),
            ("output", output_inputs, output, output_inputs.shape[1])]


def positions(inputs, spikes):
    """(position (n, units): inputs with time <= the spike time, non-silent inputs (n,))."""
    ordered = np.sort(inputs, axis=1)
    position = np.stack([np.searchsorted(row, s, side="right")
                         for row, s in zip(ordered, spikes)])
    nonsilent = np.isfinite(inputs).sum(axis=1)
    return np.minimum(position, nonsilent[:, None]), nonsilent


def _batch_skip(needed, width, batch):
    """Skipped share when each full batch stops after the block of its largest need."""
    n_batches = len(needed) // batch
    largest = needed[:n_batches * batch].reshape(n_batches, -1).max(axis=1)
    blocks = np.minimum(-(-largest // BLOCK) * BLOCK, width)
    return 1.0 - blocks.sum() / (n_batches * width)


def summary(inputs, spikes, width, batch):
    position, nonsilent = positions(inputs, spikes)
    fired = np.isfinite(spikes)
    all_inputs = np.broadcast_to(nonsilent[:, None], position.shape)
    needed = np.where(fired, position, all_inputs)
    of_width = np.histogram(position[fired] / width, BINS)[0] / max(fired.sum(), 1)
    of_nonsilent = np.histogram((position / all_inputs)[fired], BINS)[0] / max(fired.sum(), 1)
    return dict(width=width, mean_nonsilent=nonsilent.mean(),
                mean_position=position[fired].mean() if fired.any() else np.nan,
                silent=1.0 - fired.mean(),
                skip_pair=1.0 - needed.sum() / (needed.size * width),
                skip_batch=_batch_skip(needed, width, batch),
                skip_trim=_batch_skip(all_inputs, width, batch),
                of_width=of_width, of_nonsilent=of_nonsilent)


def measure(n_train, n_test):
    rows = []
    for noise, latency, n_hidden in ROWS:
        config = paper_config(noise, latency, n_hidden, train_examples=n_train,
                              validation_examples=1, test_examples=n_test)
        data = prepare_data(config)
        model = trained_model(config, data)
        batch = config.optimizer.batch_size
        for name, inputs, spikes, width in layers(model, data):
            rows.append(dict(row=f"({noise:g}, {latency}, {n_hidden})", batch=batch, layer=name,
                             **summary(inputs, spikes, width, batch)))
            _print_row(rows[-1])
    return rows


def _percent(shares):
    return " ".join(f"{100 * s:3.0f}" for s in shares)


HEADER = (f"{'row':<12} {'batch':>5} {'layer':<6} {'W':>4} {'n':>6} {'pos':>6} {'silent':>6}"
          f" {'pair':>5} {'batch':>5} {'trim':>5}  {'% of fired, pos/W in 10 % bins':<40}"
          f"  % of fired, pos/n in 10 % bins")


def _print_row(row):
    print(f"{row['row']:<12} {row['batch']:>5} {row['layer']:<6} {row['width']:>4}"
          f" {row['mean_nonsilent']:>6.1f} {row['mean_position']:>6.1f} {row['silent']:>6.1%}"
          f" {row['skip_pair']:>5.0%} {row['skip_batch']:>5.0%} {row['skip_trim']:>5.0%}"
          f"  {_percent(row['of_width']):<40}  {_percent(row['of_nonsilent'])}", flush=True)


def write(rows):
    RESULTS.mkdir(parents=True, exist_ok=True)
    flat = [{**{k: v for k, v in row.items() if not k.startswith("of_")},
             **{f"of_width_{10 * i}": s for i, s in enumerate(row["of_width"])},
             **{f"of_nonsilent_{10 * i}": s for i, s in enumerate(row["of_nonsilent"])}}
            for row in rows]
    flat = [{k: round(float(v), 5) if isinstance(v, float) else v for k, v in row.items()}
            for row in flat]
    with open(RESULTS / "candidates.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=TRAIN_EXAMPLES, help="training examples")
    parser.add_argument("--test", type=int, default=TEST_EXAMPLES, help="measured test examples")
    args = parser.parse_args()
    started = time.perf_counter()
    print("W: candidates per (example, neuron) today; n, pos: mean non-silent inputs and"
          " mean position of the fired; pair, batch, trim: skippable share of W")
    print(HEADER, flush=True)
    write(measure(args.train, args.test))
    print(f"written to {RESULTS / 'candidates.csv'} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
