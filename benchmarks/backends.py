"""TensorFlow against JAX on this CPU: same rows, same initial weights, alternated.

For three tuned rows -- the README row MNIST (0, 1, 32), MNIST (0, 16, 8)
and Fashion-MNIST (0, 1, 32) -- each backend trains 2 epochs on the full
split (`fit`, no early stop) from the same initial weights (TensorFlow's,
saved by its first run), in a process of its own pinned to one core.  The
backends alternate, `--repeats` times each, so a slower minute of the
machine falls on both.  Per run: test MSE after each epoch, and the second
epoch's training and evaluation (validation + test) examples/s.  Writes
results/bench/backends.{csv,json}.

Usage: `python benchmarks/backends.py [--repeats 2] [--epochs 2] [--core 1]`.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROWS = (("mnist", 0.0, 1, 32), ("mnist", 0.0, 16, 8), ("fashion_mnist", 0.0, 1, 32))
BACKENDS = ("tensorflow", "jax")

_ONE_RUN = textwrap.dedent("""
    import json, sys
    import numpy as np
    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.config import paper_config
    from spikelib.experiment import prepare_data
    from spikelib.training import fit

    dataset, noise, latency, hidden, epochs, initial = sys.argv[1:]
    config = paper_config(float(noise), int(latency), int(hidden), dataset=dataset,
                          epochs=int(epochs))
    model = SpikingAutoencoder.from_run_config(config)
    try:
        weights = np.load(initial)
        for index, variable in enumerate(model.weights):
            variable.assign(weights[f"w{index}"])
    except FileNotFoundError:
        np.savez(initial, **{f"w{i}": v.numpy() for i, v in enumerate(model.weights)})
    data = prepare_data(config)
    history, _ = fit(model, config, data, progress=False)
    evaluated = len(data.validation_inputs) + len(data.test_inputs)
    last = history[-1]
    print(json.dumps(dict(test_mse=[record["test_mse"] for record in history],
                          train_per_second=last["train_examples_per_second"],
                          eval_per_second=evaluated / last["evaluation_seconds"])))
""")


def one_run(backend, row, epochs, initial, core):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
               TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1")
    command = ["taskset", "-c", str(core), sys.executable, "-c", _ONE_RUN,
               *map(str, row), str(epochs), str(initial)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{backend} {row} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--core", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for row in ROWS:
        initial = args.out / f"initial-{'-'.join(map(str, row))}.npz"
        initial.unlink(missing_ok=True)
        for repeat in range(1, args.repeats + 1):
            for backend in BACKENDS:
                result = one_run(backend, row, args.epochs, initial, args.core)
                rows.append(dict(row=f"{row[0]} ({row[1]:g}, {row[2]}, {row[3]})",
                                 backend=backend, repeat=repeat, **result))
                print(f"{rows[-1]['row']:<28} {backend:<11} run {repeat}: test MSE "
                      + " ".join(f"{value:.6f}" for value in result["test_mse"])
                      + f"  train {result['train_per_second']:7.0f} ex/s"
                      f"  eval {result['eval_per_second']:7.0f} ex/s", flush=True)
    (args.out / "backends.json").write_text(json.dumps(rows, indent=1))
    with open(args.out / "backends.csv", "w", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
