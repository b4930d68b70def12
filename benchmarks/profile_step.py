"""Where the time of a training step and of evaluation goes, op by op.

Runs the README row (MNIST, noise 0, latency 1, 32 hidden, batch 7) under
the TensorFlow profiler with XLA:CPU's per-op trace events on: one
compiled training epoch over TRAIN_EXAMPLES examples, then one evaluation
of EVAL_EXAMPLES test examples.  Prints, for each, the compiled ops (XLA
fusions, matrix products) that take the most time, with their share of
the compiled call, and writes the tables to results/bench/profile_*.csv.
The op names are XLA's; `--dump DIR` also writes the optimised HLO
(`XLA_FLAGS=--xla_dump_to`), where each name's shapes and fused
operations can be looked up.

Usage: `make profile` or `python benchmarks/profile_step.py [--top N] [--dump DIR]`.
"""

import argparse
import collections
import csv
import os
import sys
import tempfile
from pathlib import Path

TRAIN_EXAMPLES = 4096
EVAL_EXAMPLES = 10000
RESULTS = Path(__file__).resolve().parent.parent / "results" / "bench"


def _configure_xla(dump):
    """XLA flags must be set before TensorFlow starts."""
    flags = ["--xla_cpu_enable_xprof_traceme=true"]
    if dump:
        flags += [f"--xla_dump_to={dump}", "--xla_dump_hlo_as_text"]
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", "")] + flags).strip()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _op_times(run, top):
    """(compiled call ms, [(op, calls, ms)]) of one run of `run` under the profiler."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    run()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        run()
        tf.profiler.experimental.stop()
        path = sorted(Path(logdir).rglob("*.xplane.pb"))[-1]
        space = xplane_pb2.XSpace.FromString(path.read_bytes())
    millis, calls = collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                millis[name] += event.duration_ps / 1e9
                calls[name] += 1
    compiled = millis["CpuExecutable::ExecuteAsyncOnStream"]
    ops = [(name, calls[name], ms) for name, ms in millis.most_common()
           if _is_compiled_op(name)][:top]
    return compiled, ops


def _is_compiled_op(name):
    """XLA op names (fusions, dots, ...) rather than runtime or Python events."""
    runtime = ("Execute", "Thunk", "Eager", "TFE_", "BlockUntilReady", "inference", "Slinky",
               "while", "ThreadPool", "::")
    return not any(part in name for part in runtime) and not name.startswith("_")


def _report(title, compiled, ops, examples, path):
    print(f"\n{title}: compiled calls {compiled:.0f} ms for {examples} examples"
          f" ({examples / compiled * 1e3:.0f} ex/s)")
    print(f"{'op':<36} {'calls':>7} {'ms':>8} {'share':>7}")
    for name, count, ms in ops:
        print(f"{name:<36} {count:>7} {ms:>8.1f} {ms / compiled:>7.1%}")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["op", "calls", "ms", "share"])
        writer.writerows([name, count, round(ms, 2), round(ms / compiled, 4)] for name, count, ms in ops)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="ops to list")
    parser.add_argument("--dump", help="directory for the optimised HLO")
    args = parser.parse_args()
    _configure_xla(args.dump)

    import keras
    import numpy as np

    from spikelib.autoencoder import SpikingAutoencoder
    from spikelib.config import paper_config
    from spikelib.events import to_events
    from spikelib.experiment import prepare_data
    from spikelib.training import Trainer, evaluate

    config = paper_config(0.0, 1, 32, train_examples=TRAIN_EXAMPLES, validation_examples=1,
                          test_examples=EVAL_EXAMPLES)
    data = prepare_data(config)
    keras.utils.set_random_seed(config.seed)
    model = SpikingAutoencoder.from_run_config(config)
    trainer = Trainer(model, config)
    rng = np.random.default_rng(0)
    RESULTS.mkdir(parents=True, exist_ok=True)
    compiled, ops = _op_times(lambda: trainer.train_epoch(data.train_inputs, data.train_clean, rng),
                              args.top)
    _report(f"training, batch {config.optimizer.batch_size}", compiled, ops, TRAIN_EXAMPLES,
            RESULTS / "profile_training.csv")
    events = to_events(data.test_inputs)
    compiled, ops = _op_times(lambda: evaluate(model, events, data.test_clean, config.latency),
                              args.top)
    _report("evaluation", compiled, ops, EVAL_EXAMPLES, RESULTS / "profile_evaluation.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
