"""Training examples/s of N runs of one row in one compiled step (JAX), N = 1, 2, 4, 8.

The seeds of the README row (MNIST, noise 0, latency 1, 32 hidden, batch 7)
are trained together by `spikelib.training_many` on the first `--examples`
training images; each N is timed on its second epoch (the first compiles),
`--repeats` times, alternating the N.  Throughput counts every member's
examples.  A single run under TensorFlow (`--tensorflow`, its own process)
is the reference.

Usage: KERAS_BACKEND=jax python benchmarks/many_runs.py [--members 1 2 4 8]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def _setup(examples, seed=0):
    from spikelib.config import paper_config
    from spikelib.experiment import prepare_data
    config = paper_config(0.0, 1, 32, train_examples=examples, validation_examples=100,
                          test_examples=100, seed=seed)
    return config, prepare_data(config)


def many_rate(members, examples):
    """Examples/s of `members` seeds trained in one step (second epoch)."""
    import keras
    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.training import Trainer
    from spikelib.training_many import ManyTrainer, _train_epoch
    config, data = _setup(examples)
    trainers = []
    for seed in range(members):
        keras.utils.set_random_seed(seed)
        trainers.append(Trainer(SpikingAutoencoder.from_run_config(config), config))
    many = ManyTrainer(trainers)
    events = trainers[0]._events(data.train_inputs)
    rngs = [np.random.default_rng(seed) for seed in range(members)]
    active = [True] * members
    _train_epoch(many, events, data.train_clean, rngs, active)
    started = time.perf_counter()
    _train_epoch(many, events, data.train_clean, rngs, active)
    return members * examples / (time.perf_counter() - started)


def single_rate(examples):
    """Examples/s of one run by `Trainer` under this process's backend (second epoch)."""
    import keras
    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.training import Trainer
    config, data = _setup(examples)
    keras.utils.set_random_seed(0)
    trainer = Trainer(SpikingAutoencoder.from_run_config(config), config)
    rng = np.random.default_rng(0)
    trainer.train_epoch(data.train_inputs, data.train_clean, rng)
    started = time.perf_counter()
    trainer.train_epoch(data.train_inputs, data.train_clean, rng)
    return examples / (time.perf_counter() - started)


def _in_process(backend, arguments, examples):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, __file__, "--examples", str(examples),
                           "--one", *arguments], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--examples", type=int, default=2100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        from spikelib.runner import configure_threads
        configure_threads(1)
        kind, count = args.one[0], int(args.one[1])
        rate = single_rate(args.examples) if kind == "single" else many_rate(count, args.examples)
        print(json.dumps(dict(rate=rate)))
        return
    print(f"README row, {args.examples} training examples per member, second epoch, "
          "examples/s (all members together)")
    for repeat in range(1, args.repeats + 1):
        rate = lambda backend, *what: _in_process(backend, what, args.examples)["rate"]
        line = [f"run {repeat}:", f"TF single {rate('tensorflow', 'single', '1'):.0f}",
                f"JAX single {rate('jax', 'single', '1'):.0f}"]
        line += [f"JAX x{n} {rate('jax', 'many', str(n)):.0f}" for n in args.members]
        print("  ".join(line), flush=True)


if __name__ == "__main__":
    main()
