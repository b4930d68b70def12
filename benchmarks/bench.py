"""Training and evaluation speed of the spiking autoencoder vs a conventional one.

For four tuned rows (data set, noise, latency, n_hidden) -- the README
row MNIST (0, 1, 32), MNIST (0, 16, 8) and (0.8, 4, 8), Fashion-MNIST
(0, 1, 32), each with its own batch size from the paper grid -- this
measures, in one process on one core (`--threads`):

- SAE train ex/s: the second `Trainer.train_epoch` over TRAIN_EXAMPLES
  MNIST examples (the first one compiles: the compiled shapes depend on
  the data's largest number of non-silent inputs),
- SAE eval ex/s: the second `evaluate` over EVAL_EXAMPLES test examples,
  given as events (each example's inputs sorted once, as `fit` does for
  the validation and test sets); "sort ex/s" is that one-off sorting,
- ANN train / eval ex/s: the `ConventionalAutoencoder` of the same embedding
  size, Keras `fit` (XLA, same batch size and number of examples) and
  `predict` (batch 1000),

prints a table and writes it to results/bench/bench.{csv,json} with the
package versions.  It is a measurement, not a test: other jobs on the
machine move the numbers, so compare ratios within one run.

`--output-layer sorted` puts the output layer (42 inputs at most) on the
sorted, prefix-sum path instead of the dense masked product
(`spikelib.neuron.DENSE_LIMIT`): the two formulations side by side.

Usage: `make bench` or
`python benchmarks/bench.py [--train N] [--eval N] [--threads N] [--output-layer sorted]`.
"""

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from spikelib import neuron  # noqa: E402
from spikelib.autoencoder import SpikingAutoencoder  # noqa: E402
from spikelib.conventional import ConventionalParameters, new_conventional  # noqa: E402
from spikelib.config import paper_config  # noqa: E402
from spikelib.encoding import as_values  # noqa: E402
from spikelib.events import to_events  # noqa: E402
from spikelib.experiment import package_versions, prepare_data  # noqa: E402
from spikelib.runner import configure_threads  # noqa: E402
from spikelib.training import Trainer, evaluate  # noqa: E402

ROWS = (("mnist", 0.0, 1, 32), ("mnist", 0.0, 16, 8), ("mnist", 0.8, 4, 8),
        ("fashion_mnist", 0.0, 1, 32))
TRAIN_EXAMPLES = 4000
EVAL_EXAMPLES = 10000
WARMUP_EXAMPLES = 1000
RESULTS = Path(__file__).resolve().parent.parent / "results" / "bench"


def _rate(count, run):
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def spiking_rates(config, data, n_train, n_eval):
    """(train ex/s, eval ex/s) of the spiking autoencoder of `config`."""
    keras.utils.set_random_seed(config.seed)
    model = SpikingAutoencoder.from_run_config(config)
    trainer = Trainer(model, config)
    rng = np.random.default_rng(0)
    inputs, clean = data.train_inputs[:n_train], data.train_clean[:n_train]
    trainer.train_epoch(inputs, clean, rng)
    train = _rate(n_train, lambda: trainer.train_epoch(inputs, clean, rng))
    inputs, clean = data.test_inputs[:n_eval], data.test_clean[:n_eval]
    started = time.perf_counter()
    events = to_events(inputs)
    sort = n_eval / (time.perf_counter() - started)
    evaluate(model, events, clean, config.latency)
    evaluation = _rate(n_eval, lambda: evaluate(model, events, clean, config.latency))
    return train, evaluation, sort


def conventional_rates(config, data, n_train, n_eval):
    """(train ex/s, eval ex/s) of the conventional autoencoder, same size and batch."""
    keras.utils.set_random_seed(config.seed)
    parameters = ConventionalParameters()
    model = new_conventional(config.network.n_hidden, config.seed, parameters)
    model.compile(optimizer=keras.optimizers.Adam(parameters.learning_rate), loss="mse",
                  jit_compile=True)
    x, y = as_values(data.train_inputs), as_values(data.train_clean)
    warm, timed = slice(0, WARMUP_EXAMPLES), slice(WARMUP_EXAMPLES, WARMUP_EXAMPLES + n_train)
    fit = dict(batch_size=parameters.batch_size, epochs=1, shuffle=True, verbose=0)
    model.fit(x[warm], y[warm], **fit)
    train = _rate(n_train, lambda: model.fit(x[timed], y[timed], **fit))
    test = as_values(data.test_inputs[:n_eval])
    model.predict(test[:WARMUP_EXAMPLES], batch_size=1000, verbose=0)
    evaluation = _rate(n_eval, lambda: model.predict(test, batch_size=1000, verbose=0))
    return train, evaluation


def benchmark(n_train, n_eval):
    rows = []
    for dataset, noise, latency, n_hidden in ROWS:
        config = paper_config(noise, latency, n_hidden, dataset=dataset,
                              train_examples=WARMUP_EXAMPLES + n_train,
                              validation_examples=1, test_examples=n_eval)
        data = prepare_data(config)
        sae_train, sae_eval, sort = spiking_rates(config, data, n_train, n_eval)
        ann_train, ann_eval = conventional_rates(config, data, n_train, n_eval)
        name = "F-MNIST" if dataset == "fashion_mnist" else "MNIST"
        rows.append(dict(row=f"{name} ({noise:g}, {latency}, {n_hidden})",
                         batch=config.optimizer.batch_size,
                         sae_train=sae_train, sae_eval=sae_eval, sort=sort,
                         ann_train=ann_train, ann_eval=ann_eval,
                         train_ratio=sae_train / ann_train, eval_ratio=sae_eval / ann_eval))
        _print_row(rows[-1])
    return rows


HEADER = ("row (noise, L, hidden)    ", "batch", "SAE train ex/s", "SAE eval ex/s", "sort ex/s",
          "ANN train ex/s", "ANN eval ex/s", "SAE/ANN train", "SAE/ANN eval")


def _print_row(row):
    print(f"{row['row']:<26} {row['batch']:>5} {row['sae_train']:>14.0f} {row['sae_eval']:>13.0f}"
          f" {row['sort']:>9.0f}"
          f" {row['ann_train']:>14.0f} {row['ann_eval']:>13.0f}"
          f" {row['train_ratio']:>13.3f} {row['eval_ratio']:>12.3f}", flush=True)


def write(rows, n_train, n_eval):
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "bench.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    meta = dict(rows=rows, train_examples=n_train, eval_examples=n_eval,
                cpu_count=os.cpu_count(), machine=platform.machine(),
                versions=package_versions(),
                date=time.strftime("%Y-%m-%d %H:%M:%S"))
    (RESULTS / "bench.json").write_text(json.dumps(meta, indent=2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=TRAIN_EXAMPLES, help="timed training examples")
    parser.add_argument("--eval", type=int, default=EVAL_EXAMPLES, help="timed evaluation examples")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads (per core: 1)")
    parser.add_argument("--output-layer", choices=("dense", "sorted"), default="dense",
                        help="formulation of the output layer's spike times (default dense)")
    args = parser.parse_args()
    configure_threads(args.threads)
    if args.output_layer == "sorted":
        neuron.DENSE_LIMIT = 0
    print(f"output layer: {args.output_layer}", flush=True)
    print("  ".join(HEADER), flush=True)
    rows = benchmark(args.train, args.eval)
    write(rows, args.train, args.eval)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
